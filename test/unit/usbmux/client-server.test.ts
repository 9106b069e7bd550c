/** Our UsbmuxClient against our UsbmuxServer (unix socket), every message, both protocols. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { connect as netConnect } from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { IDeviceError } from '../../../src/core/errors.ts';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';
import { UsbmuxServer } from '../../../src/usbmux/server.ts';
import { UsbmuxError } from '../../../src/usbmux/errors.ts';
import { encodeBinaryPlist, encodeXmlPlist } from '../../../src/plist/index.ts';
import { encodeHeader, MessageType } from '../../../src/usbmux/protocol.ts';
import { UsbmuxReplyDecoder } from '../../../src/usbmux/codec.ts';
import { UDID, startRig, usbRecord } from './fixtures.ts';

const isCode = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

async function readN(s: Duplex, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of s) {
    parts.push(c as Buffer);
    got += (c as Buffer).length;
    if (got >= n) break;
  }
  return Buffer.concat(parts);
}

test('ListDevices, ReadBUID (stable, stored 0600 in a 0700 dir), ListListeners', async () => {
  const rig = await startRig();
  try {
    const c = await UsbmuxClient.open({ address: rig.address });
    const devs = await c.listDevices();
    assert.equal(devs.length, 1);
    assert.equal(devs[0]!.deviceId, 1);
    assert.equal(devs[0]!.udid, UDID);
    assert.equal(devs[0]!.connectionType, 'USB');
    assert.equal(devs[0]!.productId, 4776);
    const [b1, b2] = await Promise.all([c.readBuid(), c.readBuid()]); // two in flight, routed by tag
    assert.equal(b1, b2);
    assert.match(b1, /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    assert.equal(statSync(rig.store.dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(rig.store.dir, 'SystemConfiguration.plist')).mode & 0o777, 0o600);
    assert.deepEqual(await c.listListeners(), []);
    c.close();
    const c2 = await UsbmuxClient.open({ address: rig.address });
    assert.equal(await c2.readBuid(), b1);
    c2.close();
  } finally {
    await rig.cleanup();
  }
});

test('SavePairRecord (binary) → ReadPairRecord (XML) → DeletePairRecord; missing → undefined / BADDEV; garbage → 22', async () => {
  const rig = await startRig();
  try {
    const c = await UsbmuxClient.open({ address: rig.address });
    assert.equal(await c.readPairRecord(UDID), undefined);
    const rec = { HostID: 'ABC', SystemBUID: 'X', HostPrivateKey: Buffer.from('secret') };
    await c.savePairRecord(UDID, encodeBinaryPlist(rec), 1);
    const back = await c.readPairRecord(UDID);
    assert.ok(back);
    assert.ok(back.toString('utf8').startsWith('<?xml'), 'records come back as XML');
    assert.deepEqual(back, encodeXmlPlist(rec));
    assert.equal(statSync(join(rig.store.dir, `${UDID}.plist`)).mode & 0o777, 0o600);
    await c.deletePairRecord(UDID);
    assert.equal(await c.readPairRecord(UDID), undefined);
    await assert.rejects(c.deletePairRecord(UDID), (e: unknown) => e instanceof UsbmuxError && e.result === 2 && e.code === 'ERR_USBMUX_BADDEV');
    await assert.rejects(c.savePairRecord(UDID, Buffer.from('not a plist')), (e: unknown) => e instanceof UsbmuxError && e.result === 22 && e.code === 'ERR_USBMUX_EINVAL');
    await assert.rejects(c.savePairRecord('../evil', encodeXmlPlist({ a: 1 })), (e: unknown) => e instanceof UsbmuxError && e.result === 22);
    c.close();
  } finally {
    await rig.cleanup();
  }
});

test('Connect: raw pipe after Result 0, device that speaks first, errors, consumed client', async () => {
  const rig = await startRig();
  try {
    const c = await UsbmuxClient.open({ address: rig.address });
    const s = await c.connect(1, 62078);
    await assert.rejects(c.readBuid(), isCode('ERR_USBMUX_CONSUMED'));
    assert.throws(() => c.listen(), isCode('ERR_USBMUX_CONSUMED'));
    s.write('hello');
    assert.equal((await readN(s, 5)).toString(), 'hello');
    s.destroy();
    const c2 = await UsbmuxClient.open({ address: rig.address });
    const s2 = await c2.connect(1, 1234);
    assert.equal((await readN(s2, 4)).toString(), 'ping', 'first device bytes arrive after the Result');
    s2.destroy();
    const c3 = await UsbmuxClient.open({ address: rig.address });
    await assert.rejects(c3.connect(9, 62078), (e: unknown) => e instanceof UsbmuxError && e.code === 'ERR_USBMUX_BADDEV' && e.result === 2);
    const c4 = await UsbmuxClient.open({ address: rig.address });
    await assert.rejects(c4.connect(1, 5), (e: unknown) => e instanceof UsbmuxError && e.code === 'ERR_USBMUX_CONNREFUSED' && e.result === 3);
    const c5 = await UsbmuxClient.open({ address: rig.address });
    await assert.rejects(c5.connect(1, 0), isCode('ERR_INVALID_ARG'));
  } finally {
    await rig.cleanup();
  }
});

test('Connect hands over bytes that arrived in the same read as the Result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'usbmux-raw-'));
  const { createServer } = await import('node:net');
  const srv = createServer((sock) => {
    sock.once('data', (req: Buffer) => {
      const tag = req.readUInt32LE(12);
      const body = encodeXmlPlist({ MessageType: 'Result', Number: 0 });
      // Result and the first device frame coalesced in one write, as a real device does.
      sock.write(Buffer.concat([encodeHeader(body.length, 1, MessageType.Plist, tag), body, Buffer.from('\x00\x00\x00\x04DATA', 'latin1')]));
    });
  });
  const path = join(dir, 's.sock');
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    const c = await UsbmuxClient.open({ address: `UNIX:${path}` });
    const s = await c.connect(1, 62078);
    assert.equal((await readN(s, 8)).toString('latin1'), '\x00\x00\x00\x04DATA');
    s.destroy();
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Listen: present devices, then attach / detach / paired events; leaving the loop closes the socket', async () => {
  const rig = await startRig();
  try {
    const c = await UsbmuxClient.open({ address: rig.address });
    const seen: string[] = [];
    let closed: Promise<unknown> | undefined;
    const other = await UsbmuxClient.open({ address: rig.address });
    for await (const ev of c.listen({ timeoutMs: 5000 })) {
      seen.push(ev.type === 'attached' ? `attached ${ev.device.deviceId} ${ev.device.udid}` : `${ev.type} ${ev.deviceId}`);
      if (seen.length === 1) {
        assert.equal((await other.listListeners()).length, 1);
        rig.backend.attach(usbRecord(2, '00008101000A11223344556E'));
      } else if (seen.length === 2) rig.backend.detach(2);
      else if (seen.length === 3) await other.savePairRecord(UDID, encodeXmlPlist({ HostID: 'H' }), 1);
      else {
        closed = once(rig.server, 'clientClosed');
        break;
      }
    }
    assert.deepEqual(seen, [`attached 1 ${UDID}`, 'attached 2 00008101-000A11223344556E', 'detached 2', 'paired 1']);
    // leaving the loop closed the socket: the server saw the client go and dropped the listener
    await closed;
    assert.equal((await other.listListeners()).length, 0);
    other.close();
  } finally {
    await rig.cleanup();
  }
});

test('binary v0 protocol against our server: Listen (DEVICE_ADD), Connect', async () => {
  const rig = await startRig();
  try {
    const c = await UsbmuxClient.open({ address: rig.address, protocol: 'binary' });
    for await (const ev of c.listen()) {
      assert.equal(ev.type, 'attached');
      assert.equal(ev.type === 'attached' && ev.device.udid, UDID);
      assert.equal(ev.type === 'attached' && ev.device.properties.ProductID, 4776);
      break;
    }
    const c2 = await UsbmuxClient.open({ address: rig.address, protocol: 'binary' });
    const s = await c2.connect(1, 62078);
    s.write('x');
    assert.equal((await readN(s, 1)).toString(), 'x');
    s.destroy();
    const c3 = await UsbmuxClient.open({ address: rig.address, protocol: 'binary' });
    await assert.rejects(c3.connect(7, 62078), isCode('ERR_USBMUX_BADDEV'));
    const c4 = await UsbmuxClient.open({ address: rig.address, protocol: 'binary' });
    const devs = await c4.listDevices(); // v0 has no ListDevices: a Listen scan
    assert.deepEqual(devs.map((d) => d.udid), [UDID]);
    c4.close();
  } finally {
    await rig.cleanup();
  }
});

test('server: unknown MessageType → 1, bad header version → 6, plist under v0 header answered in v1, garbage closes only that client', async () => {
  const rig = await startRig();
  const path = rig.address.slice(5);
  const raw = async (bytes: Buffer): Promise<{ replies: ReturnType<UsbmuxReplyDecoder['next']>[]; closed: boolean }> => {
    const s = netConnect(path);
    await once(s, 'connect');
    s.write(bytes);
    const d = new UsbmuxReplyDecoder();
    const replies: ReturnType<UsbmuxReplyDecoder['next']>[] = [];
    let closed = false;
    await new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        d.push(c);
        for (let r = d.next(); r; r = d.next()) replies.push(r);
        if (replies.length > 0) resolve();
      });
      s.on('close', () => {
        closed = true;
        resolve();
      });
    });
    s.destroy();
    return { replies, closed };
  };
  try {
    const bogus = encodeXmlPlist({ MessageType: 'Bogus' });
    const r1 = await raw(Buffer.concat([encodeHeader(bogus.length, 1, MessageType.Plist, 5), bogus]));
    assert.deepEqual(r1.replies.map((r) => r && [r.kind, r.tag, r.version, r.kind === 'result' && r.result]), [['result', 5, 1, 1]]);
    const r2 = await raw(encodeHeader(0, 7, MessageType.Listen, 6));
    assert.deepEqual(r2.replies.map((r) => r && [r.kind, r.tag, r.version, r.kind === 'result' && r.result]), [['result', 6, 0, 6]]);
    const buid = encodeXmlPlist({ MessageType: 'ReadBUID' });
    const r3 = await raw(Buffer.concat([encodeHeader(buid.length, 0, MessageType.Plist, 7), buid]));
    assert.equal(r3.replies[0]!.version, 1);
    assert.equal(r3.replies[0]!.kind, 'plist');
    const r4 = await raw(encodeHeader(0, 0, 77, 8));
    assert.deepEqual(r4.replies.map((r) => r && [r.kind, r.version, r.kind === 'result' && r.result]), [['result', 0, 1]]);
    const keep = await UsbmuxClient.open({ address: rig.address });
    const dropped = new Promise((r) => rig.server.once('clientError', r));
    const r5 = await raw(Buffer.concat([encodeHeader(5, 1, MessageType.Plist, 9), Buffer.from('junk!')]));
    assert.equal(r5.closed, true);
    assert.deepEqual(r5.replies, []);
    assert.ok((await dropped) instanceof IDeviceError);
    assert.equal((await keep.listDevices()).length, 1, 'other clients are unaffected');
    keep.close();
  } finally {
    await rig.cleanup();
  }
});

test('client: Result 6 switches to the binary protocol (libusbmuxd fallback)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'usbmux-v0-'));
  const { createServer } = await import('node:net');
  const { encodeResult } = await import('../../../src/usbmux/server-codec.ts');
  const seen: number[] = [];
  const srv = createServer((sock) => {
    sock.on('data', (b: Buffer) => {
      const version = b.readUInt32LE(4);
      seen.push(version);
      sock.write(Buffer.concat(encodeResult('binary', b.readUInt32LE(12), version === 1 ? 6 : 0)));
    });
  });
  const path = join(dir, 's.sock');
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    const c = await UsbmuxClient.open({ address: `UNIX:${path}` });
    const s = await c.connect(1, 62078);
    assert.equal(c.protocol, 'binary');
    assert.deepEqual(seen, [1, 0]);
    s.destroy();
    const c2 = await UsbmuxClient.open({ address: `UNIX:${path}` });
    await assert.rejects(c2.readBuid(), (e: unknown) => e instanceof UsbmuxError && e.code === 'ERR_USBMUX_BADVERSION');
    c2.close();
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('client: unreachable daemon, timeout, abort, EOF mid-reply, close while pending', async () => {
  await assert.rejects(UsbmuxClient.open({ address: 'UNIX:/nonexistent/usbmuxd.sock' }), isCode('ERR_USBMUX_UNREACHABLE'));
  const dir = mkdtempSync(join(tmpdir(), 'usbmux-silent-'));
  const { createServer } = await import('node:net');
  let mode = 'silent';
  const srv = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.on('data', () => {
      if (mode === 'truncate') sock.end(Buffer.from('2601000001000000', 'hex'));
      if (mode === 'close') sock.end();
    });
  });
  const path = join(dir, 's.sock');
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    const c = await UsbmuxClient.open({ address: `UNIX:${path}` });
    await assert.rejects(c.readBuid({ timeoutMs: 30 }), isCode('ERR_TIMEOUT'));
    const ac = new AbortController();
    const p = c.listDevices({ signal: ac.signal });
    ac.abort();
    await assert.rejects(p, isCode('ERR_ABORTED'));
    const pending = c.readBuid();
    c.close();
    await assert.rejects(pending, isCode('ERR_CLOSED'));
    mode = 'truncate';
    const c2 = await UsbmuxClient.open({ address: `UNIX:${path}` });
    await assert.rejects(c2.readBuid(), isCode('ERR_PROTOCOL'));
    mode = 'close';
    const c3 = await UsbmuxClient.open({ address: `UNIX:${path}` });
    await assert.rejects(c3.listDevices(), isCode('ERR_CLOSED'));
    const c4 = await UsbmuxClient.open({ address: `UNIX:${path}` });
    await assert.rejects(
      (async () => {
        for await (const _ of c4.listen()) void _;
      })(),
      isCode('ERR_CLOSED'),
    );
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in-memory: server.handle() on one end of duplexPair(), client constructed on the other', async () => {
  const { duplexPair } = await import('../../../src/core/duplex-pair.ts');
  const rig = await startRig();
  try {
    const [a, b] = duplexPair();
    rig.server.handle(b);
    const c = new UsbmuxClient(a);
    assert.deepEqual((await c.listDevices()).map((d) => d.udid), [UDID]);
    const s = await c.connect(1, 62078);
    s.write('mem');
    assert.equal((await readN(s, 3)).toString(), 'mem');
    s.destroy();
  } finally {
    await rig.cleanup();
  }
});

test('server: a backend that throws gets a Result, never a crash', async () => {
  const rig = await startRig();
  try {
    rig.backend.readBuid = () => Promise.reject(new Error('disk on fire'));
    rig.backend.connect = () => Promise.reject(new Error('usb gone'));
    const c = await UsbmuxClient.open({ address: rig.address });
    await assert.rejects(c.readBuid(), (e: unknown) => e instanceof UsbmuxError && e.result === 1);
    await assert.rejects(c.connect(1, 62078), (e: unknown) => e instanceof UsbmuxError && e.result === 3);
    const c2 = await UsbmuxClient.open({ address: rig.address });
    assert.equal((await c2.listDevices()).length, 1);
    c2.close();
  } finally {
    await rig.cleanup();
  }
});

test('Network device records: NetworkAddress sockaddr parsed, connection type kept', async () => {
  const rig = await startRig();
  try {
    const sa = Buffer.from('1002f27ec0a80114' + '00'.repeat(8), 'hex');
    rig.backend.attach({
      deviceId: 5,
      properties: { ConnectionType: 'Network', DeviceID: 5, EscapedFullServiceName: 'x', InterfaceIndex: 4, NetworkAddress: sa, SerialNumber: UDID },
    });
    const c = await UsbmuxClient.open({ address: rig.address });
    const net = (await c.listDevices()).find((d) => d.deviceId === 5)!;
    assert.equal(net.connectionType, 'Network');
    assert.deepEqual(net.networkAddress, { family: 'IPv4', address: '192.168.1.20', port: 62078 });
    assert.ok(Buffer.isBuffer(net.properties.NetworkAddress));
    c.close();
  } finally {
    await rig.cleanup();
  }
});

test('client fallback against a v0-only server (binaryOnly): Connect and ListDevices switch to binary', async () => {
  const { UsbmuxServer } = await import('../../../src/usbmux/server.ts');
  const rig = await startRig();
  const old = new UsbmuxServer(rig.backend, { binaryOnly: true });
  try {
    const addr = await old.listen(`UNIX:${join(rig.dir, 'v0.sock')}`);
    const c = await UsbmuxClient.open({ address: addr });
    assert.deepEqual((await c.listDevices()).map((d) => [d.deviceId, d.udid, d.productId]), [[1, UDID, 4776]]);
    assert.equal(c.protocol, 'binary');
    c.close();
    const c2 = await UsbmuxClient.open({ address: addr });
    const s = await c2.connect(1, 62078);
    assert.equal(c2.protocol, 'binary');
    s.write('v0');
    assert.equal((await readN(s, 2)).toString(), 'v0');
    s.destroy();
    const c3 = await UsbmuxClient.open({ address: addr });
    await assert.rejects(c3.readBuid(), (e: unknown) => e instanceof UsbmuxError && e.code === 'ERR_USBMUX_BADVERSION' && e.result === 6);
    c3.close();
  } finally {
    await old.close();
    await rig.cleanup();
  }
});

test('fast-check: random bytes from clients never crash the server; a good client is still served', async () => {
  const fc = (await import('fast-check')).default;
  const { duplexPair } = await import('../../../src/core/duplex-pair.ts');
  const { encodeHeader } = await import('../../../src/usbmux/protocol.ts');
  const rig = await startRig();
  try {
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u)),
      fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 }), fc.nat()).map(([len, v, m, t]) => {
        const h = encodeHeader(0, v, m, t);
        h.writeUInt32LE(len, 0);
        return h;
      }),
      fc.constant(Buffer.concat(encodePlistBody({ MessageType: 'ReadBUID' }))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 6 }), async (pieces) => {
        const [a, b] = duplexPair();
        a.on('data', () => undefined);
        a.on('error', () => undefined);
        rig.server.handle(b);
        for (const p of pieces) if (!a.destroyed) a.write(p);
        a.destroy();
      }),
      { numRuns: 150, seed: 7 },
    );
    const c = await UsbmuxClient.open({ address: rig.address });
    assert.equal((await c.listDevices()).length, 1);
    c.close();
  } finally {
    await rig.cleanup();
  }
});

function encodePlistBody(d: Record<string, string>): Buffer[] {
  const body = encodeXmlPlist(d);
  return [encodeHeader(body.length, 1, MessageType.Plist, 1), body];
}

test('server: a client that pipelines requests without reading is answered one drain at a time; flooding drops it', async () => {
  const { Duplex: DuplexStream } = await import('node:stream');
  const { encodePlistRequest } = await import('../../../src/usbmux/codec.ts');
  const rig = await startRig();
  try {
    let replies = 0;
    const pending: (() => void)[] = [];
    let written: () => void = () => {};
    // A client end whose writes complete only when the test says so (a peer that does not read).
    const d = new DuplexStream({
      writableHighWaterMark: 1,
      read() {},
      write(_c, _e, cb) {
        replies++;
        pending.push(cb);
        written();
      },
      writev(chunks, cb) {
        replies++;
        pending.push(cb);
        written();
        void chunks;
      },
    });
    const nextWrite = (): Promise<void> => new Promise((resolve) => (written = resolve));
    const first = nextWrite();
    rig.server.handle(d);
    const req = Buffer.concat(encodePlistRequest(1, { MessageType: 'ListDevices' }));
    d.push(Buffer.concat(Array.from({ length: 10 }, () => req)));
    await first;
    const oneReply = d.writableLength;
    // the server waits for 'drain' before answering the next request: nothing more is queued meanwhile
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(replies, 1);
    assert.equal(d.writableLength, oneReply);
    const second = nextWrite();
    pending.shift()!();
    await second;
    assert.equal(replies, 2);
    assert.equal(d.writableLength, oneReply);
    // a flood far beyond the message cap while nothing drains: the client is dropped, the server lives on
    const closed = once(d, 'close');
    for (let i = 0; i < 40; i++) d.push(Buffer.alloc(1024 * 1024, 0x41));
    await closed;
    const c = await UsbmuxClient.open({ address: rig.address, timeoutMs: 5000 });
    assert.equal((await c.listDevices({ timeoutMs: 5000 })).length, 1);
    c.close();
  } finally {
    await rig.cleanup();
  }
});

test('Listen: an ended Listen leaves no abort listener on a long-lived signal', async () => {
  const { EventEmitter } = await import('node:events');
  const rig = await startRig();
  try {
    const ac = new AbortController();
    for (let i = 0; i < 3; i++) {
      const c = await UsbmuxClient.open({ address: rig.address, timeoutMs: 5000 });
      for await (const ev of c.listen({ signal: ac.signal, timeoutMs: 5000 })) {
        assert.equal(ev.type, 'attached');
        break;
      }
    }
    assert.equal(EventEmitter.getEventListeners(ac.signal, 'abort').length, 0);
  } finally {
    await rig.cleanup();
  }
});

test('a bare absolute path works on both ends: UsbmuxServer.listen("/path") (iosdevice usbmuxd --socket) and the client address', async () => {
  const rig = await startRig();
  const path = join(rig.dir, 'bare.sock');
  const server = new UsbmuxServer(rig.backend);
  try {
    assert.equal(await server.listen(path), `UNIX:${path}`);
    const c = await UsbmuxClient.open({ address: path });
    try {
      assert.deepEqual((await c.listDevices({ timeoutMs: 5000 })).map((d) => d.udid), [UDID]);
    } finally {
      c.close();
    }
  } finally {
    await server.close();
    await rig.cleanup();
  }
});
