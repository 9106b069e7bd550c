/** Shared classification of JS values for the two plist encoders. */
import { type PlistDict, type PlistValue, PlistReal, PlistUid } from './types.ts';
import { PlistError } from './errors.ts';

export const INT64_MIN = -(2n ** 63n);
export const UINT64_MAX = 2n ** 64n - 1n;
/** The encoders refuse deeper nesting (and cyclic objects) instead of overflowing the stack. */
export const MAX_ENCODE_DEPTH = 512;

export type Classified =
  | { t: 'string'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'real'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'date'; v: Date }
  | { t: 'data'; v: Buffer }
  | { t: 'uid'; v: number }
  | { t: 'array'; v: PlistValue[] }
  | { t: 'dict'; v: PlistDict };

/**
 * Classifies one value: bigints and integral numbers in -2^63..2^64-1 are integers; other numbers (fractions, NaN,
 * ±Infinity, integral values beyond 64 bits) and {@link PlistReal} are reals.
 * Dicts must be plain objects (prototype Object.prototype or null); Buffers and Uint8Arrays are data.
 * @throws PlistError ERR_PLIST_INVALID_VALUE for non-plist values (including Map, Set and class instances), invalid
 *   Dates, integers outside -2^63..2^64-1, UIDs that are not integers in 0..2^53-1
 */
export function classify(v: unknown): Classified {
  switch (typeof v) {
    case 'string':
      return { t: 'string', v };
    case 'boolean':
      return { t: 'bool', v };
    case 'number':
      // Integral numbers are integers, except those beyond 64 bits (e.g. 1e300), which only a real can hold.
      if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 64) return { t: 'int', v: BigInt(v) };
      return { t: 'real', v };
    case 'bigint':
      return { t: 'int', v: checkInt(v) };
    case 'object': {
      if (v === null) break;
      if (Array.isArray(v)) return { t: 'array', v: v as PlistValue[] };
      if (Buffer.isBuffer(v)) return { t: 'data', v };
      if (v instanceof Uint8Array) return { t: 'data', v: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw new PlistError('ERR_PLIST_INVALID_VALUE', 'invalid Date');
        return { t: 'date', v };
      }
      if (v instanceof PlistReal) {
        if (typeof v.value !== 'number') throw new PlistError('ERR_PLIST_INVALID_VALUE', 'PlistReal value is not a number');
        return { t: 'real', v: v.value };
      }
      if (v instanceof PlistUid) {
        if (!Number.isSafeInteger(v.value) || v.value < 0) throw new PlistError('ERR_PLIST_INVALID_VALUE', `bad UID ${String(v.value)}`);
        return { t: 'uid', v: v.value };
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        // Map, Set, class instances, typed arrays other than Uint8Array: never silently written as an empty dict
        throw new PlistError('ERR_PLIST_INVALID_VALUE', `not a plist value: ${(v as object).constructor?.name ?? 'object'}`);
      }
      return { t: 'dict', v: v as PlistDict };
    }
  }
  throw new PlistError('ERR_PLIST_INVALID_VALUE', `not a plist value: ${v === null ? 'null' : typeof v}`);
}

function checkInt(v: bigint): bigint {
  if (v < INT64_MIN || v > UINT64_MAX) throw new PlistError('ERR_PLIST_INVALID_VALUE', `integer ${v} is outside -2^63..2^64-1`);
  return v;
}

/** Tracks containers on the current path so that cyclic input gives a typed error, not a stack overflow. */
export class PathGuard {
  #onPath = new Set<object>();
  enter(o: object, depth: number): void {
    if (depth > MAX_ENCODE_DEPTH) throw new PlistError('ERR_PLIST_TOO_LARGE', `nesting deeper than ${MAX_ENCODE_DEPTH}`);
    if (this.#onPath.has(o)) throw new PlistError('ERR_PLIST_INVALID_VALUE', 'cyclic value');
    this.#onPath.add(o);
  }
  leave(o: object): void {
    this.#onPath.delete(o);
  }
}
