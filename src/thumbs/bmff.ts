/**
 * Bounds-checked reading of the ISO base media file format (HEIF/HEIC, QuickTime/MP4) for the thumbnail
 * extractors: a byte view that throws ProtocolError instead of RangeError, and a box lister.
 *
 * Box header: u32 size (0 = to the end of the parent, 1 = a u64 largesize follows), 4-character type; the
 * body follows the 8 (or 16) header bytes. A FullBox body starts with u8 version + u24 flags.
 */
import { ProtocolError } from '../core/errors.ts';

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export type RandomReader = (offset: number, length: number) => Promise<Buffer>;

export function bad(reason: string, offset?: number): ProtocolError {
  return new ProtocolError('photos', `media: ${reason}`, offset);
}

/** Bounds-checked reads over one buffer. */
export class View {
  constructor(readonly buf: Buffer, readonly le = false) {}
  check(off: number, n: number): void {
    if (!Number.isInteger(off) || off < 0 || n < 0 || off + n > this.buf.length) throw bad(`read of ${n} bytes past the end`, off);
  }
  u8(off: number): number {
    this.check(off, 1);
    return this.buf[off]!;
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  /** Big-endian unsigned integer of 0, 1, 2, 4 or 8 bytes (8-byte values must stay below 2^53). */
  uN(off: number, n: number): number {
    if (n === 0) return 0;
    if (n === 1) return this.u8(off);
    if (n === 2) return this.u16(off);
    if (n === 4) return this.u32(off);
    if (n === 8) {
      const hi = this.u32(off);
      if (hi > 0x1fffff) throw bad('64-bit value too large', off);
      return hi * 2 ** 32 + this.u32(off + 4);
    }
    throw bad(`field size ${n}`, off);
  }
  str(off: number, n: number): string {
    this.check(off, n);
    return this.buf.toString('latin1', off, off + n);
  }
  slice(off: number, n: number): Buffer {
    this.check(off, n);
    return this.buf.subarray(off, off + n);
  }
}

/** One box inside a buffer: offsets are into that buffer. */
export interface Box {
  type: string;
  start: number;
  body: number;
  end: number;
}

/** The boxes between `start` and `end` (at most `max`). */
export function boxes(v: View, start: number, end: number, max = 1024): Box[] {
  const out: Box[] = [];
  let p = start;
  while (p + 8 <= end) {
    if (out.length >= max) throw bad(`more than ${max} boxes`, p);
    let size = v.u32(p);
    const type = v.str(p + 4, 4);
    let body = p + 8;
    if (size === 1) {
      size = v.uN(p + 8, 8);
      body += 8;
    } else if (size === 0) size = end - p;
    if (size < body - p || p + size > end) throw bad(`box '${type}' of ${size} bytes does not fit`, p);
    out.push({ type, start: p, body, end: p + size });
    p += size;
  }
  return out;
}

/** The first child box of `type`, if any. */
export function child(v: View, parent: Box, type: string, skip = 0): Box | undefined {
  return boxes(v, parent.body + skip, parent.end).find((b) => b.type === type);
}

/** A top-level box found by reading headers only: offsets are file offsets. */
export interface FileBox {
  type: string;
  start: number;
  /** Header length (8 or 16). */
  header: number;
  size: number;
}

/**
 * Lists the top-level boxes of a file by reading 16-byte headers (at most `max` boxes), without reading bodies.
 * @throws ProtocolError for a box that does not fit in the file
 */
export async function topLevelBoxes(read: RandomReader, fileSize: number, max = 64): Promise<FileBox[]> {
  const out: FileBox[] = [];
  let p = 0;
  while (p + 8 <= fileSize && out.length < max) {
    const h = await read(p, 16);
    if (h.length < 8) break;
    const v = new View(h);
    let size = v.u32(0);
    const type = v.str(4, 4);
    let header = 8;
    if (size === 1) {
      size = v.uN(8, 8);
      header = 16;
    } else if (size === 0) size = fileSize - p;
    if (size < header || p + size > fileSize) throw bad(`top-level box '${type}' of ${size} bytes does not fit`, p);
    out.push({ type, start: p, header, size });
    p += size;
  }
  return out;
}
