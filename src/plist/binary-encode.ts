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

  // Two passes over the flat object list: sizes (hence offsets), then one buffer written in place.
  const refSize = sizeFor(entries.length - 1);
  const offsets = new Array<number>(entries.length);
  let pos = 8;
  for (let i = 0; i < entries.length; i++) {
    offsets[i] = pos;
    pos += entrySize(entries[i]!, refSize);
  }
  const tableOffset = pos;
  const offsetSize = sizeFor(tableOffset);
  const out = Buffer.allocUnsafe(tableOffset + entries.length * offsetSize + 32);
  out.write('bplist00', 0, 'latin1');
  for (let i = 0; i < entries.length; i++) writeEntry(out, offsets[i]!, entries[i]!, refSize);
  let t = tableOffset;
  for (const o of offsets) {
    writeUint(out, t, offsetSize, o);
    t += offsetSize;
  }
  out.fill(0, t, t + 6); // 5 unused bytes + sort version
  out[t + 6] = offsetSize;
  out[t + 7] = refSize;
  out.writeBigUInt64BE(BigInt(entries.length), t + 8);
  out.writeBigUInt64BE(0n, t + 16); // top object
  out.writeBigUInt64BE(BigInt(tableOffset), t + 24);
  return out;
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

/** Encoded size of an integer object: 0x10|log2(n) marker + n bytes. */
function intSize(v: bigint): number {
  if (v >= 0n && v < 0x100000000n) return 1 + sizeFor(Number(v));
  return v < 2n ** 63n ? 9 : 17;
}

/** Writes an integer object: 1, 2, 4 unsigned bytes; 8 signed for negatives and ≥ 2^32; 16 (high half 0) ≥ 2^63. */
function writeInt(b: Buffer, at: number, v: bigint): number {
  if (v >= 0n && v < 0x100000000n) {
    const n = Number(v);
    const size = sizeFor(n);
    b[at] = 0x10 | Math.log2(size);
    b.writeUIntBE(n, at + 1, size);
    return 1 + size;
  }
  if (v < 2n ** 63n) {
    b[at] = 0x13;
    b.writeBigInt64BE(v, at + 1);
    return 9;
  }
  b[at] = 0x14;
  b.writeBigUInt64BE(0n, at + 1);
  b.writeBigUInt64BE(v, at + 9);
  return 17;
}

/** Size of a marker with a count: the count in the low nibble, or 0xF followed by an int object when ≥ 15. */
function headerSize(count: number): number {
  return count < 15 ? 1 : 1 + intSize(BigInt(count));
}

function writeHeader(b: Buffer, at: number, type: number, count: number): number {
  if (count < 15) {
    b[at] = (type << 4) | count;
    return 1;
  }
  b[at] = (type << 4) | 0xf;
  return 1 + writeInt(b, at + 1, BigInt(count));
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function uidSize(v: number): number {
  return v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x100000000 ? 4 : 8;
}

function entrySize(e: Entry, refSize: number): number {
  switch (e.t) {
    case 'bool':
      return 1;
    case 'int':
      return intSize(e.v);
    case 'real':
    case 'date':
      return 9;
    case 'data':
      return headerSize(e.v.length) + e.v.length;
    case 'string':
      // s.length counts UTF-16 code units: ASCII bytes, or the unit count of the UTF-16BE form
      return headerSize(e.v.length) + (isAscii(e.v) ? e.v.length : 2 * e.v.length);
    case 'uid':
      return 1 + uidSize(e.v);
    case 'array':
      return headerSize(e.refs.length) + e.refs.length * refSize;
    case 'dict':
      return headerSize(e.keys.length) + 2 * e.keys.length * refSize;
  }
}

function writeEntry(b: Buffer, at: number, e: Entry, refSize: number): void {
  switch (e.t) {
    case 'bool':
      b[at] = e.v ? 0x09 : 0x08;
      return;
    case 'int':
      writeInt(b, at, e.v);
      return;
    case 'real':
      b[at] = 0x23;
      b.writeDoubleBE(e.v, at + 1);
      return;
    case 'date':
      b[at] = 0x33;
      b.writeDoubleBE(e.v.getTime() / 1000 - CF_EPOCH_OFFSET_S, at + 1);
      return;
    case 'data':
      e.v.copy(b, at + writeHeader(b, at, 0x4, e.v.length));
      return;
    case 'string': {
      if (isAscii(e.v)) {
        b.write(e.v, at + writeHeader(b, at, 0x5, e.v.length), 'latin1');
        return;
      }
      const start = at + writeHeader(b, at, 0x6, e.v.length);
      b.write(e.v, start, 'utf16le');
      b.subarray(start, start + 2 * e.v.length).swap16();
      return;
    }
    case 'uid': {
      const size = uidSize(e.v);
      b[at] = 0x80 | (size - 1);
      writeUint(b, at + 1, size, e.v);
      return;
    }
    case 'array': {
      let p = at + writeHeader(b, at, 0xa, e.refs.length);
      for (const r of e.refs) {
        writeUint(b, p, refSize, r);
        p += refSize;
      }
      return;
    }
    case 'dict': {
      let p = at + writeHeader(b, at, 0xd, e.keys.length);
      for (const r of e.keys) {
        writeUint(b, p, refSize, r);
        p += refSize;
      }
      for (const r of e.vals) {
        writeUint(b, p, refSize, r);
        p += refSize;
      }
      return;
    }
  }
}
