/**
 * Cross-checks against independent implementations (devDependencies, used only in tests):
 * the `plist` npm package (XML and binary) and `bplist-parser` (binary).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as plistPkg from 'plist';
import { parseBuffer, UID } from 'bplist-parser';
import { parsePlist, encodeXmlPlist, encodeBinaryPlist, PlistUid, type PlistValue } from '../../../src/plist/index.ts';
import { plistValueArb, normalise, fcRuns } from './arbitraries.ts';

/** Maps the other libraries' shapes onto ours: Uint8Array → Buffer, UID → PlistUid. */
function fromOracle(v: unknown): PlistValue {
  if (v instanceof UID) return new PlistUid(v.UID);
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(fromOracle);
  if (v instanceof Date || typeof v !== 'object' || v === null) return v as PlistValue;
  const out: Record<string, PlistValue> = {};
  for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: fromOracle((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Values both sides model identically: no bigints/UIDs/forced reals/non-finite reals, printable text, whole-second
 * dates, and no `__proto__` keys (bplist-parser assigns that key as the prototype; we keep it as an own key).
 */
const simple = plistValueArb({ printable: true, simple: true, wholeSecondDates: true, noProtoKey: true });

test('oracle: our XML parsed by the plist package', () => {
  fc.assert(
    fc.property(simple, (v) => {
      assert.deepEqual(fromOracle(plistPkg.parse(encodeXmlPlist(v).toString('utf8'))), normalise(v));
    }),
    fcRuns(200),
  );
});

test('oracle: plist package XML output parsed by us', () => {
  fc.assert(
    fc.property(simple, (v) => {
      assert.deepEqual(parsePlist(Buffer.from(plistPkg.build(v as plistPkg.PlistValue))), normalise(v));
    }),
    fcRuns(200),
  );
});

test('oracle: our binary output parsed by bplist-parser 0.5', () => {
  fc.assert(
    // whole-second dates: bplist-parser truncates float seconds to ms (new Date(s * 1000)) where we round, so a
    // fractional date can come back 1 ms early there; our own ms precision is covered by the round-trip properties
    fc.property(plistValueArb({ wholeSecondDates: true, noProtoKey: true }), (v) => {
      // bplist-parser returns every integer ≥ 2^32 (and negative 8-byte ints) as bigint and keeps -0 / NaN as is
      const [got] = parseBuffer(encodeBinaryPlist(v));
      assert.deepEqual(normaliseInts(fromOracle(got)), normaliseInts(normalise(v)));
    }),
    fcRuns(200),
  );
});

test('oracle: our binary output parsed by the plist package, and its binary output parsed by us', () => {
  fc.assert(
    fc.property(simple, (v) => {
      assert.deepEqual(normaliseInts(fromOracle(plistPkg.parseBinary(encodeBinaryPlist(v)))), normaliseInts(normalise(v)));
      assert.deepEqual(normaliseInts(parsePlist(Buffer.from(plistPkg.buildBinary(v as plistPkg.PlistValue)))), normaliseInts(normalise(v)));
    }),
    fcRuns(200),
  );
});

/** bigint ↔ number differences between libraries are representation only: compare integers as bigint. */
function normaliseInts(v: PlistValue): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map(normaliseInts);
  if (v && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v) && !(v instanceof PlistUid)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: normaliseInts((v as Record<string, PlistValue>)[k]!), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}
