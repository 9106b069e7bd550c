import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ChunkQueue } from '../../../src/core/chunk-queue.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { encodeLockdownFrame, LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { connectPair, makeDevice, makeRecord, pairRequest, testKeys } from './helpers.ts';

/**
 * A hand-made device that, unlike ours, never sends close_notify after StopSession: it abandons TLS and
 * answers the next request in plaintext, skipping the client's close_notify record. Our client must go
 * back to plaintext when the first byte after StopSession is not a TLS record.
 */
test('StopSession against a device that sends no close_notify: the client still returns to plaintext', async () => {
  const device = makeDevice();
  const record = makeRecord(device);
  const [host, dev] = duplexPair();
  const decoder = new LockdownFrameDecoder();
  let mode: 'plain' | 'tls' | 'skip-tls' = 'plain';
  let tlsSock: tls.TLSSocket | undefined;
  const feed = new (class extends Duplex {
    override _write(c: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
      dev.write(c, cb);
    }
    override _read(): void {}
  })();
  const skipQueue = new ChunkQueue();
  const send = (out: Duplex, msg: PlistDict): void => void out.write(Buffer.concat(encodeLockdownFrame(msg)));
  const handle = (m: PlistDict, out: Duplex): void => {
    switch (m.Request) {
      case 'StartSession':
        send(dev, { Request: 'StartSession', SessionID: 'S1', EnableSessionSSL: true });
        mode = 'tls';
        tlsSock = new tls.TLSSocket(feed, {
          isServer: true,
          cert: record.DeviceCertificate,
          key: testKeys().device.export({ type: 'pkcs8', format: 'pem' }),
          requestCert: true,
          rejectUnauthorized: false,
        });
        tlsSock.on('error', () => {});
        tlsSock.on('data', (c: Buffer) => {
          decoder.push(c);
          for (let x = decoder.next(); x; x = decoder.next()) handle(x, tlsSock!);
        });
        return;
      case 'StopSession':
        // reply inside TLS, then drop TLS without close_notify
        tlsSock!.write(Buffer.concat(encodeLockdownFrame({ Request: 'StopSession' })), () => {
          mode = 'skip-tls';
          tlsSock!.destroy();
        });
        return;
      case 'GetValue':
        send(out, { Request: 'GetValue', Key: m.Key as string, Value: out === dev ? 'plain' : 'secret' });
        return;
      default:
        send(out, { Request: m.Request as string, Type: 'com.apple.mobile.lockdown' });
    }
  };
  dev.on('data', (c: Buffer) => {
    if (mode === 'tls') return void feed.push(c);
    if (mode === 'skip-tls') {
      skipQueue.push(c);
      while (skipQueue.length >= 5) {
        const type = skipQueue.peek(1)[0]!;
        if (type < 20 || type > 23) {
          mode = 'plain';
          for (const b of skipQueue.drain()) decoder.push(b);
          break;
        }
        const len = skipQueue.peek(2, 3).readUInt16BE(0);
        if (skipQueue.length < 5 + len) return;
        skipQueue.skip(5 + len);
      }
      if (mode !== 'plain') return;
    } else decoder.push(c);
    for (let m = decoder.next(); m; m = decoder.next()) handle(m, dev);
  });

  const client = new LockdownClient(host, { env: {} });
  try {
    await client.startSession(record);
    assert.equal(await client.getValue('X'), 'secret');
    await client.stopSession();
    assert.equal(await client.getValue('X'), 'plain');
    assert.equal(await client.queryType(), 'com.apple.mobile.lockdown');
  } finally {
    client.close();
  }
});

test('the device drops the connection inside a session: pending and later requests fail with ERR_CLOSED', async () => {
  const device = makeDevice();
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    await client.startSession(record);
    server.close();
    await assert.rejects(client.getValue('SerialNumber'), { code: 'ERR_CLOSED' });
    assert.equal(client.closed, true);
  } finally {
    client.close();
  }
});

test('transport: a peer that pipelines requests but never reads gets one reply at a time (replies do not pile up)', async () => {
  const { LockdownTransport } = await import('../../../src/lockdown/transport.ts');
  const held: (() => void)[] = [];
  let written: () => void = () => {};
  const d = new Duplex({
    writableHighWaterMark: 1,
    read() {},
    write(_c, _e, cb) {
      held.push(cb);
      written();
    },
  });
  const nextWrite = (): Promise<void> => new Promise((resolve) => (written = resolve));
  let handled = 0;
  const t = new LockdownTransport(d, {
    frame: () => {
      handled++;
      t.send({ Request: 'QueryType', Type: 'com.apple.mobile.lockdown' });
    },
    close: () => {},
  });
  const first = nextWrite();
  d.push(Buffer.concat(Array.from({ length: 10 }, () => Buffer.concat(encodeLockdownFrame({ Request: 'QueryType' })))));
  await first;
  const oneReply = d.writableLength;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(handled, 1);
  assert.equal(d.writableLength, oneReply);
  // once the peer reads (every write completes), the remaining requests are answered
  while (held.length) held.shift()!();
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(handled, 10);
  d.destroy();
});
