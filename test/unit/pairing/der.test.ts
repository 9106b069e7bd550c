import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeInteger,
  decodeOid,
  decodeTime,
  derBitString,
  derBoolean,
  derChildren,
  derContent,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  DerTag,
  derTime,
  readDer,
  readDerExact,
} from '../../../src/pairing/der.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import { inspectCertificate } from '../../../src/pairing/certificate-info.ts';

const hex = (b: Buffer): string => b.toString('hex');

const integerVectors: [number | bigint | Buffer, string][] = [
  [0, '020100'],
  [1, '020101'],
  [127, '02017f'],
  [128, '02020080'], // sign bit set → leading zero
  [256, '02020100'],
  [-1, '0201ff'],
  [-128, '020180'],
  [-129, '0202ff7f'],
  [2n ** 64n, '0209010000000000000000'],
  [Buffer.from([0, 0, 0x80]), '02020080'], // unsigned magnitude: leading zeros stripped, one sign zero added
  [Buffer.from([0x7f, 0xff]), '02027fff'],
  [Buffer.alloc(0), '020100'],
];
for (const [v, want] of integerVectors) {
  test(`derInteger ${Buffer.isBuffer(v) ? `0x${hex(v)}` : String(v)} = ${want}`, () => {
    const enc = derInteger(v);
    assert.equal(hex(enc), want);
    const node = readDerExact(enc, DerTag.Integer);
    const back = decodeInteger(derContent(enc, node));
    const expect = Buffer.isBuffer(v) ? (v.length ? BigInt(`0x${hex(v)}`) : 0n) : BigInt(v);
    assert.equal(back, expect);
  });
}

const oidVectors: [string, string][] = [
  ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.5', '06092a864886f70d010105'], // sha1WithRSAEncryption
  ['2.5.29.19', '0603551d13'], // basicConstraints
  ['2.999.3', '0603883703'], // first arc 2 with a large second arc
];
for (const [oid, want] of oidVectors) {
  test(`derOid ${oid}`, () => {
    const enc = derOid(oid);
    assert.equal(hex(enc), want);
    assert.equal(decodeOid(derContent(enc, readDerExact(enc, DerTag.ObjectIdentifier))), oid);
  });
}

test('derOid rejects malformed identifiers', () => {
  for (const bad of ['', '1', '3.1', '1.40', 'a.b', '1..2']) {
    assert.throws(() => derOid(bad), (e: unknown) => e instanceof PairingError && e.code === 'ERR_PAIRING_BAD_DER', bad);
  }
});

test('simple types', () => {
  assert.equal(hex(derBoolean(true)), '0101ff');
  assert.equal(hex(derBoolean(false)), '010100');
  assert.equal(hex(derNull()), '0500');
  assert.equal(hex(derSequence()), '3000');
  assert.equal(hex(derBitString(Buffer.from([0xa0]))), '030200a0');
  assert.equal(hex(derOctetString(Buffer.from('hi'))), '04026869');
});

test('lengths: short form, 0x81 and 0x82 long forms, and back', () => {
  for (const [n, head] of [
    [127, '047f'],
    [128, '048180'],
    [255, '0481ff'],
    [256, '04820100'],
    [70000, '0483011170'],
  ] as const) {
    const enc = derOctetString(Buffer.alloc(n, 7));
    assert.equal(hex(enc.subarray(0, head.length / 2)), head);
    const node = readDerExact(enc, DerTag.OctetString);
    assert.equal(node.end - node.contentStart, n);
  }
});

