/**
 * Bounds-checked reads over one buffer for the media parsers: every read past the end, and every 64-bit
 * value of 2^53 or more, is a MediaFormatError (ERR_PHOTOS_MEDIA), never a RangeError.
 */
import { MediaFormatError } from './errors.ts';

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export type RandomReader = (offset: number, length: number) => Promise<Buffer>;

/**
 * A RandomReader that fetches a small read as a whole block of `block` bytes (at most up to `fileSize`) and
 * serves the following small reads inside that block from it: the box-header walks ask for 16 bytes at a
 * time, and over AFC each read is an open, seek, read and close on the device. The bytes returned are the
 * same as those of `read` (fewer at the end of the file).
 */
export function blockReader(read: RandomReader, fileSize: number, block = 4096): RandomReader {
  let at = 0;
  let cached: Buffer | undefined;
  return async (offset, length) => {
    if (cached && offset >= at && offset + length <= at + cached.length) return cached.subarray(offset - at, offset - at + length);
    if (length >= block) return read(offset, length);
    const buf = await read(offset, Math.max(length, Math.min(block, fileSize - offset)));
    at = offset;
    cached = buf;
    return buf.length > length ? buf.subarray(0, length) : buf;
  };
}

export class Bytes {
  constructor(readonly buf: Buffer, readonly format: string, readonly le = false) {}

  fail(reason: string, off?: number): MediaFormatError {
    return new MediaFormatError(this.format, reason, off);
  }

  check(off: number, n: number): void {
    if (!Number.isInteger(off) || off < 0 || n < 0 || off + n > this.buf.length) throw this.fail(`read of ${n} bytes past the end`, off);
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

  /** Unsigned big-endian integer of 0, 2, 4 or 8 bytes (8-byte values must stay below 2^53). */
  uN(off: number, n: number): number {
    if (n === 0) return 0;
    if (n === 2) return this.u16(off);
    if (n === 4) return this.u32(off);
    if (n === 8) {
      const hi = this.u32(off);
      if (hi > 0x1fffff) throw this.fail('64-bit value too large', off);
      return hi * 2 ** 32 + this.u32(off + 4);
    }
    throw this.fail(`field size ${n}`, off);
  }

  latin1(off: number, n: number): string {
    this.check(off, n);
    return this.buf.toString('latin1', off, off + n);
  }

  slice(off: number, n: number): Buffer {
    this.check(off, n);
    return this.buf.subarray(off, off + n);
  }
}

/** One ISO-BMFF / QuickTime box (atom) header. */
export interface BoxHeader {
  type: string;
  /** Offset of the box's first byte. */
  start: number;
  /** Offset of the body (after size, type and a 64-bit largesize). */
  body: number;
  /** Offset just past the box. */
  end: number;
}

/**
 * Parses the box header at `off` inside `[off, limit)`: size 1 = a 64-bit largesize follows the type,
 * size 0 = the box runs to `limit`. @throws MediaFormatError when the box is smaller than its header or
 * overruns `limit`
 */
export function boxAt(v: Bytes, off: number, limit: number): BoxHeader {
  let size = v.u32(off);
  const type = v.latin1(off + 4, 4);
  let body = off + 8;
  if (size === 1) {
    size = v.uN(off + 8, 8);
    body += 8;
  } else if (size === 0) size = limit - off;
  if (size < body - off) throw v.fail(`box ${JSON.stringify(type)} smaller than its header`, off);
  if (off + size > limit) throw v.fail(`box ${JSON.stringify(type)} overruns its parent`, off);
  return { type, start: off, body, end: off + size };
}

/** The child boxes of `[start, end)` of `v`, at most `max` of them. */
export function childBoxes(v: Bytes, start: number, end: number, max: number): BoxHeader[] {
  const out: BoxHeader[] = [];
  for (let off = start; off + 8 <= end; ) {
    if (out.length >= max) throw v.fail(`more than ${max} boxes`, off);
    const b = boxAt(v, off, end);
    out.push(b);
    off = b.end;
  }
  return out;
}

/**
 * Top-level box headers of a file read through `read` (16 bytes per box; huge `mdat` boxes are skipped by
 * size, never read). Stops at the end of the file or after `max` boxes. A truncated last box ends the list.
 */
export async function topLevelBoxes(read: RandomReader, fileSize: number, format: string, max: number): Promise<BoxHeader[]> {
  const out: BoxHeader[] = [];
  for (let off = 0; off + 8 <= fileSize && out.length < max; ) {
    const head = await read(off, 16);
    if (head.length < 8) break;
    const v = new Bytes(head, format);
    let size = v.u32(0);
    const type = v.latin1(4, 4);
    let body = off + 8;
    if (size === 1) {
      if (head.length < 16) break;
      size = v.uN(8, 8);
      body += 8;
    } else if (size === 0) size = fileSize - off;
    if (size < body - off) throw new Bytes(head, format).fail(`top-level box ${JSON.stringify(type)} smaller than its header`, off);
    out.push({ type, start: off, body, end: Math.min(off + size, fileSize) });
    if (off + size > fileSize) break;
    off += size;
  }
  return out;
}
