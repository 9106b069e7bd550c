/**
 * Binary property list (`bplist00`) decoder.
 *
 * Layout: "bplist00" | objects… | offset table (numObjects × offsetSize, BE) | 32-byte trailer:
 *   5 unused | u8 sortVersion | u8 offsetSize | u8 objectRefSize | u64 numObjects | u64 topObject | u64 offsetTableOffset
 * Object marker = high nibble type, low nibble size/count (0xF: the count follows as an int object):
 *   0x00 null  0x08 false  0x09 true  0x0F fill  0x1n int (2^n bytes; 8 signed, 16 two's complement)
 *   0x2n real (2^n bytes)  0x33 date (float64 s since 2001-01-01)  0x4n data  0x5n ASCII  0x6n UTF-16BE (n code units)
 *   0x8n UID (n+1 bytes)  0xAn array  0xBn ordset  0xCn set (refs)  0xDn dict (n key refs, then n value refs)
 * Every offset, count and ref is checked against the buffer before anything is read or allocated; shared objects are
 * allowed but each expansion counts against maxObjects/maxBytes, and a container reaching itself is ERR_PLIST_CYCLE.
 */
import { type PlistDict, type PlistValue, PlistUid } from './types.ts';
import { CF_EPOCH_OFFSET_S, PlistError, type PlistErrorCode, type ResolvedLimits, setKey } from './errors.ts';

const MAGIC = 'bplist00';
const TRAILER = 32;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes a `bplist00` buffer.
 * @throws PlistError ERR_PLIST_SYNTAX (bad trailer, offsets, refs, markers, truncation, non-string dict key),
 *   ERR_PLIST_TOO_LARGE (bytes, objects, expanded values or depth over the caps), ERR_PLIST_CYCLE (self-containing
 *   container), ERR_PLIST_UNSUPPORTED (null/fill objects, bplist1x, UTF-8 strings 0x7n, ints wider than 16 bytes)
 */
export function decodeBinaryPlist(buf: Buffer, limits: ResolvedLimits): PlistValue {
  if (buf.length > limits.maxBytes) throw new PlistError('ERR_PLIST_TOO_LARGE', `input of ${buf.length} bytes exceeds ${limits.maxBytes}`);
  if (buf.length < 6 || buf.toString('latin1', 0, 6) !== 'bplist') throw new PlistError('ERR_PLIST_FORMAT', 'not a binary plist');
  if (buf.length < 8 || buf.toString('latin1', 0, 8) !== MAGIC) throw new PlistError('ERR_PLIST_UNSUPPORTED', `binary plist version ${JSON.stringify(buf.toString('latin1', 6, 8))}`);
  return new BinaryReader(buf, limits).decode();
}

class BinaryReader {
  #buf: Buffer;
  #limits: ResolvedLimits;
  #end: number; // objects and offset table live in [8, #end)
  #offsetSize = 0;
  #refSize = 0;
  #numObjects = 0;
  #tableOffset = 0;
  #onPath: Uint8Array = new Uint8Array(0);
  #decoded = 0;
  #bytes = 0;

  constructor(buf: Buffer, limits: ResolvedLimits) {
    this.#buf = buf;
    this.#limits = limits;
    this.#end = buf.length - TRAILER;
  }

