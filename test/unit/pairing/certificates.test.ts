import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificate, generatePairingCertificates, generateRsaKeyPair, Oid } from '../../../src/pairing/certificates.ts';
import { inspectCertificate, type CertificateInfo } from '../../../src/pairing/certificate-info.ts';
import { derChildren, readDerExact } from '../../../src/pairing/der.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import { loadPrivateKey, pemToDer, publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { skipUnlessTools } from '../../support/peers.ts';

// Keys are generated once: RSA-2048 generation is the slow part.
const device = generateRsaKeyPair();
const rootKey = generateRsaKeyPair().privateKey;
const hostKey = generateRsaKeyPair().privateKey;
const devicePem = publicKeyToPkcs1Pem(device.publicKey);
const NOW = new Date('2026-03-04T05:06:07.890Z');
const certs = generatePairingCertificates(devicePem, { rootKey, hostKey, now: NOW });

const extSummary = (i: CertificateInfo): [string, boolean][] => i.extensions.map((e) => [e.oid, e.critical]);
const isBadKey = (e: unknown): boolean => e instanceof PairingError && e.code === 'ERR_PAIRING_INVALID_KEY';

test('device PEM is PKCS#1 RSA PUBLIC KEY, as devices send it', () => {
  assert.match(devicePem.toString(), /^-----BEGIN RSA PUBLIC KEY-----\n/);
});

test('generated certificates: libimobiledevice profile (v3, serial 1, SHA-256, empty names, now → +3650 days)', () => {
  for (const pem of [certs.RootCertificate, certs.HostCertificate, certs.DeviceCertificate]) {
    const i = inspectCertificate(pem);
    assert.equal(i.version, 2);
    assert.equal(i.serial, 1n);
    assert.equal(i.signatureOid, Oid.sha256WithRSAEncryption);
    assert.equal(i.digest, 'sha256');
    assert.equal(i.issuer.toString('hex'), '3000');
    assert.equal(i.subject.toString('hex'), '3000');
    assert.equal(i.notBefore.toISOString(), '2026-03-04T05:06:07.000Z');
    assert.equal(i.notAfter.getTime() - i.notBefore.getTime(), 3650 * 86_400_000);
    const x = new X509Certificate(pem);
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(x.publicKey.asymmetricKeyDetails?.publicExponent, 65537n);
  }
});

test('generated extensions: root CA:TRUE critical; host CA:FALSE + keyUsage; device adds the SKI', () => {
  const root = inspectCertificate(certs.RootCertificate);
  assert.deepEqual(extSummary(root), [[Oid.basicConstraints, true]]);
  assert.equal(root.ca, true);
  const host = inspectCertificate(certs.HostCertificate);
  assert.deepEqual(extSummary(host), [
    [Oid.basicConstraints, true],
    [Oid.keyUsage, true],
  ]);
  assert.equal(host.ca, false);
  assert.equal(host.keyUsage, 0xa0); // digitalSignature | keyEncipherment
  const dev = inspectCertificate(certs.DeviceCertificate);
  assert.deepEqual(extSummary(dev), [
    [Oid.basicConstraints, true],
    [Oid.subjectKeyIdentifier, false],
    [Oid.keyUsage, true],
  ]);
  assert.equal(dev.ca, false);
  assert.equal(dev.keyUsage, 0xa0);
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING value (without the unused-bits octet)
  const spki = dev.spki;
  const bits = derChildren(spki, readDerExact(spki))[1]!;
  const expected = createHash('sha1').update(spki.subarray(bits.contentStart + 1, bits.end)).digest();
  assert.deepEqual(dev.subjectKeyId, expected);
});

test('chain: host and device are issued and signed by the root (X509Certificate.checkIssued / verify)', () => {
  const root = new X509Certificate(certs.RootCertificate);
  const host = new X509Certificate(certs.HostCertificate);
  const dev = new X509Certificate(certs.DeviceCertificate);
  assert.ok(root.verify(root.publicKey), 'root self-signed');
  assert.ok(host.checkIssued(root) && host.verify(root.publicKey));
  assert.ok(dev.checkIssued(root) && dev.verify(root.publicKey));
  assert.ok(root.ca);
  assert.ok(!host.ca && !dev.ca);
  // and not by some other key
  assert.ok(!dev.verify(host.publicKey));
});

test('device certificate carries exactly the given PKCS#1 device key', () => {
  const dev = new X509Certificate(certs.DeviceCertificate);
  assert.equal(dev.publicKey.export({ type: 'pkcs1', format: 'pem' }), devicePem.toString());
});

