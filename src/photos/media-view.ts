/**
 * Bounds-checked reading of media metadata (pure): a byte view whose every read is checked against the buffer
 * (malformed input gives ProtocolError, never RangeError), and ISO-BMFF / QuickTime box walking. Shared by the
 * EXIF (exif.ts) and QuickTime (quicktime.ts) date readers.
 */
import { ProtocolError } from '../core/errors.ts';

/** Reads up to `length` bytes at `offset` (fewer at end of file). */
export type RandomReader = (offset: number, length: number) => Promise<Buffer>;

/** Most top-level boxes (or children of one box) looked at before giving up. */
export const MAX_TOP_BOXES = 64;

/** A ProtocolError of the photos layer about metadata. */
export function bad(reason: string, offset?: number): ProtocolError {
  return new ProtocolError('photos', `exif: ${reason}`, offset);
}

/** Bounds-checked big/little-endian reads over one buffer. */
export class View {
  constructor(readonly buf: Buffer, readonly le = false) {}
  #check(off: number, n: number): void {
    if (!Number.isInteger(off) || off < 0 || off + n > this.buf.length) throw bad(`read of ${n} bytes past the end`, off);
  }
  u8(off: number): number {
    this.#check(off, 1);
    return this.buf[off]!;
  }
  u16(off: number): number {
    this.#check(off, 2);
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number): number {
    this.#check(off, 4);
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  /** Unsigned big-endian integer of 0, 4 or 8 bytes (8-byte values must stay below 2^53). */
  uN(off: number, n: number): number {
    if (n === 0) return 0;
    if (n === 4) return this.u32(off);
    if (n === 8) {
      const hi = this.u32(off);
      if (hi > 0x1fffff) throw bad('64-bit value too large', off);
      return hi * 2 ** 32 + this.u32(off + 4);
    }
    throw bad(`field size ${n}`, off);
  }
  str(off: number, n: number): string {
    this.#check(off, n);
    return this.buf.toString('latin1', off, off + n);
  }
}

/** One box of an ISO-BMFF / QuickTime structure. */
export interface Box {
  type: string;
  /** Offset of the box body (after size/type/largesize). */
  body: number;
  /** Offset just past the box. */
  end: number;
}

/** Child boxes of `buf[start, end)`. @throws ProtocolError for a box that overruns its parent */
export function boxes(v: View, start: number, end: number): Box[] {
  const out: Box[] = [];
  let off = start;
  while (off + 8 <= end) {
    let size = v.u32(off);
    const type = v.str(off + 4, 4);
    let body = off + 8;
    if (size === 1) {
      size = v.uN(off + 8, 8);
      body += 8;
    } else if (size === 0) size = end - off;
    if (size < body - off || off + size > end) throw bad(`box ${JSON.stringify(type)} overruns its parent`, off);
    out.push({ type, body, end: off + size });
    off += size;
  }
  return out;
}