  #fail(reason: string, at?: number, code: PlistErrorCode = 'ERR_PLIST_SYNTAX'): never {
    throw new PlistError(code, reason, at);
  }

  decode(): PlistValue {
    const buf = this.#buf;
    if (buf.length < 8 + 1 + 1 + TRAILER) this.#fail(`binary plist of ${buf.length} bytes is too short`);
    const t = this.#end;
    this.#offsetSize = buf[t + 6] as number;
    this.#refSize = buf[t + 7] as number;
    if (this.#offsetSize < 1 || this.#offsetSize > 8) this.#fail(`offset size ${this.#offsetSize}`, t + 6);
    if (this.#refSize < 1 || this.#refSize > 8) this.#fail(`object ref size ${this.#refSize}`, t + 7);
    const numObjects = this.#u64(t + 8);
    const top = this.#u64(t + 16);
    const tableOffset = this.#u64(t + 24);
    if (numObjects < 1) this.#fail('no objects', t + 8);
    if (numObjects > this.#limits.maxObjects) this.#fail(`${numObjects} objects exceed ${this.#limits.maxObjects}`, t + 8, 'ERR_PLIST_TOO_LARGE');
    if (top >= numObjects) this.#fail(`top object ${top} of ${numObjects}`, t + 16);
    if (tableOffset < 9 || tableOffset > t) this.#fail(`offset table at ${tableOffset}`, t + 24);
    if (numObjects > Math.floor((t - tableOffset) / this.#offsetSize)) this.#fail(`offset table of ${numObjects} entries does not fit`, t + 24);
    this.#numObjects = numObjects;
    this.#tableOffset = tableOffset;
    this.#onPath = new Uint8Array(numObjects);
    return this.#object(top, 0);
  }

  #u64(at: number): number {
    const v = this.#buf.readBigUInt64BE(at);
    if (v > MAX_SAFE) this.#fail(`trailer value ${v} too large`, at);
    return Number(v);
  }

  /** Reads an unsigned big-endian integer of 1..8 bytes that must fit in a safe number. */
  #uint(at: number, size: number): number {
    if (size <= 6) return this.#buf.readUIntBE(at, size);
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.#buf[at + i] as number);
    if (v > MAX_SAFE) this.#fail(`value ${v} too large`, at);
    return Number(v);
  }

  #need(at: number, len: number, what: string): void {
    if (len > this.#end - at) this.#fail(`${what} of ${len} bytes runs past the object area`, at);
  }

  #offsetOf(ref: number): number {
    if (ref >= this.#numObjects) this.#fail(`object ref ${ref} of ${this.#numObjects}`);
    const off = this.#uint(this.#tableOffset + ref * this.#offsetSize, this.#offsetSize);
    if (off < 8 || off >= this.#end) this.#fail(`object ${ref} at offset ${off} is outside the object area`, this.#tableOffset + ref * this.#offsetSize);
    return off;
  }

  #addBytes(n: number, at: number): void {
    this.#bytes += n;
    if (this.#bytes > this.#limits.maxBytes) this.#fail(`decoded data exceeds ${this.#limits.maxBytes} bytes`, at, 'ERR_PLIST_TOO_LARGE');
  }

  /** Count of a data/string/container: low nibble, or 0xF followed by an int object. Returns [count, first byte]. */
  #length(off: number, low: number): [number, number] {
    if (low !== 0xf) return [low, off + 1];
    this.#need(off + 1, 1, 'length marker');
    const m = this.#buf[off + 1] as number;
    if (m >> 4 !== 0x1 || (m & 0xf) > 3) this.#fail(`bad length marker 0x${m.toString(16)}`, off + 1);
    const size = 1 << (m & 0xf);
    this.#need(off + 2, size, 'length');
    const n = size === 8 ? this.#signed64AsLength(off + 2) : this.#uint(off + 2, size);
    return [n, off + 2 + size];
  }

  #signed64AsLength(at: number): number {
    const v = this.#buf.readBigInt64BE(at);
    if (v < 0n || v > MAX_SAFE) this.#fail(`bad length ${v}`, at);
    return Number(v);
  }

  #object(ref: number, depth: number): PlistValue {
    if (++this.#decoded > this.#limits.maxObjects) this.#fail(`more than ${this.#limits.maxObjects} values`, undefined, 'ERR_PLIST_TOO_LARGE');
    const buf = this.#buf;
    const off = this.#offsetOf(ref);
    const marker = buf[off] as number;
    const low = marker & 0xf;
    switch (marker >> 4) {
      case 0x0:
        if (marker === 0x08) return false;
        if (marker === 0x09) return true;
        if (marker === 0x00 || marker === 0x0f) this.#fail(`${marker === 0 ? 'null' : 'fill'} object is not a plist value`, off, 'ERR_PLIST_UNSUPPORTED');
        return this.#fail(`unknown marker 0x${marker.toString(16)}`, off);
      case 0x1:
        return this.#int(off, low);
      case 0x2: {
        if (low === 2) {
          this.#need(off + 1, 4, 'real');
          return buf.readFloatBE(off + 1);
        }
        if (low === 3) {
          this.#need(off + 1, 8, 'real');
          return buf.readDoubleBE(off + 1);
        }
        return this.#fail(`real of 2^${low} bytes`, off);
      }
      case 0x3: {
        if (low !== 3) this.#fail(`date marker 0x${marker.toString(16)}`, off);
        this.#need(off + 1, 8, 'date');
        const ms = Math.round((buf.readDoubleBE(off + 1) + CF_EPOCH_OFFSET_S) * 1000);
        const d = new Date(ms);
        if (Number.isNaN(d.getTime())) this.#fail('date out of range', off);
        return d;
      }
      case 0x4: {
        const [n, at] = this.#length(off, low);
        this.#need(at, n, 'data');
        this.#addBytes(n, off);
        return Buffer.from(buf.subarray(at, at + n)); // a copy: never pin the caller's whole buffer
      }
      case 0x5: {
        const [n, at] = this.#length(off, low);
        this.#need(at, n, 'ASCII string');
        this.#addBytes(n, off);
        return buf.toString('latin1', at, at + n);
      }
      case 0x6: {
        const [n, at] = this.#length(off, low);
        if (n > (this.#end - at) / 2) this.#fail(`UTF-16 string of ${n} units runs past the object area`, at);
        this.#addBytes(n * 2, off);
        return Buffer.from(buf.subarray(at, at + n * 2)).swap16().toString('utf16le');
      }
      case 0x7:
        return this.#fail('UTF-8 string objects (bplist1x) are not supported', off, 'ERR_PLIST_UNSUPPORTED');
      case 0x8: {
        const size = low + 1;
        if (size > 8) this.#fail(`UID of ${size} bytes`, off, 'ERR_PLIST_UNSUPPORTED');
        this.#need(off + 1, size, 'UID');
        return new PlistUid(this.#uint(off + 1, size));
      }
      case 0xa:
      case 0xb:
      case 0xc:
        return this.#array(ref, off, low, depth + 1);
      case 0xd:
        return this.#dict(ref, off, low, depth + 1);
      default:
        return this.#fail(`unknown marker 0x${marker.toString(16)}`, off);
    }
  }

  #int(off: number, low: number): number | bigint {
    const buf = this.#buf;
    if (low > 4) this.#fail(`integer of 2^${low} bytes`, off, 'ERR_PLIST_UNSUPPORTED');
    const size = 1 << low;
    this.#need(off + 1, size, 'integer');
    if (size <= 4) return buf.readUIntBE(off + 1, size); // 1, 2, 4 bytes are unsigned
    let v: bigint;
    if (size === 8) v = buf.readBigInt64BE(off + 1);
    else v = (buf.readBigInt64BE(off + 1) << 64n) | buf.readBigUInt64BE(off + 9);
    return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  }

  #enter(ref: number, off: number, depth: number): void {
    if (depth > this.#limits.maxDepth) this.#fail(`nesting deeper than ${this.#limits.maxDepth}`, off, 'ERR_PLIST_TOO_LARGE');
    if (this.#onPath[ref]) this.#fail(`object ${ref} contains itself`, off, 'ERR_PLIST_CYCLE');
    this.#onPath[ref] = 1;
  }

  #refs(at: number, n: number, what: string): void {
    if (n > (this.#end - at) / this.#refSize) this.#fail(`${what} of ${n} refs runs past the object area`, at);
  }

  #array(ref: number, off: number, low: number, depth: number): PlistValue[] {
    const [n, at] = this.#length(off, low);
    this.#refs(at, n, 'array');
    this.#enter(ref, off, depth);
    const out: PlistValue[] = [];
    const rs = this.#refSize;
    for (let i = 0; i < n; i++) out.push(this.#object(this.#uint(at + i * rs, rs), depth));
    this.#onPath[ref] = 0;
    return out;
  }

  #dict(ref: number, off: number, low: number, depth: number): PlistDict {
    const [n, at] = this.#length(off, low);
    if (n > (this.#end - at) / 2) this.#fail(`dict of ${n} entries runs past the object area`, at);
    this.#refs(at, n * 2, 'dict');
    this.#enter(ref, off, depth);
    const out: PlistDict = {};
    const rs = this.#refSize;
    const valuesAt = at + n * rs;
    for (let i = 0; i < n; i++) {
      const key = this.#object(this.#uint(at + i * rs, rs), depth);
      if (typeof key !== 'string') this.#fail('dict key is not a string', at + i * rs);
      setKey(out, key, this.#object(this.#uint(valuesAt + i * rs, rs), depth));
    }
    this.#onPath[ref] = 0;
    return out;
  }
}
