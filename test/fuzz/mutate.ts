/**
 * Seeded mutation of byte inputs (pure, deterministic for a seed): AFL-style havoc over a seed corpus — bit flips,
 * interesting bytes and integers (LE and BE, lengths near the input's own size), arithmetic, range delete /
 * duplicate / insert / overwrite, splices with another seed, truncation, dictionary tokens for text formats, and now
 * and then a purely random input. Also splits an input at random chunk boundaries for incremental decoders.
 */
import { mulberry32 } from '../../src/core/prng.ts';

/** A seeded source of randomness with the helpers the mutator needs. */
export class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** Float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** Integer in [0, n) (0 when n <= 0). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.#next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A size biased towards small values, in [0, max]. */
  small(max: number): number {
    const r = this.#next();
    return Math.min(max, Math.floor(r * r * r * (max + 1)));
  }
}

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x3c, 0x3e, 0x00, 0x0a];
const INTERESTING32 = [0, 1, 2, 8, 16, 40, 48, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Options of {@link mutate}. */
export interface MutateOptions {
  /** Largest output (bytes). */
  maxLen: number;
  /** Tokens spliced into text formats (XML tags, PEM armour …). */
  dict?: readonly string[];
}

function writeU(b: Buffer, at: number, width: 1 | 2 | 4, v: number, le: boolean): void {
  if (at < 0 || at + width > b.length) return;
  v >>>= 0;
  if (width === 1) b[at] = v & 0xff;
  else if (width === 2 && le) b.writeUInt16LE(v & 0xffff, at);
  else if (width === 2) b.writeUInt16BE(v & 0xffff, at);
  else if (le) b.writeUInt32LE(v, at);
  else b.writeUInt32BE(v, at);
}

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** One mutation step over `b` (returns a new or the same buffer). */
function step(r: Rng, b: Buffer, seeds: readonly Buffer[], o: MutateOptions): Buffer {
  const len = b.length;
  const at = r.int(len);
  switch (r.int(16)) {
    case 0: // flip a bit
      if (len) b[at] = b[at]! ^ (1 << r.int(8));
      return b;
    case 1: // random byte
      if (len) b[at] = r.int(256);
      return b;
    case 2: // interesting byte
      if (len) b[at] = r.pick(INTERESTING8);
      return b;
    case 3: // interesting u16/u32, either byte order, or a length related to the input
    case 4: {
      const width = r.chance(0.3) ? 2 : 4;
      const v = r.chance(0.3) ? Math.max(0, len - at + r.int(9) - 4) : r.pick(INTERESTING32);
      writeU(b, at, width, v, r.chance(0.5));
      return b;
    }
    case 5: { // arithmetic on a byte or u32
      if (!len) return b;
      const d = r.int(71) - 35;
      const how = at + 4 > len ? 0 : r.int(3);
      if (how === 0) b[at] = (b[at]! + d) & 0xff;
      else if (how === 1) b.writeUInt32LE((b.readUInt32LE(at) + d) >>> 0, at);
      else b.writeUInt32BE((b.readUInt32BE(at) + d) >>> 0, at);
      return b;
    }
    case 6: { // delete a range
      const n = 1 + r.small(Math.max(1, len - at));
      return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
    }
    case 7: { // duplicate a range
      const from = r.int(len);
      const n = 1 + r.small(Math.min(4096, Math.max(1, len - from)));
      return Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
    }
    case 8: // insert random bytes
      return Buffer.concat([b.subarray(0, at), randomBytes(r, 1 + r.small(64)), b.subarray(at)]);
    case 9: // truncate
      return b.subarray(0, r.int(len + 1));
    case 10: { // splice with another seed
      const s = r.pick(seeds);
      const from = r.int(s.length);
      return Buffer.concat([b.subarray(0, at), s.subarray(from)]);
    }
    case 11: { // overwrite a range from another seed
      const s = r.pick(seeds);
      const from = r.int(s.length);
      const piece = s.subarray(from, from + 1 + r.small(256));
      const out = Buffer.from(b);
      piece.copy(out, at);
      return out;
    }
    case 12: { // repeat a byte run
      const n = 1 + r.small(512);
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(n, len ? b[at]! : r.int(256)), b.subarray(at)]);
    }
    case 13: // dictionary token
    case 14: {
      if (!o.dict?.length) {
        if (len) b[at] = r.int(256);
        return b;
      }
      const t = Buffer.from(r.pick(o.dict), 'latin1');
      if (r.chance(0.5)) return Buffer.concat([b.subarray(0, at), t, b.subarray(at)]);
      const out = Buffer.from(b);
      t.copy(out, at);
      return out;
    }
    default: { // swap two ranges
      if (len < 4) return b;
      const n = 1 + r.small(Math.min(64, len >> 1));
      const a0 = r.int(len - n);
      const b0 = r.int(len - n);
      const out = Buffer.from(b);
      b.copy(out, a0, b0, b0 + n);
      b.copy(out, b0, a0, a0 + n);
      return out;
    }
  }
}

/** A mutated copy of a random seed (or, 2% of the time, random bytes), at most `maxLen` bytes. */
export function mutate(r: Rng, seeds: readonly Buffer[], o: MutateOptions): Buffer {
  if (seeds.length === 0 || r.chance(0.02)) return randomBytes(r, r.small(Math.min(o.maxLen, 4096)));
  let b: Buffer = Buffer.from(r.pick(seeds));
  const n = 1 + r.small(r.chance(0.2) ? 32 : 6);
  for (let i = 0; i < n; i++) b = step(r, b, seeds, o);
  return b.length > o.maxLen ? b.subarray(0, o.maxLen) : b;
}

/** Splits `b` into at most 4,096 chunks at random boundaries: whole, a few random cuts, tiny fixed sizes, or byte by byte. */
export function chunks(r: Rng, b: Buffer): Buffer[] {
  const mode = r.int(8);
  if (mode === 0 || b.length < 2) return [b];
  if (mode === 1 && b.length <= 4096) return Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
  if (mode === 2) {
    const size = Math.max(1 + r.int(17), Math.ceil(b.length / 4096)); // at most 4,096 chunks (decoders cap chunk counts)
    const out: Buffer[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  }
  const cuts = new Set<number>();
  const n = 1 + r.int(16);
  for (let i = 0; i < n; i++) cuts.add(1 + r.int(b.length - 1));
  const sorted = [...cuts].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}
