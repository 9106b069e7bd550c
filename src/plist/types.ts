/**
 * The plist value model shared by the XML and binary codecs.
 *
 * - string, boolean, Date, Buffer (<data>), arrays and dicts (plain objects, insertion order kept).
 * - integers: `number` when safe, `bigint` beyond ±2^53 (u64 values such as ECIDs may need it).
 * - reals: decoded as `number`. Encoding a `number` writes <integer> when Number.isInteger(n) and it fits in 64 bits,
 *   else <real>; wrap in {@link PlistReal} to force <real> (e.g. 1.0).
 * - dicts: plain objects only (Map, Set and class instances are rejected by the encoders); a `__proto__` key is
 *   decoded as an own property, never as a prototype. Dict entries whose value is `undefined` are not encoded.
 * - UIDs (binary plists, NSKeyedArchiver): {@link PlistUid}.
 */
export type PlistValue = string | number | bigint | boolean | Date | Buffer | PlistUid | PlistReal | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

/** A binary-plist UID (CF$UID). */
export class PlistUid {
  constructor(readonly value: number) {}
}

/** Forces a number to be encoded as <real> even when it is integral. */
export class PlistReal {
  constructor(readonly value: number) {}
}

export function isPlistDict(v: unknown): v is PlistDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v) && !(v instanceof PlistUid) && !(v instanceof PlistReal);
}
