/**
 * TLS record decryption from key-log secrets: node:tls sessions (TLS 1.2 AES-GCM with ECDHE-RSA, TLS 1.3 AES-GCM and
 * ChaCha20) carrying lockdown frames are recorded byte by byte and decoded back; without the secrets the boundary is
 * still found and the records are marked undecrypted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as tls from 'node:tls';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { generatePairingCertificates } from '../../../src/pairing/certificates.ts';
import { encodeLockdownFrame } from '../../../src/lockdown/codec.ts';
import { decodeLockdown } from '../../../src/capture/decode-lockdown.ts';
import { parseKeyLog } from '../../../src/capture/keylog.ts';
import { hkdfExpandLabel, tls12Prf } from '../../../src/capture/tls-decrypt.ts';
import type { LockdownEvent, TlsEvent } from '../../../src/capture/events.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const certs = generatePairingCertificates(publicKey.export({ type: 'pkcs1', format: 'pem' }) as string);
const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

interface Session { c2s: Buffer; s2c: Buffer; keylog: string }

async function session(opts: tls.ConnectionOptions & tls.TlsOptions): Promise<Session> {
  const [a, b] = duplexPair();
  const c2s: Buffer[] = [];
  const s2c: Buffer[] = [];
  const keylog: string[] = [];
  // Tap the raw bytes: what the client side writes arrives on b, and vice versa.
  const aw = a.write.bind(a);
  a.write = ((chunk: Buffer, ...rest: never[]) => (c2s.push(Buffer.from(chunk)), aw(chunk, ...rest))) as typeof a.write;
  const bw = b.write.bind(b);
  b.write = ((chunk: Buffer, ...rest: never[]) => (s2c.push(Buffer.from(chunk)), bw(chunk, ...rest))) as typeof b.write;
  const server = new tls.TLSSocket(b, { isServer: true, key, cert: certs.DeviceCertificate, ...opts });
  const client = tls.connect({ socket: a, rejectUnauthorized: false, checkServerIdentity: () => undefined, ...opts });
  client.on('keylog', (l: Buffer) => keylog.push(l.toString('latin1')));
  await new Promise<void>((r) => client.once('secureConnect', () => r()));
  const req = encodeLockdownFrame({ Request: 'GetValue', Key: 'ProductVersion', Label: 'test' });
  const got = new Promise<void>((resolve) => {
    let n = 0;
    server.on('data', (d: Buffer) => {
      n += d.length;
      if (n >= req[0].length + req[1].length) resolve();
    });
  });
  for (const p of req) client.write(p);
  await got;
  const frame = encodeLockdownFrame({ Request: 'GetValue', Key: 'ProductVersion', Value: '17.5' });
  const reply = new Promise<void>((resolve) => {
    let n = 0;
    client.on('data', (d: Buffer) => {
      n += d.length;
      if (n >= frame[0].length + frame[1].length) resolve();
    });
  });
  for (const p of frame) server.write(p);
  await reply;
  client.end();
  await new Promise((r) => setImmediate(r));
  server.destroy();
  client.destroy();
  return { c2s: Buffer.concat(c2s), s2c: Buffer.concat(s2c), keylog: keylog.join('') };
}

const CASES: [string, tls.ConnectionOptions & tls.TlsOptions, number, string][] = [
  ['TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, 0x0303, 'ECDHE-RSA-AES256-GCM-SHA384'],
  ['TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }, 0x0303, 'ECDHE-RSA-AES128-GCM-SHA256'],
  ['TLS 1.3 TLS_AES_256_GCM_SHA384', { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' }, 0x0304, 'TLS_AES_256_GCM_SHA384'],
  ['TLS 1.3 TLS_AES_128_GCM_SHA256', { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' }, 0x0304, 'TLS_AES_128_GCM_SHA256'],
  ['TLS 1.3 TLS_CHACHA20_POLY1305_SHA256', { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }, 0x0304, 'TLS_CHACHA20_POLY1305_SHA256'],
];

for (const [name, opts, version, suite] of CASES) {
  test(`tls decrypt: ${name} — lockdown frames inside TLS are decoded with the key log`, async () => {
    const s = await session(opts);
    const r = decodeLockdown(7, s.c2s, 0, s.s2c, 0, parseKeyLog(s.keylog));
    assert.equal(r.c2sTls, 0);
    const boundary = r.events.find((e): e is TlsEvent => e.layer === 'tls' && e.dir === 's2c' && e.boundary === true)!;
    assert.equal(boundary.version, version);
    assert.equal(boundary.cipherSuite, suite);
    const ld = r.events.filter((e): e is LockdownEvent => e.layer === 'lockdown');
    assert.deepEqual(ld.map((e) => [e.dir, e.tls, e.plist]), [
      ['c2s', true, { Request: 'GetValue', Key: 'ProductVersion', Label: 'test' }],
      ['s2c', true, { Request: 'GetValue', Key: 'ProductVersion', Value: '17.5' }],
    ]);
    assert.ok(!r.events.some((e) => e.layer === 'tls' && e.decrypted === false), 'every record decrypted');
    assert.ok(r.events.some((e) => e.layer === 'tls' && e.what.includes('close_notify')));
    // Without secrets: same boundary, nothing decrypted, no lockdown frames invented.
    const none = decodeLockdown(7, s.c2s, 0, s.s2c, 0, undefined);
    assert.equal(none.events.filter((e) => e.layer === 'lockdown').length, 0);
    assert.ok(none.events.some((e) => e.layer === 'note' && e.kind === 'tls-keys'));
    // Wrong secrets: records are reported as not decrypted (authentication fails), never garbage frames.
    const wrong = parseKeyLog(s.keylog.replace(/ ([0-9a-f]{64}) ([0-9a-f]+)/g, (_m, cr: string, sec: string) => ` ${cr} ${sec.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`));
    const bad = decodeLockdown(7, s.c2s, 0, s.s2c, 0, wrong);
    assert.equal(bad.events.filter((e) => e.layer === 'lockdown').length, 0);
    assert.ok(bad.events.some((e) => e.layer === 'tls' && e.decrypted === false));
  });
}

test('tls decrypt: HKDF-Expand-Label and the TLS 1.2 PRF match published vectors', () => {
  // RFC 8448 §3: server handshake traffic secret → server handshake key / iv (TLS_AES_128_GCM_SHA256).
  const secret = Buffer.from('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 'hex');
  assert.equal(hkdfExpandLabel('sha256', secret, 'key', Buffer.alloc(0), 16).toString('hex'), '3fce516009c21727d0f2e4e86ee403bc');
  assert.equal(hkdfExpandLabel('sha256', secret, 'iv', Buffer.alloc(0), 12).toString('hex'), '5d313eb2671276ee13000b30');
  // TLS 1.2 PRF (SHA-256) test vector from the IETF TLS mailing list (widely used, e.g. by Go's crypto/tls tests).
  const out = tls12Prf('sha256', Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'), 'test label', Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'), 100);
  assert.equal(out.subarray(0, 16).toString('hex'), 'e3f229ba727be17b8d122620557cd453');
});
