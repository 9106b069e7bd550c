import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { parsePlist } from '../../../src/plist/index.ts';
import { createCertificate, generatePairingCertificates, generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import { parsePairRecord, type PairRecord } from '../../../src/pairing/pair-record.ts';
import { derToPem, pemToDer, privateKeyToPem, publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { attachKeylog, tlsClientOptions, tlsServerOptions } from '../../../src/pairing/tls.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';

// A pairing made by our own code: the device key stays with the "device" (the TLS server here).
const deviceKeys = generateRsaKeyPair();
const certs = generatePairingCertificates(publicKeyToPkcs1Pem(deviceKeys.publicKey));
const record: PairRecord = { ...certs, HostID: 'A1B2C3D4-0000-4000-8000-000000000001', SystemBUID: 'A1B2C3D4-0000-4000-8000-000000000002' };
const deviceKeyPem = privateKeyToPem(deviceKeys.privateKey);

interface Handshake {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
}

/** TLS over an in-memory duplex pair; resolves when both ends finished the handshake. */
async function handshake(clientOpts: tls.ConnectionOptions, serverOpts: tls.TlsOptions, onClient?: (s: tls.TLSSocket) => void): Promise<Handshake> {
  const [a, b] = duplexPair();
  const server = new tls.TLSSocket(b, { ...serverOpts, isServer: true });
  const client = tls.connect({ ...clientOpts, socket: a });
  onClient?.(client);
  try {
    await Promise.all([once(client, 'secureConnect'), once(server, 'secure')]);
  } catch (e) {
    client.destroy();
    server.destroy();
    throw e;
  }
  return { client, server };
}

function close(h: Handshake): void {
  h.client.destroy();
  h.server.destroy();
}

test('our pairing: host certificate reaches the device, device presents exactly DeviceCertificate, TLS ≥ 1.2', async () => {
  const h = await handshake(tlsClientOptions(record), tlsServerOptions(record.DeviceCertificate, deviceKeyPem));
  try {
    assert.deepEqual(h.server.getPeerCertificate(true).raw, pemToDer(record.HostCertificate));
    assert.deepEqual(h.client.getPeerCertificate(true).raw, pemToDer(record.DeviceCertificate));
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(h.client.getProtocol() ?? ''));
    // application data flows both ways
    h.client.write('ping');
    const [got] = (await once(h.server, 'data')) as [Buffer];
    assert.equal(got.toString(), 'ping');
  } finally {
    close(h);
  }
});

test('client options: in-memory PEMs, no verification, TLS 1.2 floor', () => {
  const o = tlsClientOptions(record);
  assert.equal(o.cert, record.HostCertificate);
  assert.equal(o.key, record.HostPrivateKey);
  assert.equal(o.rejectUnauthorized, false);
  assert.equal(o.minVersion, 'TLSv1.2');
  const s = tlsServerOptions(record.DeviceCertificate, deviceKeyPem);
  assert.equal(s.requestCert, true);
  assert.equal(s.rejectUnauthorized, false);
});

test('legacy profile (iOS < 10) negotiates TLS 1.0 with @SECLEVEL=0 against a legacy server', async () => {
  const o = tlsClientOptions(record, { legacy: true });
  assert.equal(o.maxVersion, 'TLSv1');
  assert.match(String(o.ciphers), /@SECLEVEL=0/);
  const h = await handshake(o, tlsServerOptions(record.DeviceCertificate, deviceKeyPem, true));
  try {
    assert.equal(h.client.getProtocol(), 'TLSv1');
    assert.deepEqual(h.server.getPeerCertificate(true).raw, pemToDer(record.HostCertificate));
  } finally {
    close(h);
  }
});

test('virtual iPhone server accepts an SHA-1 client certificate (libimobiledevice 1.3.0 sends those)', async () => {
  const hostKey = generateRsaKeyPair().privateKey;
  const sha1Host = createCertificate({ publicKey: hostKey, signingKey: hostKey, ca: false, digest: 'sha1', serial: 0 });
  const h = await handshake(
    { ...tlsClientOptions({ HostCertificate: Buffer.from(derToPem(sha1Host, 'CERTIFICATE')), HostPrivateKey: privateKeyToPem(hostKey) }) },
    tlsServerOptions(record.DeviceCertificate, deviceKeyPem),
  );
  try {
    assert.deepEqual(h.server.getPeerCertificate(true).raw, sha1Host);
  } finally {
    close(h);
  }
});

test('an all-SHA-1, serial-0 pairing (libimobiledevice 1.3.0 / Apple profile) handshakes with the default profile (no @SECLEVEL=0)', async () => {
  const dev = generateRsaKeyPair();
  const c = generatePairingCertificates(publicKeyToPkcs1Pem(dev.publicKey), { digest: 'sha1', serial: 0 });
  const o = tlsClientOptions(c);
  assert.equal(o.ciphers, undefined);
  const h = await handshake(o, tlsServerOptions(c.DeviceCertificate, privateKeyToPem(dev.privateKey)));
  try {
    assert.deepEqual(h.client.getPeerCertificate(true).raw, pemToDer(c.DeviceCertificate));
    assert.deepEqual(h.server.getPeerCertificate(true).raw, pemToDer(c.HostCertificate));
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(h.client.getProtocol() ?? ''));
  } finally {
    close(h);
  }
});

