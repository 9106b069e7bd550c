/** fast-check arbitraries for the plist value model, and the normalisation a decode applies. */
import fc from 'fast-check';
import { type PlistValue, PlistReal, PlistUid } from '../../../src/plist/index.ts';

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface ValueOpts {
  /** Strings restricted to printable ASCII/BMP text without control characters (for XML oracles). */
  printable?: boolean;
  /** Leave out bigints, UIDs, PlistReal and non-finite reals (for oracles that do not model them). */
  simple?: boolean;
  /** Only whole-second dates. */
  wholeSecondDates?: boolean;
  maxDepth?: number;
  /** No `__proto__` dict keys (other libraries assign them as prototypes). */
  noProtoKey?: boolean;
}

export function stringArb(printable = false): fc.Arbitrary<string> {
  return printable
    ? fc.string({ unit: fc.constantFrom(...'abcXYZ019 _-.<>&"\'/é✓😀'.match(/./gu)!) })
    : fc.string({ unit: 'binary', maxLength: 20 });
}

export function plistValueArb(o: ValueOpts = {}): fc.Arbitrary<PlistValue> {
  const dateArb = fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => (o.wholeSecondDates ? new Date(Math.floor(d.getTime() / 1000) * 1000) : d));
  const leaves: fc.Arbitrary<PlistValue>[] = [
    stringArb(o.printable),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -1000, max: 100000 }),
    o.simple ? fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)) : fc.double(),
    dateArb,
    fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
  ];
  if (!o.simple) {
    leaves.push(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.double().map((d) => new PlistReal(d)),
      fc.integer({ min: 0, max: 0xffffffff }).map((n) => new PlistUid(n)),
    );
  }
  const keyArb = stringArb(o.printable).filter((k) => k !== 'CF$UID' && !(o.noProtoKey && k === '__proto__'));
  const { value } = fc.letrec<{ value: PlistValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: o.maxDepth ?? 4 },
      ...leaves,
      fc.array(tie('value'), { maxLength: 6 }),
      fc.dictionary(keyArb, tie('value'), { maxKeys: 6 }),
    ),
  }));
  return value;
}

/** What a decoder returns for `v`: PlistReal → number, safe bigint → number, integral -0 → 0. */
export function normalise(v: PlistValue): PlistValue {
  if (typeof v === 'bigint') return v >= -SAFE && v <= SAFE ? Number(v) : v;
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return 0;
    if (Number.isInteger(v) && !Number.isSafeInteger(v) && v >= -(2 ** 63) && v < 2 ** 64) return BigInt(v);
    return v;
  }
  if (v instanceof PlistReal) return v.value;
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v) && !(v instanceof PlistUid)) {
    const out: Record<string, PlistValue> = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: normalise(v[k] as PlistValue), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/**
 * fast-check run options: a fixed seed by default so the suite is deterministic; PLIST_FC_SEED=<n> replays a reported
 * seed, PLIST_FC_SEED=random explores, PLIST_FC_FACTOR=<k> multiplies the number of runs (e.g. 100 for a long fuzz).
 */
export function fcRuns(numRuns: number): { numRuns: number; seed?: number } {
  const factor = Number(process.env.PLIST_FC_FACTOR ?? 1);
  const seedEnv = process.env.PLIST_FC_SEED;
  const runs = Math.max(1, Math.round(numRuns * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
  if (seedEnv === 'random') return { numRuns: runs };
  return { numRuns: runs, seed: seedEnv !== undefined ? Number(seedEnv) : 20261125 };
}
