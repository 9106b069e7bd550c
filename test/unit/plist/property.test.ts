import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePlist, encodeXmlPlist, encodeBinaryPlist, PlistError, type PlistValue } from '../../../src/plist/index.ts';
import { plistValueArb, normalise, fcRuns } from './arbitraries.ts';
import { bplist } from './bplist-builder.ts';

const RUNS = 300;

test('property: value → XML → value', () => {
  fc.assert(
    fc.property(plistValueArb(), (v) => {
      assert.deepEqual(parsePlist(encodeXmlPlist(v)), normalise(v));
    }),
    fcRuns(RUNS),
  );
});

test('property: value → binary → value', () => {
  fc.assert(
    fc.property(plistValueArb(), (v) => {
      assert.deepEqual(parsePlist(encodeBinaryPlist(v)), normalise(v));
    }),
    fcRuns(RUNS),
  );
});

test('property: XML → value → binary → value → XML is stable', () => {
  fc.assert(
    fc.property(plistValueArb(), (v) => {
      const x1 = encodeXmlPlist(v);
      const x2 = encodeXmlPlist(parsePlist(encodeBinaryPlist(parsePlist(x1))));
      assert.equal(x2.toString(), encodeXmlPlist(normalise(v)).toString());
    }),
    fcRuns(RUNS),
  );
});

/** parsePlist must return or throw a PlistError; anything else (RangeError, TypeError, stack overflow) fails. */
function parsesOrPlistError(buf: Buffer): void {
  try {
    parsePlist(buf, { maxObjects: 10_000, maxBytes: 1 << 20 });
  } catch (e) {
    if (!(e instanceof PlistError)) throw e;
    assert.match(e.code, /^ERR_PLIST_/);
  }
}

test('fuzz: random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (u) => parsesOrPlistError(Buffer.from(u))), fcRuns(1000));
});

test('fuzz: random bytes behind a bplist00 / XML prefix', () => {
  fc.assert(
    fc.property(fc.constantFrom('bplist00', '<?xml version="1.0"?><plist>', '<plist><dict><key>'), fc.uint8Array({ maxLength: 200 }), (p, u) =>
      parsesOrPlistError(Buffer.concat([Buffer.from(p), u])),
    ),
    fcRuns(1000),
  );
});

const mutation = fc.record({
  edits: fc.array(fc.record({ pos: fc.nat(), byte: fc.nat(255), kind: fc.constantFrom('set', 'insert', 'delete') }), { minLength: 1, maxLength: 6 }),
  cut: fc.option(fc.nat()),
});

function mutate(buf: Buffer, m: { edits: { pos: number; byte: number; kind: string }[]; cut: number | null }, protectPrefix: number): Buffer {
  const b = [...buf];
  for (const e of m.edits) {
    const at = protectPrefix + (e.pos % Math.max(1, b.length - protectPrefix));
    if (e.kind === 'set') b[at] = e.byte;
    else if (e.kind === 'insert') b.splice(at, 0, e.byte);
    else b.splice(at, 1);
  }
  const out = Buffer.from(b);
  return m.cut === null ? out : out.subarray(0, m.cut % (out.length + 1));
}

test('fuzz: mutated binary plists', () => {
  fc.assert(
    fc.property(plistValueArb(), mutation, (v, m) => parsesOrPlistError(mutate(encodeBinaryPlist(v), m, 8))),
    fcRuns(1500),
  );
});

test('fuzz: mutated binary plists, trailer and offset table targeted', () => {
  fc.assert(
    fc.property(plistValueArb(), fc.array(fc.tuple(fc.nat(63), fc.nat(255)), { minLength: 1, maxLength: 4 }), (v, edits) => {
      const b = Buffer.from(encodeBinaryPlist(v));
      for (const [back, byte] of edits) b[Math.max(8, b.length - 1 - back)] = byte;
      parsesOrPlistError(b);
    }),
    fcRuns(1500),
  );
});

test('fuzz: random objects behind a valid offset table and trailer', () => {
  // markers biased to real types so the decoder reaches containers, lengths and refs, not just the trailer checks
  const byte = fc.oneof(fc.nat(255), fc.constantFrom(0x0f, 0x1f, 0x4f, 0x5f, 0x6f, 0xaf, 0xdf, 0xa2, 0xd1, 0x13, 0x14, 0x33, 0x80, 0x00, 0x01, 0x02));
  const objects = fc.array(fc.array(byte, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(objects, fc.nat(9), fc.constantFrom(1, 2), (objs, top, refSize) => parsesOrPlistError(bplist(objs, { top: top % (objs.length + 1), refSize }))),
    fcRuns(3000),
  );
});

test('fuzz: mutated XML plists', () => {
  fc.assert(
    fc.property(plistValueArb(), mutation, (v, m) => parsesOrPlistError(mutate(encodeXmlPlist(v), m, 0))),
    fcRuns(1500),
  );
});

test('fuzz: XML token soup', () => {
  const tokens = ['<dict>', '</dict>', '<array>', '</array>', '<key>', '</key>', '<string>', '</string>', '<integer>', '</integer>', '<real>', '</real>',
    '<data>', '</data>', '<date>', '</date>', '<true/>', '<false/>', '<dict/>', '<array/>', '&amp;', '&#x41;', '&#99999999;', '&', '<!--', '-->',
    '<![CDATA[', ']]>', '<?', '?>', '1', '-', 'x', 'AAAA', '2021-01-01T00:00:00Z', ' ', '\n', '<', '>', '/', '"', '=', '<plist>', '</plist>'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 40 }), (ts) => parsesOrPlistError(Buffer.from(`<plist>${ts.join('')}`))),
    fcRuns(1500),
  );
});

test('property: deep nesting in either format never overflows the stack', () => {
  let v: PlistValue = [];
  for (let i = 0; i < 600; i++) v = [v];
  assert.throws(() => encodeBinaryPlist(v), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  let w: PlistValue = [];
  for (let i = 0; i < 511; i++) w = [w];
  assert.deepEqual(parsePlist(encodeBinaryPlist(w)), w);
  assert.deepEqual(parsePlist(encodeXmlPlist(w)), w);
});