test('keys are PKCS#8 PEM, separate, and match their certificates', () => {
  assert.match(certs.RootPrivateKey.toString(), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(certs.HostPrivateKey.toString(), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.ok(new X509Certificate(certs.RootCertificate).checkPrivateKey(loadPrivateKey(certs.RootPrivateKey)));
  assert.ok(new X509Certificate(certs.HostCertificate).checkPrivateKey(loadPrivateKey(certs.HostPrivateKey)));
  assert.ok(!certs.RootPrivateKey.equals(certs.HostPrivateKey));
});

test('deterministic for injected keys and clock (PKCS#1 v1.5 signatures)', () => {
  const again = generatePairingCertificates(devicePem, { rootKey, hostKey, now: NOW });
  assert.deepEqual(again, certs);
});

test('fresh keys are generated when none are injected; SPKI device keys are accepted too', () => {
  const spkiPem = device.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const c = generatePairingCertificates(spkiPem);
  const root = new X509Certificate(c.RootCertificate);
  assert.ok(new X509Certificate(c.DeviceCertificate).verify(root.publicKey));
  assert.ok(!c.RootPrivateKey.equals(certs.RootPrivateKey));
});

test('digest sha1 (to emulate libimobiledevice 1.3.0) and custom serial', () => {
  const c = createCertificate({ publicKey: hostKey, signingKey: rootKey, ca: false, digest: 'sha1', serial: 0, now: NOW });
  const i = inspectCertificate(c);
  assert.equal(i.signatureOid, Oid.sha1WithRSAEncryption);
  assert.equal(i.serial, 0n);
  assert.ok(new X509Certificate(c).verify(new X509Certificate(certs.RootCertificate).publicKey));
});

test('bad device keys → ERR_PAIRING_INVALID_KEY', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.throws(() => generatePairingCertificates('not a key', { rootKey, hostKey }), isBadKey);
  assert.throws(() => generatePairingCertificates(Buffer.alloc(0), { rootKey, hostKey }), isBadKey);
  assert.throws(() => generatePairingCertificates(ec.publicKey.export({ type: 'spki', format: 'pem' }) as string, { rootKey, hostKey }), isBadKey);
  assert.throws(() => generatePairingCertificates('-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n', { rootKey, hostKey }), isBadKey);
  assert.throws(() => generatePairingCertificates(certs.HostPrivateKey, { rootKey, hostKey }), isBadKey);
  assert.throws(() => createCertificate({ publicKey: device.publicKey, signingKey: device.publicKey, ca: false }), isBadKey);
});

// ---------------------------------------------------------------- against the recorded Apple / libimobiledevice records

function recordedCert(name: string): Buffer {
  // pair_record_from_readpairrecord.plist is XML; the three PEMs we need are also stand-alone files
  return readFileSync(capturePath('usbmuxd_debug', name));
}

test('recorded 2021 Apple certificates have our profile apart from serial and digest', { skip: skipUnlessCaptures() }, () => {
  const realDevice = inspectCertificate(recordedCert('device_cetificate.pem'));
  const ours = inspectCertificate(certs.DeviceCertificate);
  assert.deepEqual(extSummary(realDevice), extSummary(ours));
  assert.equal(realDevice.keyUsage, ours.keyUsage);
  assert.equal(realDevice.ca, ours.ca);
  assert.equal(realDevice.version, ours.version);
  assert.equal(realDevice.issuer.toString('hex'), '3000');
  assert.equal(realDevice.subject.toString('hex'), '3000');
  // documented differences (protocol.md §4): Apple uses serial 0 and sha1WithRSA, 3650 days
  assert.equal(realDevice.serial, 0n);
  assert.equal(realDevice.digest, 'sha1');
  assert.equal(realDevice.notAfter.getTime() - realDevice.notBefore.getTime(), 3650 * 86_400_000);
  // the SKI is computed the same way (RFC 5280 method 1)
  const bits = derChildren(realDevice.spki, readDerExact(realDevice.spki))[1]!;
  assert.deepEqual(realDevice.subjectKeyId, createHash('sha1').update(realDevice.spki.subarray(bits.contentStart + 1, bits.end)).digest());
  // Apple's host certificate additionally has an SKI
  const realHost = inspectCertificate(recordedCert('host_cetificate.pem'));
  assert.deepEqual(extSummary(realHost), extSummary(ours));
});

test('openssl x509 -text reads our certificates with the expected profile', { skip: skipUnlessTools('openssl') }, () => {
  const r = spawnSync('openssl', ['x509', '-noout', '-text'], { input: certs.DeviceCertificate, timeout: 10_000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Version: 3 \(0x2\)/);
  assert.match(r.stdout, /Serial Number: 1 \(0x1\)/);
  assert.match(r.stdout, /Signature Algorithm: sha256WithRSAEncryption/);
  assert.match(r.stdout, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(r.stdout, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(r.stdout, /X509v3 Subject Key Identifier/);
  const root = spawnSync('openssl', ['x509', '-noout', '-text'], { input: certs.RootCertificate, timeout: 10_000, encoding: 'utf8' });
  assert.equal(root.status, 0, root.stderr);
  assert.match(root.stdout, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
});

test('openssl verifies the signatures of our chain (dgst over the TBSCertificate with the root public key)', { skip: skipUnlessTools('openssl') }, () => {
  // `openssl verify` cannot build this chain: with empty subject = empty issuer it treats every certificate as
  // self-signed (error 18), for Apple's recorded chain exactly as for ours. So check each signature directly.
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-pairing-'));
  try {
    const rootPub = join(dir, 'root-pub.pem');
    writeFileSync(rootPub, new X509Certificate(certs.RootCertificate).publicKey.export({ type: 'spki', format: 'pem' }));
    for (const [name, pem] of [
      ['root', certs.RootCertificate],
      ['host', certs.HostCertificate],
      ['device', certs.DeviceCertificate],
    ] as const) {
      const der = pemToDer(pem, 'CERTIFICATE');
      const top = derChildren(der, readDerExact(der));
      const tbsFile = join(dir, `${name}.tbs`);
      const sigFile = join(dir, `${name}.sig`);
      writeFileSync(tbsFile, der.subarray(top[0]!.start, top[0]!.end));
      writeFileSync(sigFile, der.subarray(top[2]!.contentStart + 1, top[2]!.end));
      const r = spawnSync('openssl', ['dgst', '-sha256', '-verify', rootPub, '-signature', sigFile, tbsFile], { timeout: 10_000, encoding: 'utf8' });
      assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /Verified OK/);
    }
    // and a tampered TBSCertificate fails
    const tampered = readFileSync(join(dir, 'device.tbs'));
    tampered[tampered.length - 1]! ^= 1;
    writeFileSync(join(dir, 'device.tbs'), tampered);
    const bad = spawnSync('openssl', ['dgst', '-sha256', '-verify', rootPub, '-signature', join(dir, 'device.sig'), join(dir, 'device.tbs')], { timeout: 10_000, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
