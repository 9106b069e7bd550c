import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { encodeBinaryPlist, encodeXmlPlist, parsePlist } from '../../../src/plist/index.ts';
import { isPlistDict, type PlistDict } from '../../../src/plist/types.ts';
import { generatePairingCertificates, generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import {
  encodePairRecord,
  isPrivateKeyPem,
  pairRecordFromPlist,
  parsePairRecord,
  withoutPrivateKeys,
  type PairRecord,
} from '../../../src/pairing/pair-record.ts';
import { loadPrivateKey, pemToDer, publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';

const isInvalid = (e: unknown): boolean => e instanceof PairingError && e.code === 'ERR_PAIRING_INVALID_RECORD';

function sampleRecord(): PairRecord {
  const dev = generateRsaKeyPair();
  const c = generatePairingCertificates(publicKeyToPkcs1Pem(dev.publicKey));
  return {
    ...c,
    HostID: 'B7F2C4A0-1D2E-4F60-8A9B-0C1D2E3F4A5B',
    SystemBUID: '0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0',
    EscrowBag: Buffer.alloc(32, 0x5a),
    WiFiMACAddress: '00:11:22:33:44:55',
  };
}
const sample = sampleRecord();

/** The binary 2019 record: a usbmux ReadPairRecord reply (16-byte header, XML body) whose PairRecordData is a bplist. */
function appiumRecordBytes(): Buffer {
  const msg = readFileSync(capturePath('appium-ios-device', 'usbmuxreadpairmessage.bin'));
  assert.equal(msg.readUInt32LE(0), msg.length);
  const body = parsePlist(msg.subarray(16));
  assert.ok(isPlistDict(body) && Buffer.isBuffer(body.PairRecordData));
  return body.PairRecordData;
}

function assertChainVerifies(r: PairRecord): void {
  const root = new X509Certificate(r.RootCertificate);
  assert.ok(root.verify(root.publicKey), 'root is self-signed');
  for (const k of ['HostCertificate', 'DeviceCertificate'] as const) {
    const c = new X509Certificate(r[k]);
    assert.ok(c.checkIssued(root), `${k} issued by root`);
    assert.ok(c.verify(root.publicKey), `${k} signed by root`);
  }
  assert.ok(new X509Certificate(r.HostCertificate).checkPrivateKey(loadPrivateKey(r.HostPrivateKey)), 'host key matches');
  assert.ok(root.checkPrivateKey(loadPrivateKey(r.RootPrivateKey)), 'root key matches');
}

test('real XML record (Apple host, 2021) loads and its chain verifies', { skip: skipUnlessCaptures() }, () => {
  const buf = readFileSync(capturePath('usbmuxd_debug', 'derived', 'pair_record_from_readpairrecord.plist'));
  const r = parsePairRecord(buf);
  assert.equal(r.HostID, 'ADF98960-8919-4B73-9BA0-96AC2D997E21');
  assert.equal(r.SystemBUID, 'F638DDCA-DB83-4496-A0AB-F0DD88F4B25C');
  assert.equal(r.WiFiMACAddress, '38:53:9c:b4:0f:17');
  assert.equal(r.EscrowBag?.length, 32);
  assert.match(r.HostPrivateKey.toString(), /BEGIN PRIVATE KEY/);
  assertChainVerifies(r);
  // the stand-alone PEMs recorded beside it are the same certificates
  assert.deepEqual(pemToDer(r.DeviceCertificate), pemToDer(readFileSync(capturePath('usbmuxd_debug', 'device_cetificate.pem'))));
  assert.deepEqual(pemToDer(r.HostCertificate), pemToDer(readFileSync(capturePath('usbmuxd_debug', 'host_cetificate.pem'))));
});

test('real binary record (appium-ios-device, 2019) loads and its chain verifies', { skip: skipUnlessCaptures() }, () => {
  const buf = appiumRecordBytes();
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'bplist00');
  const r = parsePairRecord(buf);
  assert.equal(r.HostID, '3B32AC55-3638-838A-2BBD-77B5E60E3913');
  assert.equal(r.SystemBUID, '97A08585-B8BC-4001-8D34-D692E9B8EBE0');
  assert.equal(r.WiFiMACAddress, 'dc:08:0f:49:f6:4c');
  assert.equal(r.EscrowBag?.length, 32);
  assertChainVerifies(r);
});

test('real records survive XML and binary round trips', { skip: skipUnlessCaptures() }, () => {
  for (const r of [parsePairRecord(readFileSync(capturePath('usbmuxd_debug', 'derived', 'pair_record_from_readpairrecord.plist'))), parsePairRecord(appiumRecordBytes())]) {
    assert.deepEqual(parsePairRecord(encodePairRecord(r, 'xml')), r);
    assert.deepEqual(parsePairRecord(encodePairRecord(r, 'binary')), r);
  }
});

test('generated record: XML and binary round trips, formats as asked', () => {
  const xml = encodePairRecord(sample);
  assert.match(xml.subarray(0, 40).toString(), /^<\?xml/);
  const bin = encodePairRecord(sample, 'binary');
  assert.equal(bin.subarray(0, 8).toString('latin1'), 'bplist00');
  assert.deepEqual(parsePairRecord(xml), sample);
  assert.deepEqual(parsePairRecord(bin), sample);
  assertChainVerifies(sample);
});

test('optional fields may be absent; DevicePublicKey (idevice) is kept', () => {
  const { EscrowBag: _e, WiFiMACAddress: _w, ...bare } = sample;
  assert.deepEqual(parsePairRecord(encodePairRecord(bare)), bare);
  const withKey = { ...bare, DevicePublicKey: Buffer.from('-----BEGIN RSA PUBLIC KEY-----\n') };
  assert.deepEqual(parsePairRecord(encodePairRecord(withKey, 'binary')).DevicePublicKey, withKey.DevicePublicKey);
});

test('PKCS#1 private keys (go-ios) are accepted and load as the same key', () => {
  const toPkcs1 = (pem: Buffer): Buffer => Buffer.from(createPrivateKey(pem).export({ type: 'pkcs1', format: 'pem' }) as string);
  const r = { ...sample, HostPrivateKey: toPkcs1(sample.HostPrivateKey), RootPrivateKey: toPkcs1(sample.RootPrivateKey) };
  assert.match(r.HostPrivateKey.toString(), /BEGIN RSA PRIVATE KEY/);
  const back = parsePairRecord(encodePairRecord(r));
  assert.deepEqual(back, r);
  const a = loadPrivateKey(back.HostPrivateKey).export({ type: 'pkcs8', format: 'der' });
  const b = loadPrivateKey(sample.HostPrivateKey).export({ type: 'pkcs8', format: 'der' });
  assert.deepEqual(a, b);
});

test('PEM stored as <string> instead of <data> is accepted', () => {
  const d: PlistDict = {};
  for (const [k, v] of Object.entries(sample)) d[k] = Buffer.isBuffer(v) && k !== 'EscrowBag' ? v.toString('latin1') : v;
  assert.deepEqual(parsePairRecord(encodeXmlPlist(d)), sample);
});

test('withoutPrivateKeys: exactly the five request fields, nothing private', () => {
  const pub = withoutPrivateKeys(sample);
  assert.deepEqual(Object.keys(pub).sort(), ['DeviceCertificate', 'HostCertificate', 'HostID', 'RootCertificate', 'SystemBUID']);
  for (const v of Object.values(pub)) assert.ok(!isPrivateKeyPem(v as Buffer | string));
  const wire = encodeXmlPlist(pub).toString();
  assert.doesNotMatch(wire, /PrivateKey|EscrowBag/);
  for (const v of Object.values(pub)) if (Buffer.isBuffer(v)) assert.doesNotMatch(v.toString(), /PRIVATE KEY/);
});

// ---------------------------------------------------------------- invalid records

const invalidCases: [string, () => Buffer][] = [
  ['empty buffer', () => Buffer.alloc(0)],
  ['not a plist', () => Buffer.from('hello world')],
  ['truncated binary plist', () => encodePairRecord(sample, 'binary').subarray(0, 200)],
  ['an array', () => encodeXmlPlist([1, 2])],
  ['missing HostID', () => encodeXmlPlist(dictWithout('HostID'))],
  ['missing RootPrivateKey', () => encodeXmlPlist(dictWithout('RootPrivateKey'))],
  ['HostID is a number', () => encodeXmlPlist({ ...dictWithout(), HostID: 5 })],
  ['empty SystemBUID', () => encodeXmlPlist({ ...dictWithout(), SystemBUID: '' })],
  ['DeviceCertificate is garbage', () => encodeXmlPlist({ ...dictWithout(), DeviceCertificate: Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') })],
  ['HostPrivateKey is a certificate', () => encodeXmlPlist({ ...dictWithout(), HostPrivateKey: sample.HostCertificate })],
  ['RootPrivateKey is an EC key', () => encodeXmlPlist({ ...dictWithout(), RootPrivateKey: ecKeyPem() })],
  ['EscrowBag is a string', () => encodeXmlPlist({ ...dictWithout(), EscrowBag: 7 })],
  ['WiFiMACAddress is data', () => encodeXmlPlist({ ...dictWithout(), WiFiMACAddress: Buffer.from('x') })],
  ['over the size cap', () => Buffer.concat([Buffer.from('<?xml version="1.0"?>'), Buffer.alloc(2 * 1024 * 1024, 0x20)])],
];

function dictWithout(key?: string): PlistDict {
  const d: PlistDict = { ...(sample as unknown as PlistDict) };
  if (key) delete d[key];
  return d;
}
function ecKeyPem(): Buffer {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return Buffer.from(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

for (const [name, make] of invalidCases) {
  test(`invalid record: ${name} → ERR_PAIRING_INVALID_RECORD`, () => {
    const buf = make();
    assert.throws(() => parsePairRecord(buf), isInvalid);
  });
}

test('encodePairRecord refuses to write an invalid record', () => {
  assert.throws(() => encodePairRecord({ ...sample, HostPrivateKey: Buffer.from('nope') }), isInvalid);
  assert.throws(() => encodePairRecord({ ...sample, HostID: '' }), isInvalid);
});

test('pairRecordFromPlist accepts an already-decoded dict (e.g. from a usbmux reply)', () => {
  const d = parsePlist(encodeBinaryPlist(dictWithout()));
  assert.deepEqual(pairRecordFromPlist(d), sample);
  assert.throws(() => pairRecordFromPlist('x'), isInvalid);
});

test('property: corrupted XML and binary records parse or fail with ERR_PAIRING_INVALID_RECORD only', () => {
  const xml = encodePairRecord(sample, 'xml');
  const bin = encodePairRecord(sample, 'binary');
  fc.assert(
    fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (useXml, edits, cut) => {
      const src = useXml ? xml : bin;
      const m = Buffer.from(src);
      for (const [at, byte] of edits) m[at % m.length] = byte;
      try {
        parsePairRecord(m.subarray(0, m.length - (cut % 64)));
      } catch (e) {
        if (!isInvalid(e)) throw e;
      }
    }),
    { numRuns: 400 },
  );
});
