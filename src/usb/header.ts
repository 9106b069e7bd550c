/**
 * Pure codec of the device-side USB mux header and its non-TCP payloads (no I/O).
 *
 * ```
 * v1 (8 bytes, BE):   0 u32 protocol | 4 u32 length (whole packet incl. this header)
 * v2 (16 bytes, BE):  0 u32 protocol | 4 u32 length | 8 u32 magic 0xFEEDFACE | 12 u16 tx_seq | 14 u16 rx_seq
 * protocol: 0 VERSION  1 CONTROL  2 SETUP  6 TCP          (usbmuxd device.c: MUX_PROTO_*)
 * VERSION payload: u32 major | u32 minor | u32 padding    (always sent in a v1 header: the version is not known yet)
 * SETUP payload:   u8 0x07                                 (v2 only; host sends tx_seq 0, rx_seq 0xFFFF)
 * CONTROL payload: u8 type (3 error, 5 warning, 7 info) | text
 * ```
 * Lengths are checked against {@link MAX_MUX_PACKET}: the device refuses ≥ 65536, so a host never sends that much and a
 * length above it from the device is hostile.
 */
import { ProtocolError, TooLargeError } from '../core/errors.ts';

/** Mux protocol numbers. */
export const MuxProtocol = {
  Version: 0, // MUX_PROTO_VERSION
  Control: 1, // MUX_PROTO_CONTROL
  Setup: 2, // MUX_PROTO_SETUP
  Tcp: 6, // MUX_PROTO_TCP
} as const;

export const MUX_MAGIC = 0xfeedface;
export const MUX_HEADER_V1 = 8;
export const MUX_HEADER_V2 = 16;
/** Largest mux packet we accept or reassemble, bytes (the device's own limit is 65535). */
export const MAX_MUX_PACKET = 65535;
/** Largest OUT transfer (one mux packet) the host sends, bytes: 3 × 16 KiB like usbmuxd. */
export const MAX_OUT_TRANSFER = 49152;
/** The 1-byte SETUP payload usbmuxd sends. */
export const SETUP_PAYLOAD = 0x07;

/** Mux header version in effect: 1 → 8-byte headers, 2 → 16-byte headers with magic and sequence numbers. */
export type MuxVersion = 1 | 2;

export interface MuxHeader {
  protocol: number;
  /** Whole packet length in bytes, header included. */
  length: number;
  /** v2 only. */
  txSeq: number;
  /** v2 only. */
  rxSeq: number;
}

/** Header size in bytes for a mux version. */
export function muxHeaderSize(version: MuxVersion): number {
  return version === 2 ? MUX_HEADER_V2 : MUX_HEADER_V1;
}

/**
 * Writes a mux header for a packet of `length` bytes (header included) into `out` at `offset`.
 * @throws ERR_INVALID_ARG never on valid input; the caller guarantees length ≤ MAX_MUX_PACKET.
 */
export function writeMuxHeader(out: Buffer, offset: number, version: MuxVersion, h: MuxHeader): void {
  out.writeUInt32BE(h.protocol >>> 0, offset);
  out.writeUInt32BE(h.length >>> 0, offset + 4);
  if (version === 2) {
    out.writeUInt32BE(MUX_MAGIC, offset + 8);
    out.writeUInt16BE(h.txSeq & 0xffff, offset + 12);
    out.writeUInt16BE(h.rxSeq & 0xffff, offset + 14);
  }
}

/**
 * Decodes the mux header at the start of `buf` (which must hold at least the header size).
 * @throws ERR_PROTOCOL when the buffer is shorter than the header, the v2 magic is wrong, or the length is shorter than
 *   the header; ERR_PROTOCOL_TOO_LARGE when the length exceeds `cap` (default {@link MAX_MUX_PACKET}).
 */
export function decodeMuxHeader(buf: Buffer, version: MuxVersion, cap = MAX_MUX_PACKET): MuxHeader {
  const size = muxHeaderSize(version);
  if (buf.length < size) throw new ProtocolError('usb', `mux header needs ${size} bytes, got ${buf.length}`, 0);
  const protocol = buf.readUInt32BE(0);
  const length = buf.readUInt32BE(4);
  let txSeq = 0;
  let rxSeq = 0;
  if (version === 2) {
    const magic = buf.readUInt32BE(8);
    if (magic !== MUX_MAGIC) throw new ProtocolError('usb', `bad mux magic 0x${magic.toString(16)}`, 8);
    txSeq = buf.readUInt16BE(12);
    rxSeq = buf.readUInt16BE(14);
  }
  if (length < size) throw new ProtocolError('usb', `mux length ${length} shorter than its ${size}-byte header`, 4);
  if (length > cap) throw new TooLargeError('usb', length, cap);
  return { protocol, length, txSeq, rxSeq };
}

/** VERSION payload (12 bytes): major, minor, padding. */
export function encodeVersionPayload(major: number, minor: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(major >>> 0, 0);
  b.writeUInt32BE(minor >>> 0, 4);
  return b;
}

/**
 * Decodes a VERSION payload.
 * @throws ERR_PROTOCOL when shorter than 8 bytes.
 */
export function decodeVersionPayload(payload: Buffer): { major: number; minor: number } {
  if (payload.length < 8) throw new ProtocolError('usb', `VERSION payload of ${payload.length} bytes`, 0);
  return { major: payload.readUInt32BE(0), minor: payload.readUInt32BE(4) };
}

/** CONTROL message types sent by the device. */
export const ControlType = { Error: 3, Warning: 5, Info: 7 } as const;

export interface ControlMessage {
  /** 3 error, 5 warning, 7 info; other values are kept as they came. */
  type: number;
  level: 'error' | 'warning' | 'info' | 'unknown';
  text: string;
}

/**
 * Decodes a CONTROL payload (type byte + text; a trailing NUL is dropped).
 * @throws ERR_PROTOCOL when empty.
 */
export function decodeControlPayload(payload: Buffer): ControlMessage {
  if (payload.length < 1) throw new ProtocolError('usb', 'empty CONTROL payload', 0);
  const type = payload[0]!;
  let end = payload.length;
  while (end > 1 && payload[end - 1] === 0) end--;
  const text = payload.toString('utf8', 1, end);
  const level = type === 3 ? 'error' : type === 5 ? 'warning' : type === 7 ? 'info' : 'unknown';
  return { type, level, text };
}

/** Encodes a CONTROL payload (type byte + UTF-8 text). */
export function encodeControlPayload(type: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([type & 0xff]), Buffer.from(text, 'utf8')]);
}
