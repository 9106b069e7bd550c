import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AfcDecoder,
  encodeDataReplyHeader,
  encodeKeyValues,
  encodeNulList,
  encodeOpenResultReply,
  encodePacket,
  encodeStatusReply,
  encodeTellResultReply,
  parseKeyValues,
  parseNulList,
} from '../../../src/afc/codec.ts';
import { AfcOpcode, AfcStatus } from '../../../src/afc/protocol.ts';
import { AfcError, afcErrorCode } from '../../../src/afc/errors.ts';
import { IDeviceError, ProtocolError, TooLargeError } from '../../../src/core/errors.ts';
import { decodeAll, splitEverywhere } from './helpers.ts';

/** Hand-written header: magic, entire, this, packet_num, operation (all u64 LE). */
function header(entire: bigint, thisLen: bigint, num: bigint, op: bigint, magic = 'CFA6LPAA'): Buffer {
  const b = Buffer.alloc(40);
  b.write(magic, 0, 'latin1');
  b.writeBigUInt64LE(entire, 8);
  b.writeBigUInt64LE(thisLen, 16);
  b.writeBigUInt64LE(num, 24);
  b.writeBigUInt64LE(op, 32);
  return b;
}

const VECTORS: { name: string; bytes: Buffer; encode: () => Buffer[] }[] = [
  {
    name: 'GetFileInfo "/DCIM"',
    bytes: Buffer.concat([header(46n, 46n, 5n, 0x0an), Buffer.from('/DCIM\0')]),
    encode: () => encodePacket(5, AfcOpcode.GetFileInfo, { strings: ['/DCIM'] }),
  },
  {
    name: 'FileRefWrite handle 7 + 3 data bytes (this = 48)',
    bytes: Buffer.concat([header(51n, 48n, 9n, 0x10n), Buffer.from('0700000000000000', 'hex'), Buffer.from('abc')]),
    encode: () => encodePacket(9, AfcOpcode.FileRefWrite, { u64: [7], data: Buffer.from('abc') }),
  },
  {
    name: 'FileRefSeek handle 1, END, -5 (i64)',
    bytes: Buffer.concat([header(64n, 64n, 2n, 0x11n), Buffer.from('0100000000000000' + '0200000000000000' + 'fbffffffffffffff', 'hex')]),
    encode: () => encodePacket(2, AfcOpcode.FileRefSeek, { u64: [1, 2, -5] }),
  },
  {
    name: 'RenamePath from\\0to\\0',
    bytes: Buffer.concat([header(48n, 48n, 0n, 0x18n), Buffer.from('/a\0/bcd\0')]),
    encode: () => encodePacket(0, AfcOpcode.RenamePath, { strings: ['/a', '/bcd'] }),
  },
  {
    name: 'STATUS 8 (this = entire = 48)',
    bytes: Buffer.concat([header(48n, 48n, 3n, 1n), Buffer.from('0800000000000000', 'hex')]),
    encode: () => [encodeStatusReply(3, 8)],
  },
  {
    name: 'FileRefOpenResult handle 1',
    bytes: Buffer.concat([header(48n, 48n, 0n, 0x0en), Buffer.from('0100000000000000', 'hex')]),
    encode: () => [encodeOpenResultReply(0, 1)],
  },
  {
    name: 'FileRefTellResult 2^40',
    bytes: Buffer.concat([header(48n, 48n, 4n, 0x13n), Buffer.from('0000000000010000', 'hex')]),
    encode: () => [encodeTellResultReply(4, 2 ** 40)],
  },
  {
    name: 'DATA "xyz" (this = 40, bytes after the header)',
    bytes: Buffer.concat([header(43n, 40n, 1n, 2n), Buffer.from('xyz')]),
    encode: () => [encodeDataReplyHeader(1, 3), Buffer.from('xyz')],
  },
];

for (const v of VECTORS) {
  test(`vector ${v.name}: encode, parse, mirror, every split`, () => {
    const enc = v.encode();
    assert.equal(Buffer.concat(enc).toString('hex'), v.bytes.toString('hex'));
    const [p] = decodeAll(v.bytes);
    const mirror = Buffer.concat([
      header(BigInt(p!.entireLength), BigInt(p!.thisLength), BigInt(p!.packetNum), BigInt(p!.operation)),
      p!.headerPayload,
      p!.data,
    ]);
    assert.equal(mirror.toString('hex'), v.bytes.toString('hex'));
    for (const split of splitEverywhere(v.bytes)) assert.deepEqual(decodeAll(v.bytes, split), [p]);
  });
}

test('encodePacket keeps a large data buffer separate (never concatenated)', () => {
  const data = Buffer.alloc(1 << 20, 1);
  const out = encodePacket(1, AfcOpcode.FileRefWrite, { u64: [3], data });
  assert.equal(out.length, 2);
  assert.equal(out[1], data);
  const pieces = [Buffer.from('ab'), Buffer.from('cd')];
  const out2 = encodePacket(1, AfcOpcode.FileRefWrite, { u64: [3], data: pieces });
  assert.equal(out2[0]!.readBigUInt64LE(8), 52n);
  assert.equal(out2[1], pieces[0]);
});

