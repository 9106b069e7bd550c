import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlist, encodeBinaryPlist, PlistError, PlistUid, PlistReal, type PlistValue } from '../../../src/plist/index.ts';
import { bplist, ascii } from './bplist-builder.ts';

/** [name, objects (object 0 is the top), expected value] */
const vectors: [string, number[][], PlistValue][] = [
  ['false', [[0x08]], false],
  ['true', [[0x09]], true],
  ['int 1 byte', [[0x10, 0x05]], 5],
  ['int 2 bytes', [[0x11, 0x12, 0x34]], 0x1234],
  ['int 4 bytes', [[0x12, 0x00, 0x01, 0x00, 0x00]], 65536],
  ['int 8 bytes negative', [[0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]], -2],
  ['int 8 bytes beyond 2^53 → bigint', [[0x13, 0x40, 0, 0, 0, 0, 0, 0, 0]], 2n ** 62n],
  ['int 16 bytes (u64 max) → bigint', [[0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]], 2n ** 64n - 1n],
  ['int 16 bytes small → number', [[0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]], 7],
  ['real 4 bytes', [[0x22, 0x3f, 0xc0, 0x00, 0x00]], 1.5],
  ['real 8 bytes', [[0x23, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]], 0.1],
  ['date epoch 2001', [[0x33, 0, 0, 0, 0, 0, 0, 0, 0]], new Date('2001-01-01T00:00:00Z')],
  ['date negative fraction', [[0x33, 0xbf, 0xe0, 0, 0, 0, 0, 0, 0]], new Date('2000-12-31T23:59:59.500Z')],
  ['data short', [[0x43, 1, 2, 3]], Buffer.from([1, 2, 3])],
  ['data empty', [[0x40]], Buffer.alloc(0)],
  ['data 15 bytes (0x4F + int length)', [[0x4f, 0x10, 0x0f, ...Array(15).fill(0xaa)]], Buffer.alloc(15, 0xaa)],
  ['ASCII string', [[0x53, ...ascii('abc')]], 'abc'],
  ['ASCII string empty', [[0x50]], ''],
  ['UTF-16BE string', [[0x62, 0x00, 0xe9, 0x27, 0x13]], 'é✓'],
  ['UTF-16BE surrogate pair', [[0x62, 0xd8, 0x3d, 0xde, 0x00]], '😀'],
  ['UID 1 byte', [[0x80, 0x07]], new PlistUid(7)],
  ['UID 4 bytes', [[0x83, 0x01, 0x02, 0x03, 0x04]], new PlistUid(0x01020304)],
  ['array', [[0xa2, 1, 2], [0x10, 0x01], [0x09]], [1, true]],
  ['array empty', [[0xa0]], []],
  ['set decodes as array', [[0xc2, 1, 2], [0x10, 0x01], [0x10, 0x02]], [1, 2]],
  ['ordset decodes as array', [[0xb1, 1], [0x10, 0x01]], [1]],
  ['dict', [[0xd2, 1, 2, 3, 4], [0x51, ...ascii('a')], [0x51, ...ascii('b')], [0x10, 0x01], [0x50]], { a: 1, b: '' }],
  ['dict empty', [[0xd0]], {}],
  ['shared key object', [[0xa2, 1, 1], [0xd1, 2, 2], [0x51, ...ascii('k')]], [{ k: 'k' }, { k: 'k' }]],
  ['__proto__ key is a plain key', [[0xd1, 1, 2], [0x59, ...ascii('__proto__')], [0x10, 0x01]], JSON.parse('{"__proto__":1}') as PlistValue],
];

for (const [name, objects, expected] of vectors) {
  test(`bplist decode: ${name}`, () => {
    assert.deepEqual(parsePlist(bplist(objects)), expected);
  });
  test(`bplist mirror: ${name}`, () => {
    assert.deepEqual(parsePlist(encodeBinaryPlist(expected)), expected);
  });
}

test('bplist decode: top object not first, 2-byte refs and offsets', () => {
  const buf = bplist([[0x10, 0x01], [0xa1, 0x00, 0x00]], { top: 1, refSize: 2, offsetSize: 2 });
  assert.deepEqual(parsePlist(buf), [1]);
});

test('bplist decode: __proto__ key does not change the prototype', () => {
  const v = parsePlist(bplist([[0xd1, 1, 2], [0x59, ...ascii('__proto__')], [0xd0]])) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
});