test('real Apple host certificate + key (2021, SHA-1, serial 0, empty names) handshake as the client certificate', { skip: skipUnlessCaptures() }, async () => {
  const hostCert = readFileSync(capturePath('usbmuxd_debug', 'host_cetificate.pem'));
  const hostKey = readFileSync(capturePath('usbmuxd_debug', 'host_private_key.pem'));
  // We do not have the device's private key: the server uses a fresh key and certificate.
  const serverKey = generateRsaKeyPair().privateKey;
  const serverCert = derToPem(createCertificate({ publicKey: serverKey, signingKey: serverKey, ca: false }), 'CERTIFICATE');
  const h = await handshake(tlsClientOptions({ HostCertificate: hostCert, HostPrivateKey: hostKey }), tlsServerOptions(serverCert, privateKeyToPem(serverKey)));
  try {
    assert.deepEqual(h.server.getPeerCertificate(true).raw, pemToDer(hostCert));
  } finally {
    close(h);
  }
});

test('real records (XML 2021, binary 2019) work as client credentials straight from parsePairRecord', { skip: skipUnlessCaptures() }, async () => {
  const xml = parsePairRecord(readFileSync(capturePath('usbmuxd_debug', 'derived', 'pair_record_from_readpairrecord.plist')));
  const msg = readFileSync(capturePath('appium-ios-device', 'usbmuxreadpairmessage.bin'));
  const body = parsePlist(msg.subarray(16)) as { PairRecordData: Buffer };
  const bin = parsePairRecord(body.PairRecordData);
  const serverKey = generateRsaKeyPair().privateKey;
  const serverCert = derToPem(createCertificate({ publicKey: serverKey, signingKey: serverKey, ca: false }), 'CERTIFICATE');
  for (const r of [xml, bin]) {
    const h = await handshake(tlsClientOptions(r), tlsServerOptions(serverCert, privateKeyToPem(serverKey)));
    try {
      assert.deepEqual(h.server.getPeerCertificate(true).raw, pemToDer(r.HostCertificate));
    } finally {
      close(h);
    }
  }
});

test('attachKeylog writes NSS key-log lines to a 0600 file; off when no path and no SSLKEYLOGFILE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-keylog-'));
  const file = join(dir, 'keys.log');
  try {
    let handle: ReturnType<typeof attachKeylog> | undefined;
    const h = await handshake(tlsClientOptions(record), tlsServerOptions(record.DeviceCertificate, deviceKeyPem), (c) => {
      handle = attachKeylog(c, undefined, undefined, { SSLKEYLOGFILE: file });
    });
    try {
      assert.equal(handle?.file, file);
      await handle!.flushed();
      handle!.detach();
      const text = readFileSync(file, 'utf8');
      const lines = text.trim().split('\n');
      assert.ok(lines.length >= 1);
      for (const l of lines) assert.match(l, /^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]+$/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      close(h);
    }
    const idle = new tls.TLSSocket(duplexPair()[0]);
    const off = attachKeylog(idle, undefined, undefined, {});
    assert.equal(off.file, undefined);
    await off.flushed();
    idle.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