test('data is emitted as views of the pushed chunks; header copies are counted', () => {
  const d = new AfcDecoder();
  const body = Buffer.alloc(1000, 7);
  const h = encodeDataReplyHeader(0, 1000);
  d.push(h.subarray(0, 20));
  d.push(Buffer.concat([h.subarray(20), body.subarray(0, 10)]));
  d.push(body.subarray(10));
  const evs = [];
  for (let e; (e = d.next()); ) evs.push(e);
  assert.deepEqual(evs.map((e) => e.kind), ['header', 'data', 'data', 'end']);
  const last = evs[2]!;
  assert.ok(last.kind === 'data' && last.chunk.buffer === body.buffer);
  assert.equal(d.bytesCopied, 40);
});

test('NUL lists and key/value bodies: trailing NUL optional, __proto__ is plain data, odd count rejected', () => {
  assert.deepEqual(parseNulList(Buffer.from('a\0b\0')), ['a', 'b']);
  assert.deepEqual(parseNulList(Buffer.from('a\0b')), ['a', 'b']);
  assert.deepEqual(parseNulList(encodeNulList(['.', '..', 'x'])), ['.', '..', 'x']);
  const kv = parseKeyValues(Buffer.from('__proto__\0x\0k\0v\0'));
  assert.equal(kv.__proto__, 'x');
  assert.equal(Object.getPrototypeOf(kv), null);
  assert.deepEqual({ ...parseKeyValues(encodeKeyValues({ Model: 'iPhone', FSBlockSize: '4096' })) }, { Model: 'iPhone', FSBlockSize: '4096' });
  assert.throws(() => parseKeyValues(Buffer.from('k\0')), (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_PROTOCOL');
});

const HOSTILE: { name: string; bytes: Buffer; code: string; cls: new (...args: never[]) => IDeviceError }[] = [
  { name: 'bad magic', bytes: header(40n, 40n, 0n, 1n, 'CFA6LPAB'), code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'this_length < 40', bytes: header(40n, 39n, 0n, 1n), code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'entire_length < this_length', bytes: header(47n, 48n, 0n, 1n), code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'entire_length u64 high word set', bytes: header(1n << 60n, 48n, 0n, 1n), code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'packet_num u64 high word set', bytes: header(48n, 48n, 1n << 62n, 1n), code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'data over the cap (4 GiB, high word 1)', bytes: header((1n << 32n) + 40n, 40n, 0n, 2n), code: 'ERR_PROTOCOL_TOO_LARGE', cls: TooLargeError },
  { name: 'header payload over the cap', bytes: header(70_000n, 70_000n, 0n, 3n), code: 'ERR_PROTOCOL_TOO_LARGE', cls: TooLargeError },
];

for (const h of HOSTILE) {
  test(`hostile header: ${h.name} → ${h.code} before any body arrives`, () => {
    const d = new AfcDecoder();
    d.push(h.bytes);
    assert.throws(
      () => d.next(),
      (e: unknown) => e instanceof h.cls && (e as IDeviceError).code === h.code,
    );
    assert.throws(() => d.next(), (e: unknown) => e instanceof ProtocolError); // stays failed
  });
}

test('bad magic is rejected as soon as 8 bytes are in', () => {
  const d = new AfcDecoder();
  d.push(Buffer.from('GET / HTTP/1.1'));
  assert.throws(() => d.next(), (e: unknown) => e instanceof ProtocolError);
});

test('AfcError codes cover every device status; unknown statuses are preserved', () => {
  for (const [name, status] of Object.entries(AfcStatus)) {
    if (status === 0) continue;
    const e = new AfcError(status, AfcOpcode.GetFileInfo, '/x');
    assert.equal(e.code, `ERR_AFC_${name}`);
    assert.ok(e instanceof IDeviceError);
  }
  const u = new AfcError(77, AfcOpcode.ReadDir);
  assert.equal(u.code, 'ERR_AFC_UNRECOGNISED_STATUS');
  assert.equal(u.status, 77);
  assert.equal(afcErrorCode(8), 'ERR_AFC_OBJECT_NOT_FOUND');
});

test('property: valid packet streams decode identically under any chunking', () => {
  const packet = fc.record({
    num: fc.nat({ max: 2 ** 40 }),
    op: fc.integer({ min: 1, max: 0x28 }),
    strings: fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0')), { maxLength: 3 }),
    u64: fc.array(fc.nat(), { maxLength: 3 }),
    data: fc.uint8Array({ maxLength: 300 }),
  });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 8 }), (pkts, sizes) => {
      const bytes = Buffer.concat(
        pkts.flatMap((p) => encodePacket(p.num, p.op, { u64: p.u64, strings: p.strings, data: Buffer.from(p.data) })),
      );
      const whole = decodeAll(bytes);
      assert.equal(whole.length, pkts.length);
      whole.forEach((d, i) => {
        assert.equal(d.packetNum, pkts[i]!.num);
        assert.equal(d.operation, pkts[i]!.op);
        assert.deepEqual([...d.data], [...pkts[i]!.data]);
        assert.deepEqual(parseNulList(d.headerPayload.subarray(pkts[i]!.u64.length * 8)), pkts[i]!.strings);
      });
      assert.deepEqual(decodeAll(bytes, sizes), whole);
    }),
    { numRuns: 200 },
  );
});

test('property: random bytes either decode or throw our typed errors (never RangeError/TypeError)', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        // Start with a valid magic so the length checks get exercised.
        fc.uint8Array({ minLength: 32, maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('CFA6LPAA'), Buffer.from(b)])),
      ),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
      (bytes, sizes) => {
        try {
          decodeAll(Buffer.from(bytes), sizes);
        } catch (e) {
          assert.ok(e instanceof ProtocolError || e instanceof TooLargeError, `unexpected ${String(e)}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});
