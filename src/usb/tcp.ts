/**
 * Pure codec of the 20-byte TCP header carried in mux packets of protocol 6 (no I/O).
 *
 * ```
 * 0  u16 sport     source port (host: per-device counter from 1; device: the service port)
 * 2  u16 dport     destination port (plain port number, NOT byte-swapped like usbmuxd's PortNumber)
 * 4  u32 seq       bytes sent (+1 for SYN)
 * 8  u32 ack       bytes delivered to the consumer (+1 for SYN)
 * 12 u8  offset    0x50: 5 words, no options
 * 13 u8  flags     SYN 0x02, RST 0x04, ACK 0x10 (no FIN: teardown is RST)
 * 14 u16 window    receive window in 256-byte units (usbmuxd advertises 512 = 128 KiB)
 * 16 u16 checksum  0
 * 18 u16 urgent    0
 * ```
 * All big-endian. A peer header with a data offset above 5 words has options, which are skipped.
 */
import { ProtocolError } from '../core/errors.ts';

export const TCP_HEADER_SIZE = 20;
export const TcpFlags = { SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;
/** Window field unit: bytes per unit. */
export const WINDOW_UNIT = 256;

export interface TcpHeader {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  /** Window field as on the wire (256-byte units). */
  window: number;
}

/** Writes a 20-byte TCP header into `out` at `offset`. */
export function writeTcpHeader(out: Buffer, offset: number, h: TcpHeader): void {
  out.writeUInt16BE(h.sport & 0xffff, offset);
  out.writeUInt16BE(h.dport & 0xffff, offset + 2);
  out.writeUInt32BE(h.seq >>> 0, offset + 4);
  out.writeUInt32BE(h.ack >>> 0, offset + 8);
  out[offset + 12] = 0x50;
  out[offset + 13] = h.flags & 0xff;
  out.writeUInt16BE(h.window & 0xffff, offset + 14);
  out.writeUInt16BE(0, offset + 16);
  out.writeUInt16BE(0, offset + 18);
}

/** Encodes a TCP header into a fresh 20-byte buffer. */
export function encodeTcpHeader(h: TcpHeader): Buffer {
  const b = Buffer.alloc(TCP_HEADER_SIZE);
  writeTcpHeader(b, 0, h);
  return b;
}

/**
 * Decodes the TCP header at the start of `buf`; returns the header and its size in bytes (20 + options).
 * @throws ERR_PROTOCOL when shorter than 20 bytes, or when the data offset is below 5 words or beyond the buffer.
 */
export function decodeTcpHeader(buf: Buffer): { header: TcpHeader; size: number } {
  if (buf.length < TCP_HEADER_SIZE) throw new ProtocolError('usb', `TCP header needs 20 bytes, got ${buf.length}`, 0);
  const size = (buf[12]! >> 4) * 4;
  if (size < TCP_HEADER_SIZE || size > buf.length) throw new ProtocolError('usb', `bad TCP data offset ${size}`, 12);
  return {
    header: {
      sport: buf.readUInt16BE(0),
      dport: buf.readUInt16BE(2),
      seq: buf.readUInt32BE(4),
      ack: buf.readUInt32BE(8),
      flags: buf[13]!,
      window: buf.readUInt16BE(14),
    },
    size,
  };
}

/** Window field for a receive window of `bytes` (rounded down to 256-byte units, at most 0xFFFF units). */
export function windowField(bytes: number): number {
  return Math.min(0xffff, Math.floor(bytes / WINDOW_UNIT));
}

/** (a − b) mod 2^32 as a signed 32-bit difference, for comparing sequence numbers. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Flag bits as text, for messages. */
export function flagNames(flags: number): string {
  const n: string[] = [];
  if (flags & TcpFlags.SYN) n.push('SYN');
  if (flags & TcpFlags.RST) n.push('RST');
  if (flags & TcpFlags.ACK) n.push('ACK');
  const other = flags & ~(TcpFlags.SYN | TcpFlags.RST | TcpFlags.ACK);
  if (other) n.push(`0x${other.toString(16)}`);
  return n.join('|') || '0';
}
