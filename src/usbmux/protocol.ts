/**
 * usbmuxd socket protocol: constants and the 16-byte header (../shared/docs/protocol.md §1).
 *
 * ```
 * Header (16 bytes, little-endian)              Apple/libusbmuxd name
 *   0  u32 length   whole message incl. header  usbmuxd_header.length
 *   4  u32 version  0 = binary, 1 = plist       usbmuxd_header.version
 *   8  u32 message  MessageType below           usbmuxd_header.message
 *  12  u32 tag      reply echoes the request;   usbmuxd_header.tag
 *                   unsolicited events use 0
 *
 * Binary (v0) payloads after the header:
 *   RESULT         u32 code
 *   CONNECT        u32 device_id | u16 port (network order) | u16 reserved = 0
 *   LISTEN         (none)
 *   DEVICE_ADD     268 bytes, packed: u32 device_id | u16 product_id | char serial[256] | u16 pad | u32 location
 *   DEVICE_REMOVE  u32 device_id
 *   DEVICE_PAIRED  u32 device_id
 * Plist (message 8) payload: an XML plist dict with a string MessageType (requests, results, events);
 *   DeviceList / BUID / PairRecordData / ListenerList replies carry no MessageType: route by tag.
 * ```
 */
import { ProtocolError } from '../core/errors.ts';

/** Size of the usbmuxd header in bytes. */
export const HEADER_SIZE = 16;

/** Default cap for one message (header included), bytes. A pair record is ~10 KiB, a device list a few KiB. */
export const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024;

/** Header `version` field. */
export const ProtocolVersion = {
  Binary: 0, // usbmuxd v0: fixed binary structs
  Plist: 1, // usbmuxd v1: message 8 with a plist body
} as const;

/** Header `message` field. */
export const MessageType = {
  Result: 1, // MESSAGE_RESULT
  Connect: 2, // MESSAGE_CONNECT
  Listen: 3, // MESSAGE_LISTEN
  DeviceAdd: 4, // MESSAGE_DEVICE_ADD
  DeviceRemove: 5, // MESSAGE_DEVICE_REMOVE
  DevicePaired: 6, // MESSAGE_DEVICE_PAIRED
  Plist: 8, // MESSAGE_PLIST
} as const;

/** `Result` numbers. Save/DeletePairRecord may also answer an errno (usbmuxd 1.1.1: 22 = EINVAL for garbage data). */
export const ResultCode = {
  OK: 0, // RESULT_OK
  BadCommand: 1, // RESULT_BADCOMMAND
  BadDevice: 2, // RESULT_BADDEV
  ConnRefused: 3, // RESULT_CONNREFUSED
  NoSuchService: 4, // listed by pymobiledevice3, never seen
  BadVersion: 6, // RESULT_BADVERSION
  Invalid: 22, // EINVAL from Save/DeletePairRecord
} as const;

/** Size of the binary DEVICE_ADD payload. */
export const DEVICE_ADD_PAYLOAD = 268;
/** Size of the serial field inside DEVICE_ADD. */
export const DEVICE_ADD_SERIAL = 256;

/** A decoded header. */
export interface UsbmuxHeader {
  length: number;
  version: number;
  message: number;
  tag: number;
}

/** Encodes a header for a message with `payloadLength` bytes after it. */
export function encodeHeader(payloadLength: number, version: number, message: number, tag: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE);
  b.writeUInt32LE(HEADER_SIZE + payloadLength, 0);
  b.writeUInt32LE(version >>> 0, 4);
  b.writeUInt32LE(message >>> 0, 8);
  b.writeUInt32LE(tag >>> 0, 12);
  return b;
}

/**
 * Decodes the 16 header bytes at `buf[0..16)`.
 * @throws ProtocolError (ERR_PROTOCOL) when fewer than 16 bytes are given.
 */
export function decodeHeader(buf: Buffer): UsbmuxHeader {
  if (buf.length < HEADER_SIZE) throw new ProtocolError('usbmux', `short header: ${buf.length} of ${HEADER_SIZE} bytes`);
  return { length: buf.readUInt32LE(0), version: buf.readUInt32LE(4), message: buf.readUInt32LE(8), tag: buf.readUInt32LE(12) };
}
