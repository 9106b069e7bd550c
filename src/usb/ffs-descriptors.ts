/**
 * Pure builders of Linux FunctionFS descriptor and string blobs (v2 format; include/uapi/linux/usb/functionfs.h), for
 * the functions of an iPhone-like gadget: PTP (06/01/01: bulk IN, bulk OUT, interrupt IN) and the usbmux interface
 * (FF/FE/02: bulk OUT listed first, then bulk IN, like a real iPhone). Endpoint numbers written here are renumbered by
 * the kernel; hosts must read them from the descriptors.
 */

export const FUNCTIONFS_DESCRIPTORS_MAGIC_V2 = 3;
export const FUNCTIONFS_STRINGS_MAGIC = 2;
const HAS_FS_DESC = 1;
const HAS_HS_DESC = 2;

/** ep0 event types (struct usb_functionfs_event.type). */
export const FfsEvent = { Bind: 0, Unbind: 1, Enable: 2, Disable: 3, Setup: 4, Suspend: 5, Resume: 6 } as const;
/** Size of one struct usb_functionfs_event. */
export const FFS_EVENT_SIZE = 12;

export type FfsFunctionKind = 'ptp' | 'usbmux';

function iface(cls: number, sub: number, proto: number, nEps: number): Buffer {
  // bLength, bDescriptorType INTERFACE, bInterfaceNumber (renumbered), bAlternateSetting, bNumEndpoints, class,
  // subclass, protocol, iInterface (string 1 of this function)
  return Buffer.from([9, 4, 0, 0, nEps, cls, sub, proto, 1]);
}

function endpoint(addr: number, attributes: number, maxPacket: number, interval = 0): Buffer {
  const b = Buffer.from([7, 5, addr, attributes, 0, 0, interval]);
  b.writeUInt16LE(maxPacket, 4);
  return b;
}

function speedSet(kind: FfsFunctionKind, bulkMps: number): Buffer[] {
  if (kind === 'usbmux') return [iface(0xff, 0xfe, 0x02, 2), endpoint(0x01, 2, bulkMps), endpoint(0x82, 2, bulkMps)];
  return [iface(0x06, 0x01, 0x01, 3), endpoint(0x81, 2, bulkMps), endpoint(0x02, 2, bulkMps), endpoint(0x83, 3, 64, 8)];
}

/** The descriptor blob to write to ep0 (full speed mps 64, high speed mps 512). Must be written in one write(). */
export function ffsDescriptors(kind: FfsFunctionKind): Buffer {
  const fs = speedSet(kind, 64);
  const hs = speedSet(kind, 512);
  const head = Buffer.alloc(20);
  const body = Buffer.concat([...fs, ...hs]);
  head.writeUInt32LE(FUNCTIONFS_DESCRIPTORS_MAGIC_V2, 0);
  head.writeUInt32LE(20 + body.length, 4);
  head.writeUInt32LE(HAS_FS_DESC | HAS_HS_DESC, 8);
  head.writeUInt32LE(fs.length, 12);
  head.writeUInt32LE(hs.length, 16);
  return Buffer.concat([head, body]);
}

/** The string blob (one string, en-US): the interface name. Must be written in one write(). */
export function ffsStrings(kind: FfsFunctionKind): Buffer {
  const s = Buffer.from(`${kind === 'usbmux' ? 'Apple USB Multiplexor' : 'PTP'}\0`, 'utf8');
  const b = Buffer.alloc(16 + 2 + s.length);
  b.writeUInt32LE(FUNCTIONFS_STRINGS_MAGIC, 0);
  b.writeUInt32LE(b.length, 4);
  b.writeUInt32LE(1, 8); // str_count
  b.writeUInt32LE(1, 12); // lang_count
  b.writeUInt16LE(0x0409, 16);
  s.copy(b, 18);
  return b;
}

/** File names of the function's endpoints in descriptor order (ep1 … epN). */
export function ffsEndpointFiles(kind: FfsFunctionKind): { in: string; out: string } {
  return kind === 'usbmux' ? { out: 'ep1', in: 'ep2' } : { in: 'ep1', out: 'ep2' };
}

export interface FfsEventRecord {
  type: number;
  /** For SETUP: the 8-byte control request fields. */
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
}

/** Decodes the events in a read from ep0 (a multiple of 12 bytes; a trailing partial record is ignored). */
export function decodeFfsEvents(buf: Buffer): FfsEventRecord[] {
  const out: FfsEventRecord[] = [];
  for (let off = 0; off + FFS_EVENT_SIZE <= buf.length; off += FFS_EVENT_SIZE) {
    out.push({
      bmRequestType: buf[off]!,
      bRequest: buf[off + 1]!,
      wValue: buf.readUInt16LE(off + 2),
      wIndex: buf.readUInt16LE(off + 4),
      wLength: buf.readUInt16LE(off + 6),
      type: buf[off + 8]!,
    });
  }
  return out;
}