test('bplist encode: exact bytes of {k: 1}', () => {
  const expected = bplist([
    [0xd1, 0x01, 0x02], // dict of 1: key ref 1, value ref 2
    [0x51, ...ascii('k')], // ASCII "k"
    [0x10, 0x01], // int 1
  ]);
  assert.deepEqual(encodeBinaryPlist({ k: 1 }), expected);
});

test('bplist encode: minimal integer sizes', () => {
  const cases: [number | bigint, number[]][] = [
    [0, [0x10, 0x00]],
    [255, [0x10, 0xff]],
    [256, [0x11, 0x01, 0x00]],
    [65536, [0x12, 0x00, 0x01, 0x00, 0x00]],
    [2 ** 32, [0x13, 0, 0, 0, 1, 0, 0, 0, 0]],
    [-1, [0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    [2n ** 63n, [0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]],
  ];
  for (const [v, bytes] of cases) assert.deepEqual(encodeBinaryPlist(v), bplist([bytes]), String(v));
});

test('bplist encode: real, forced real, date, UTF-16, long string header', () => {
  assert.deepEqual(encodeBinaryPlist(new PlistReal(1)), bplist([[0x23, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]]));
  assert.deepEqual(encodeBinaryPlist(new Date('2001-01-01T00:00:01Z')), bplist([[0x33, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]]));
  assert.deepEqual(encodeBinaryPlist('é'), bplist([[0x61, 0x00, 0xe9]]));
  assert.deepEqual(encodeBinaryPlist('a'.repeat(15)), bplist([[0x5f, 0x10, 0x0f, ...ascii('a'.repeat(15))]]));
});

test('bplist encode: lone surrogates survive the UTF-16 form', () => {
  const v = ['a\ud800b', '\udfff', 'x😀\ud83d'];
  assert.deepEqual(parsePlist(encodeBinaryPlist(v)), v);
});

test('bplist encode: strings are written once', () => {
  const buf = encodeBinaryPlist([{ x: 'x' }, { x: 'x' }]);
  assert.equal(buf.indexOf('Qx', 0, 'latin1'), buf.lastIndexOf('Qx', undefined, 'latin1'));
});

const bad: [string, Buffer, string][] = [
  ['truncated header', Buffer.from('bplist00'), 'ERR_PLIST_SYNTAX'],
  ['bplist15', Buffer.concat([Buffer.from('bplist15'), Buffer.alloc(40)]), 'ERR_PLIST_UNSUPPORTED'],
  ['null object', bplist([[0x00]]), 'ERR_PLIST_UNSUPPORTED'],
  ['fill object', bplist([[0x0f]]), 'ERR_PLIST_UNSUPPORTED'],
  ['unknown marker 0x90', bplist([[0x90]]), 'ERR_PLIST_SYNTAX'],
  ['ref out of range', bplist([[0xa1, 0x05]]), 'ERR_PLIST_SYNTAX'],
  ['self-containing array', bplist([[0xa1, 0x00]]), 'ERR_PLIST_CYCLE'],
  ['indirect cycle', bplist([[0xa1, 0x01], [0xd1, 0x02, 0x00], [0x51, 0x6b]]), 'ERR_PLIST_CYCLE'],
  ['non-string dict key', bplist([[0xd1, 1, 1], [0x10, 0x01]]), 'ERR_PLIST_SYNTAX'],
  ['data length past the end', bplist([[0x4f, 0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]), 'ERR_PLIST_SYNTAX'],
  ['array count past the end', bplist([[0xaf, 0x12, 0x7f, 0xff, 0xff, 0xff]]), 'ERR_PLIST_SYNTAX'],
  ['int truncated', bplist([[0x13, 0x01]]), 'ERR_PLIST_SYNTAX'],
  ['int 32 bytes', bplist([[0x15, ...Array(32).fill(0)]]), 'ERR_PLIST_UNSUPPORTED'],
];

for (const [name, buf, code] of bad) {
  test(`bplist reject: ${name} → ${code}`, () => {
    assert.throws(() => parsePlist(buf), (e: unknown) => e instanceof PlistError && e.code === code);
  });
}

test('bplist reject: trailer fields', () => {
  const good = bplist([[0x10, 0x01]]);
  const t = good.length - 32;
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  const cases: [string, Buffer, string][] = [
    ['offset size 0', mutate((b) => (b[t + 6] = 0)), 'ERR_PLIST_SYNTAX'],
    ['ref size 9', mutate((b) => (b[t + 7] = 9)), 'ERR_PLIST_SYNTAX'],
    ['zero objects', mutate((b) => b.writeBigUInt64BE(0n, t + 8)), 'ERR_PLIST_SYNTAX'],
    ['huge object count', mutate((b) => b.writeBigUInt64BE(2n ** 40n, t + 8)), 'ERR_PLIST_TOO_LARGE'],
    ['object count over the table', mutate((b) => b.writeBigUInt64BE(1000n, t + 8)), 'ERR_PLIST_SYNTAX'],
    ['top out of range', mutate((b) => b.writeBigUInt64BE(1n, t + 16)), 'ERR_PLIST_SYNTAX'],
    ['table offset past the trailer', mutate((b) => b.writeBigUInt64BE(BigInt(t + 1), t + 24)), 'ERR_PLIST_SYNTAX'],
    ['table offset 2^64-1', mutate((b) => b.writeBigUInt64BE(2n ** 64n - 1n, t + 24)), 'ERR_PLIST_SYNTAX'],
    ['object offset into the header', mutate((b) => (b[t - 1] = 2)), 'ERR_PLIST_SYNTAX'],
    ['object offset past the end', mutate((b) => (b[t - 1] = 0xff)), 'ERR_PLIST_SYNTAX'],
  ];
  for (const [name, buf, code] of cases) {
    assert.throws(() => parsePlist(buf), (e: unknown) => e instanceof PlistError && e.code === code, name);
  }
});

test('bplist caps: maxObjects, maxDepth, maxBytes', () => {
  const nested = bplist([[0xa1, 1], [0xa1, 2], [0xa1, 3], [0xa0]]);
  assert.deepEqual(parsePlist(nested, { maxDepth: 4 }), [[[[]]]]);
  assert.throws(() => parsePlist(nested, { maxDepth: 3 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  assert.throws(() => parsePlist(nested, { maxObjects: 3 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  assert.throws(() => parsePlist(nested, { maxBytes: 10 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
});

test('bplist caps: shared-reference expansion (billion laughs) is bounded', () => {
  // object i = [i+1, i+1]: 2^60 leaves if expanded.
  const objs: number[][] = [];
  for (let i = 0; i < 60; i++) objs.push([0xa2, i + 1, i + 1]);
  objs.push([0x10, 0x01]);
  assert.throws(() => parsePlist(bplist(objs)), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  // shared 1 KiB data referenced 100 times: decoded bytes counted against maxBytes
  const big = bplist([[0xaf, 0x10, 100, ...Array(100).fill(1)], [0x4f, 0x11, 0x04, 0x00, ...Array(1024).fill(7)]]);
  assert.equal((parsePlist(big) as Buffer[]).length, 100);
  assert.throws(() => parsePlist(big, { maxBytes: 50_000 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
});

test('bplist encode: invalid values → ERR_PLIST_INVALID_VALUE', () => {
  const cyc: PlistValue[] = [];
  cyc.push(cyc);
  const bads: unknown[] = [undefined, null, () => 1, Symbol('x'), new Date(NaN), 2n ** 64n, -(2n ** 63n) - 1n, [undefined], new PlistUid(-1), cyc, new Map([['a', 1]]), new Set([1]), new Uint16Array(2), /re/, new (class Foo {})()];
  for (const b of bads) {
    assert.throws(() => encodeBinaryPlist(b as PlistValue), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_INVALID_VALUE', String(b));
  }
  assert.deepEqual(parsePlist(encodeBinaryPlist([new Uint8Array([1, 2]), Object.assign(Object.create(null) as object, { a: 1 })] as PlistValue)), [Buffer.from([1, 2]), { a: 1 }]);
  assert.deepEqual(encodeBinaryPlist(1e20), encodeBinaryPlist(new PlistReal(1e20)), 'integral beyond 64 bits → real');
  assert.deepEqual(parsePlist(encodeBinaryPlist(2 ** 60)), 2n ** 60n, 'integral unsafe number → integer');
  assert.deepEqual(parsePlist(encodeBinaryPlist({ a: 1, b: undefined } as unknown as PlistValue)), { a: 1 });
});
