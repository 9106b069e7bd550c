import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { encodeLockdownFrame, LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { connectPair, makeDevice, makeRecord, pairRequest } from './helpers.ts';

/** A scripted device: answers each decoded request with `respond(req)` (raw frames), or nothing. */
function scripted(respond: (req: PlistDict, dev: Duplex) => void): { client: LockdownClient; dev: Duplex; seen: PlistDict[] } {
  const [a, dev] = duplexPair();
  const d = new LockdownFrameDecoder();
  const seen: PlistDict[] = [];
  dev.on('data', (c: Buffer) => {
    d.push(c);
    for (let m = d.next(); m; m = d.next()) {
      seen.push(m);
      respond(m, dev);
    }
  });
  dev.on('error', () => {});
  return { client: new LockdownClient(a, { env: {} }), dev, seen };
}

function send(dev: Duplex, msg: PlistDict): void {
  dev.write(Buffer.concat(encodeLockdownFrame(msg)));
}

test('every request carries Request, Label (default "iosdevice") and ProtocolVersion "2"', async () => {
  const { client, seen } = scripted((req, dev) => send(dev, { Request: req.Request as string, Type: 'com.apple.mobile.lockdown' }));
  await client.queryType();
  assert.deepEqual(seen[0], { Label: 'iosdevice', ProtocolVersion: '2', Request: 'QueryType' });
  client.close();
});

test('a reply that does not echo Request → ERR_PROTOCOL; Result Failure → LockdownError', async () => {
  let n = 0;
  const { client } = scripted((_req, dev) => {
    n++;
    if (n === 1) send(dev, { Request: 'GetValue', Type: 'x' });
    else send(dev, { Request: 'QueryType', Result: 'Failure' });
  });
  await assert.rejects(client.queryType(), { code: 'ERR_PROTOCOL' });
  await assert.rejects(client.queryType(), { code: 'ERR_LOCKDOWN_UNKNOWN', error: 'Failure' });
  client.close();
});

test('Unpair accepts a reply echoing ValidatePair (some firmware does)', async () => {
  const { client } = scripted((_req, dev) => send(dev, { Request: 'ValidatePair' }));
  await client.request({ Request: 'Unpair', PairRecord: {} });
  client.close();
});

test('timeout and abort reject with ERR_TIMEOUT / ERR_ABORTED and close the connection', async () => {
  const silent = scripted(() => {});
  await assert.rejects(silent.client.queryType({ timeoutMs: 20 }), { code: 'ERR_TIMEOUT' });
  assert.equal(silent.client.closed, true);
  await assert.rejects(silent.client.queryType(), { code: 'ERR_CLOSED' });

  const ac = new AbortController();
  const other = scripted(() => ac.abort());
  await assert.rejects(other.client.queryType({ signal: ac.signal }), { code: 'ERR_ABORTED' });
  assert.equal(other.client.closed, true);
});

test('the device closes mid-frame → ERR_PROTOCOL (truncation); at a frame boundary → ERR_CLOSED', async () => {
  const mid = scripted((_req, dev) => {
    const [h, b] = encodeLockdownFrame({ Request: 'QueryType', Type: 'x' });
    dev.write(h);
    dev.end(b.subarray(0, 10));
  });
  await assert.rejects(mid.client.queryType(), { code: 'ERR_PROTOCOL', name: 'ProtocolError' });
  const clean = scripted((_req, dev) => dev.end());
  await assert.rejects(clean.client.queryType(), { code: 'ERR_CLOSED' });
});

test('an unsolicited frame closes the connection; garbage from the device gives ERR_PROTOCOL_TOO_LARGE', async () => {
  const { client, dev } = scripted((_req, d) => d.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
  await assert.rejects(client.queryType(), { code: 'ERR_PROTOCOL_TOO_LARGE' });
  void dev;
  const [a, b] = duplexPair();
  const c2 = new LockdownClient(a, { env: {} });
  const closed = once(a, 'close');
  send(b, { Request: 'Hello' });
  await closed;
  assert.equal(c2.closed, true);
});

test('legacy profile: ProductVersion < 10 negotiates TLS 1.0 (libimobiledevice does the same)', async () => {
  const device = makeDevice({ productVersion: '9.3.5' });
  const record = makeRecord(device, 'sha1');
  const { client, server } = connectPair(device);
  try {
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    assert.equal(await client.getValue('ProductVersion'), '9.3.5');
    await client.startSession(record);
    assert.equal(client.tlsSocket?.getProtocol(), 'TLSv1');
    assert.equal(await client.getValue('SerialNumber'), 'F2LZK0ABCDEF');
    await client.stopSession();
  } finally {
    client.close();
    server.close();
  }
});

test('modern profile: TLS 1.2 or 1.3; the key log gets NSS lines in a 0600 file (also via SSLKEYLOGFILE)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-keylog-'));
  const device = makeDevice();
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    const file = join(dir, 'keys.log');
    await client.startSession(record, { keylog: file });
    assert.match(client.tlsSocket?.getProtocol() ?? '', /^TLSv1\.[23]$/);
    await client.getValue('SerialNumber');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]+ [0-9a-f]+$/m);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await client.stopSession();
    client.close();

    const envFile = join(dir, 'env.log');
    const [a, b] = duplexPair();
    const { serveLockdown } = await import('../../../src/lockdown/server.ts');
    const s2 = serveLockdown(b, device);
    const c2 = new LockdownClient(a, { env: { SSLKEYLOGFILE: envFile } });
    await c2.startSession(record);
    await c2.getValue('SerialNumber');
    assert.ok(readFileSync(envFile, 'utf8').length > 0);
    c2.close();
    s2.close();
  } finally {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
