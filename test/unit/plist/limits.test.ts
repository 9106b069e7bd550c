import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../../src/core/errors.ts';
import { parsePlist, encodeBinaryPlist, encodeXmlPlist, PlistError, MAX_DEPTH_LIMIT, type PlistValue } from '../../../src/plist/index.ts';

const isInvalidArg = (e: unknown): boolean => e instanceof InvalidArgumentError && e.code === 'ERR_INVALID_ARG';
const isTooLarge = (e: unknown): boolean => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE';

test('limits: bad options are ERR_INVALID_ARG', () => {
  const doc = encodeXmlPlist(true);
  for (const o of [{ maxDepth: -1 }, { maxObjects: NaN }, { maxBytes: 1.5 }, { maxDepth: MAX_DEPTH_LIMIT + 1 }, { maxObjects: Infinity }]) {
    assert.throws(() => parsePlist(doc, o), isInvalidArg, JSON.stringify(o));
  }
  assert.throws(() => parsePlist('<plist><true/></plist>' as unknown as Buffer), isInvalidArg);
});

test('limits: a Uint8Array is accepted like a Buffer', () => {
  const b = encodeBinaryPlist({ a: [1] });
  assert.deepEqual(parsePlist(new Uint8Array(b)), { a: [1] });
});

test(`limits: nesting up to maxDepth ${MAX_DEPTH_LIMIT} decodes in both formats without touching the stack limit`, () => {
  let v: PlistValue = [];
  for (let i = 1; i < MAX_DEPTH_LIMIT; i++) v = [v];
  const xml = Buffer.from(`<plist>${'<array>'.repeat(MAX_DEPTH_LIMIT)}${'</array>'.repeat(MAX_DEPTH_LIMIT)}</plist>`);
  assert.deepEqual(parsePlist(xml, { maxDepth: MAX_DEPTH_LIMIT }), v);
  const deeper = Buffer.from(`<plist>${'<array>'.repeat(MAX_DEPTH_LIMIT + 1)}${'</array>'.repeat(MAX_DEPTH_LIMIT + 1)}</plist>`);
  assert.throws(() => parsePlist(deeper, { maxDepth: MAX_DEPTH_LIMIT }), isTooLarge);
  // binary chain of MAX_DEPTH_LIMIT arrays built by hand (our encoder stops at 512)
  const n = MAX_DEPTH_LIMIT;
  const objs: Buffer[] = [];
  for (let i = 0; i < n - 1; i++) objs.push(Buffer.from([0xa1, (i + 1) >> 8, (i + 1) & 0xff]));
  objs.push(Buffer.from([0xa0]));
  const offsets: number[] = [];
  let pos = 8;
  for (const o of objs) {
    offsets.push(pos);
    pos += o.length;
  }
  const table = Buffer.alloc(n * 2);
  offsets.forEach((o, i) => table.writeUInt16BE(o, i * 2));
  const trailer = Buffer.alloc(32);
  trailer[6] = 2;
  trailer[7] = 2;
  trailer.writeBigUInt64BE(BigInt(n), 8);
  trailer.writeBigUInt64BE(BigInt(pos), 24);
  const bin = Buffer.concat([Buffer.from('bplist00'), ...objs, table, trailer]);
  assert.deepEqual(parsePlist(bin, { maxDepth: MAX_DEPTH_LIMIT }), v);
  assert.throws(() => parsePlist(bin, { maxDepth: MAX_DEPTH_LIMIT - 1 }), isTooLarge);
});

test('limits: maxBytes bounds decoded XML text too', () => {
  const doc = Buffer.from(`<plist><array>${'<string>aaaaaaaaaa</string>'.repeat(10)}</array></plist>`);
  assert.equal((parsePlist(doc, { maxBytes: doc.length }) as string[]).length, 10);
  assert.throws(() => parsePlist(doc, { maxBytes: doc.length - 1 }), isTooLarge);
});
