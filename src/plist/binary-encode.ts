/**
 * Binary property list (`bplist00`) encoder. Layout as in binary-decode.ts. Strings (values and keys) are written once
 * and shared by reference; integers use the smallest of 1, 2, 4 unsigned bytes, 8 signed bytes for negatives and values
 * ≥ 2^32, and 16 bytes for 2^63..2^64-1 (as CoreFoundation does); ASCII strings use 0x5n, others UTF-16BE 0x6n.
 */
import { type PlistValue } from './types.ts';
import { CF_EPOCH_OFFSET_S } from './errors.ts';
import { classify, type Classified, PathGuard } from './value-kind.ts';

type Entry = Exclude<Classified, { t: 'array' } | { t: 'dict' }> | { t: 'array'; refs: number[] } | { t: 'dict'; keys: number[]; vals: number[] };

/**
 * Encodes a value as a `bplist00` binary plist. Dict entries whose value is `undefined` are left out.
 * @throws PlistError ERR_PLIST_INVALID_VALUE (not a plist value, cyclic, integer out of range), ERR_PLIST_TOO_LARGE (nesting > 512)
 */
export function encodeBinaryPlist(v: PlistValue): Buffer {
  const entries: Entry[] = [];
  const strings = new Map<string, number>();
  const guard = new PathGuard();

  const add = (value: unknown, depth: number): number => {
    const c = classify(value);
    if (c.t === 'string') {
      const known = strings.get(c.v);
      if (known !== undefined) return known;
      strings.set(c.v, entries.length);
    }
    const idx = entries.length;
    if (c.t === 'array') {
      guard.enter(c.v, depth + 1);
      const e: Entry = { t: 'array', refs: [] };
      entries.push(e);
      for (const item of c.v) e.refs.push(add(item, depth + 1));
      guard.leave(c.v);
    } else if (c.t === 'dict') {
      guard.enter(c.v, depth + 1);
      const e: Entry = { t: 'dict', keys: [], vals: [] };
      entries.push(e);
      for (const k of Object.keys(c.v)) {
        const item = c.v[k];
        if (item === undefined) continue;
        e.keys.push(add(k, depth + 1));
        e.vals.push(add(item, depth + 1));
      }
      guard.leave(c.v);
    } else {
      entries.push(c);
    }
    return idx;
  };
  add(v, 0);

  const refSize = sizeFor(entries.length - 1);
  const parts: Buffer[] = [Buffer.from('bplist00', 'latin1')];
  const offsets: number[] = [];
  let pos = 8;
  for (const e of entries) {
    offsets.push(pos);
    const b = encodeEntry(e, refSize);
    parts.push(b);
    pos += b.length;
  }
  const tableOffset = pos;
  const offsetSize = sizeFor(tableOffset);
  const table = Buffer.alloc(offsets.length * offsetSize);
  offsets.forEach((o, i) => writeUint(table, i * offsetSize, offsetSize, o));
  parts.push(table);
  const trailer = Buffer.alloc(32);
  trailer[6] = offsetSize;
  trailer[7] = refSize;
  trailer.writeBigUInt64BE(BigInt(entries.length), 8);
  trailer.writeBigUInt64BE(0n, 16);
  trailer.writeBigUInt64BE(BigInt(tableOffset), 24);
  parts.push(trailer);
  return Buffer.concat(parts);
}

/** Bytes (1, 2, 4 or 8) needed for an unsigned value. */
function sizeFor(max: number): number {
  if (max < 0x100) return 1;
  if (max < 0x10000) return 2;
  if (max < 0x100000000) return 4;
  return 8;
}

function writeUint(b: Buffer, at: number, size: number, v: number): void {
  if (size <= 4) b.writeUIntBE(v, at, size);
  else b.writeBigUInt64BE(BigInt(v), at);
}

function encodeInt(v: bigint): Buffer {
  if (v >= 0n && v < 0x100000000n) {
    const n = Number(v);
    const size = sizeFor(n);
    const b = Buffer.alloc(1 + size);
    b[0] = 0x10 | Math.log2(size);
    b.writeUIntBE(n, 1, size);
    return b;
  }
  if (v < 2n ** 63n) {
    const b = Buffer.alloc(9);
    b[0] = 0x13;
    b.writeBigInt64BE(v, 1);
    return b;
  }
  const b = Buffer.alloc(17); // 2^63..2^64-1: 16-byte form, high half zero
  b[0] = 0x14;
  b.writeBigUInt64BE(v, 9);
  return b;
}

/** Marker byte with a count, plus the 0xF + int form for counts ≥ 15. */
function header(type: number, count: number): Buffer {
  if (count < 15) return Buffer.from([(type << 4) | count]);
  return Buffer.concat([Buffer.from([(type << 4) | 0xf]), encodeInt(BigInt(count))]);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function encodeEntry(e: Entry, refSize: number): Buffer {
  switch (e.t) {
    case 'bool':
      return Buffer.from([e.v ? 0x09 : 0x08]);
    case 'int':
      return encodeInt(e.v);
    case 'real': {
      const b = Buffer.alloc(9);
      b[0] = 0x23;
      b.writeDoubleBE(e.v, 1);
      return b;
    }
    case 'date': {
      const b = Buffer.alloc(9);
      b[0] = 0x33;
      b.writeDoubleBE(e.v.getTime() / 1000 - CF_EPOCH_OFFSET_S, 1);
      return b;
    }
    case 'data':
      return Buffer.concat([header(0x4, e.v.length), e.v]);
    case 'string': {
      if (isAscii(e.v)) return Buffer.concat([header(0x5, e.v.length), Buffer.from(e.v, 'latin1')]);
      const body = Buffer.from(e.v, 'utf16le').swap16();
      return Buffer.concat([header(0x6, e.v.length), body]);
    }
    case 'uid': {
      const size = e.v < 0x100 ? 1 : e.v < 0x10000 ? 2 : e.v < 0x100000000 ? 4 : 8;
      const b = Buffer.alloc(1 + size);
      b[0] = 0x80 | (size - 1);
      writeUint(b, 1, size, e.v);
      return b;
    }
    case 'array': {
      const refs = Buffer.alloc(e.refs.length * refSize);
      e.refs.forEach((r, i) => writeUint(refs, i * refSize, refSize, r));
      return Buffer.concat([header(0xa, e.refs.length), refs]);
    }
    case 'dict': {
      const n = e.keys.length;
      const refs = Buffer.alloc(2 * n * refSize);
      e.keys.forEach((r, i) => writeUint(refs, i * refSize, refSize, r));
      e.vals.forEach((r, i) => writeUint(refs, (n + i) * refSize, refSize, r));
      return Buffer.concat([header(0xd, n), refs]);
    }
  }
}