test('time: UTCTime before 2050, GeneralizedTime from 2050, milliseconds dropped', () => {
  const t1 = derTime(new Date('2026-11-25T15:02:15.987Z'));
  assert.equal(t1[0], DerTag.UtcTime);
  assert.equal(derContent(t1, readDerExact(t1)).toString('latin1'), '261125150215Z');
  assert.equal(decodeTime(t1[0]!, derContent(t1, readDerExact(t1))).toISOString(), '2026-11-25T15:02:15.000Z');
  const t2 = derTime(new Date('2050-01-01T00:00:00Z'));
  assert.equal(t2[0], DerTag.GeneralizedTime);
  assert.equal(derContent(t2, readDerExact(t2)).toString('latin1'), '20500101000000Z');
  assert.equal(decodeTime(t2[0]!, derContent(t2, readDerExact(t2))).getUTCFullYear(), 2050);
  const t3 = derTime(new Date('1999-12-31T23:59:59Z'));
  assert.equal(decodeTime(t3[0]!, derContent(t3, readDerExact(t3))).getUTCFullYear(), 1999);
  assert.throws(() => derTime(new Date(NaN)), (e: unknown) => e instanceof PairingError && e.code === 'ERR_PAIRING_BAD_DER');
});

test('children of a nested sequence', () => {
  const enc = derSequence(derInteger(5), derSequence(derNull(), derBoolean(true)), derOctetString(Buffer.from([1])));
  const kids = derChildren(enc, readDerExact(enc, DerTag.Sequence));
  assert.deepEqual(
    kids.map((k) => k.tag),
    [DerTag.Integer, DerTag.Sequence, DerTag.OctetString],
  );
  assert.equal(derChildren(enc, kids[1]!).length, 2);
  assert.throws(() => derChildren(enc, kids[0]!), (e: unknown) => e instanceof PairingError && e.code === 'ERR_PAIRING_BAD_DER');
});

const hostile: [string, string][] = [
  ['empty', ''],
  ['tag only', '30'],
  ['content past the end', '3005020101'],
  ['indefinite length', '30800000'],
  ['length field of 5 bytes', '30850000000001'],
  ['non-minimal long length (0x81 0x05)', '3081050201010500'],
  ['long length with leading zero', '308200050201010500'],
  ['truncated long length', '3082'],
  ['multi-byte tag', '1f8101'],
  ['trailing byte', '050000'],
  ['child runs past parent', '30030204010203'],
];
for (const [name, h] of hostile) {
  test(`hostile DER: ${name} → ERR_PAIRING_BAD_DER`, () => {
    const buf = Buffer.from(h, 'hex');
    assert.throws(
      () => {
        const n = readDerExact(buf);
        if (n.tag & 0x20) for (const c of derChildren(buf, n)) readDer(buf, c.start, n.end);
      },
      (e: unknown) => e instanceof PairingError && e.code === 'ERR_PAIRING_BAD_DER',
    );
  });
}

test('property: random bytes either parse as a certificate or throw ERR_PAIRING_BAD_DER, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        inspectCertificate(Buffer.from(bytes));
      } catch (e) {
        if (!(e instanceof PairingError) || e.code !== 'ERR_PAIRING_BAD_DER') throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: mutated certificate prefixes never escape as RangeError/TypeError', () => {
  // A small well-formed certificate-shaped skeleton, then single-byte corruption at every offset.
  const tbs = derSequence(
    Buffer.from('a003020102', 'hex'),
    derInteger(1),
    derSequence(derOid('1.2.840.113549.1.1.11'), derNull()),
    derSequence(),
    derSequence(derTime(new Date(0)), derTime(new Date(1e12))),
    derSequence(),
    derSequence(derSequence(derOid('1.2.840.113549.1.1.1'), derNull()), derBitString(Buffer.from([0x30, 0x00]))),
  );
  const cert = derSequence(tbs, derSequence(derOid('1.2.840.113549.1.1.11'), derNull()), derBitString(Buffer.alloc(4)));
  assert.equal(inspectCertificate(cert).serial, 1n);
  fc.assert(
    fc.property(fc.nat(cert.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(cert.length), (at, byte, cut) => {
      const m = Buffer.from(cert);
      m[at] = byte;
      try {
        inspectCertificate(m.subarray(0, cut));
      } catch (e) {
        if (!(e instanceof PairingError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});
