/**
 * Client side of the usbmuxd protocol, pure (no I/O): encodes requests, decodes replies and events.
 * Replies are decoded one at a time ({@link UsbmuxReplyDecoder.next}); after a Connect `Result 0`
 * the caller stops and takes the remaining bytes with `drain()` — they belong to the device.
 */
import { ProtocolError, IDeviceError } from '../core/errors.ts';
import { encodeXmlPlist, parsePlist } from '../plist/index.ts';
import { isPlistDict, type PlistDict } from '../plist/types.ts';
import { decodeDeviceAddPayload, deviceFromProperties, type UsbmuxDevice } from './device.ts';
import { UsbmuxMessageDecoder, type FrameDecoderOptions, type UsbmuxFrame } from './frame.ts';
import { encodePortNumber } from './port.ts';
import { MessageType, ProtocolVersion, encodeHeader } from './protocol.ts';

/** A decoded message from the daemon. Plist-derived replies keep the raw dict in `plist`. */
export type UsbmuxReply = {
  tag: number;
  /** Header version: 0 binary, 1 plist. */
  version: number;
  plist?: PlistDict;
} & (
  | { kind: 'result'; result: number }
  | { kind: 'attached'; device: UsbmuxDevice }
  | { kind: 'detached'; deviceId: number }
  | { kind: 'paired'; deviceId: number }
  /** A dict without MessageType (DeviceList, BUID, PairRecordData, ListenerList): route by tag. */
  | { kind: 'plist'; plist: PlistDict }
);

/** Limits for plist bodies. */
const PLIST_LIMITS = { maxObjects: 100_000, maxDepth: 32 };

/**
 * Parses a plist body into a dict.
 * @throws ProtocolError (ERR_PROTOCOL) when the body is not a plist or not a dict (the plist error is the cause).
 */
export function parsePlistBody(body: Buffer, offset?: number): PlistDict {
  let v;
  try {
    v = parsePlist(body, { maxBytes: body.length, ...PLIST_LIMITS });
  } catch (e) {
    if (e instanceof IDeviceError || e instanceof Error) throw new ProtocolError('usbmux', 'message body is not a valid plist', offset, { cause: e });
    throw e;
  }
  if (!isPlistDict(v)) throw new ProtocolError('usbmux', 'plist message body is not a dictionary', offset);
  return v;
}

function intField(d: PlistDict, key: string, offset: number): number {
  const v = d[key];
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new ProtocolError('usbmux', `${key} missing or not an integer`, offset);
  return n;
}

function u32(payload: Buffer, what: string, offset: number): number {
  if (payload.length !== 4) throw new ProtocolError('usbmux', `${what} payload is ${payload.length} bytes, expected 4`, offset);
  return payload.readUInt32LE(0);
}

/**
 * Decodes one frame sent by the daemon.
 * @throws ProtocolError (ERR_PROTOCOL) for bad payload sizes, unparsable plists, unexpected message types or MessageTypes.
 */
export function decodeReply(frame: UsbmuxFrame): UsbmuxReply {
  const { header: h, payload, offset } = frame;
  const base = { tag: h.tag, version: h.version };
  switch (h.message) {
    case MessageType.Result:
      return { ...base, kind: 'result', result: u32(payload, 'RESULT', offset) };
    case MessageType.DeviceAdd:
      return { ...base, kind: 'attached', device: decodeDeviceAddPayload(payload) };
    case MessageType.DeviceRemove:
      return { ...base, kind: 'detached', deviceId: u32(payload, 'DEVICE_REMOVE', offset) };
    case MessageType.DevicePaired:
      return { ...base, kind: 'paired', deviceId: u32(payload, 'DEVICE_PAIRED', offset) };
    case MessageType.Plist:
      return decodePlistReply(base, parsePlistBody(payload, offset), offset);
    default:
      throw new ProtocolError('usbmux', `unexpected message type ${h.message} from the daemon`, offset);
  }
}

function decodePlistReply(base: { tag: number; version: number }, d: PlistDict, offset: number): UsbmuxReply {
  const mt = d.MessageType;
  if (mt === undefined) return { ...base, kind: 'plist', plist: d };
  switch (mt) {
    case 'Result':
      return { ...base, plist: d, kind: 'result', result: intField(d, 'Number', offset) };
    case 'Attached': {
      const props = d.Properties;
      if (!isPlistDict(props)) throw new ProtocolError('usbmux', 'Attached without a Properties dict', offset);
      return { ...base, plist: d, kind: 'attached', device: deviceFromProperties(intField(d, 'DeviceID', offset), props) };
    }
    case 'Detached':
      return { ...base, plist: d, kind: 'detached', deviceId: intField(d, 'DeviceID', offset) };
    case 'Paired':
      return { ...base, plist: d, kind: 'paired', deviceId: intField(d, 'DeviceID', offset) };
    default:
      throw new ProtocolError('usbmux', `unexpected MessageType ${JSON.stringify(typeof mt === 'string' ? mt : String(mt))} from the daemon`, offset);
  }
}

/**
 * Incremental reply decoder: push socket chunks, pull replies (header versions other than 0/1 throw).
 * @throws see UsbmuxFrameDecoder.next (frame.ts) and {@link decodeReply}.
 */
export class UsbmuxReplyDecoder extends UsbmuxMessageDecoder<UsbmuxReply> {
  constructor(opts: FrameDecoderOptions = {}) {
    super(decodeReply, { strictVersion: true, ...opts });
  }
}

/** Identity keys libusbmuxd-style clients add to each plist request. */
export function clientIdentity(progName = 'iosdevice'): PlistDict {
  return { ClientVersionString: 'iosdevice-usbmux 1', ProgName: progName, kLibUSBMuxVersion: 3 };
}

/** Encodes a plist message (v1 header, message 8, XML body), in either direction: `[header, body]`. */
export function encodePlistMessage(tag: number, body: PlistDict): Buffer[] {
  const xml = encodeXmlPlist(body);
  return [encodeHeader(xml.length, ProtocolVersion.Plist, MessageType.Plist, tag), xml];
}

/** Encodes a plist (v1) request: `[header, XML body]`. */
export const encodePlistRequest = encodePlistMessage;

/** Encodes a v1 Connect request (PortNumber byte-swapped). @throws InvalidArgumentError (ERR_INVALID_ARG) for a bad port. */
export function encodeConnectRequest(tag: number, deviceId: number, port: number, identity: PlistDict = clientIdentity()): Buffer[] {
  return encodePlistRequest(tag, { ...identity, MessageType: 'Connect', DeviceID: deviceId, PortNumber: encodePortNumber(port) });
}

/** Encodes a binary (v0) CONNECT: u32 device id | u16 port in network order | u16 0. @throws ERR_INVALID_ARG for a bad port. */
export function encodeBinaryConnect(tag: number, deviceId: number, port: number): Buffer {
  encodePortNumber(port);
  const b = Buffer.alloc(24);
  encodeHeader(8, ProtocolVersion.Binary, MessageType.Connect, tag).copy(b, 0);
  b.writeUInt32LE(deviceId >>> 0, 16);
  b.writeUInt16BE(port, 20);
  return b;
}

/** Encodes a binary (v0) LISTEN (header only). */
export function encodeBinaryListen(tag: number): Buffer {
  return encodeHeader(0, ProtocolVersion.Binary, MessageType.Listen, tag);
}
