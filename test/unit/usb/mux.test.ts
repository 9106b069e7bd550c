import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { IDeviceError } from '../../../src/core/errors.ts';
import { DeviceMux } from '../../../src/usb/device-mux.ts';
import type { ServiceLookup } from '../../../src/usb/device-mux.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import type { MuxConnection } from '../../../src/usb/connection.ts';
import { createVirtualUsbPair } from '../../../src/usb/virtual-endpoints.ts';
import type { ControlMessage } from '../../../src/usb/header.ts';

const ECHO = 7777;
const echo = (s: Duplex): void => {
  s.pipe(s);
};

function setup(opts: { maxVersion?: 1 | 2; services?: Record<number, (s: Duplex) => void> } = {}) {
  const pair = createVirtualUsbPair();
  const table: Record<number, (s: Duplex) => void> = opts.services ?? { [ECHO]: echo };
  const lookup: ServiceLookup = (port) => table[port];
  const device = new DeviceMux(pair.device, { services: lookup, maxVersion: opts.maxVersion });
  return { pair, device };
}

function readN(s: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', reject);
        s.pause();
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.resume();
  });
}

/** Waits (event-loop turns, not time) until cond() holds; fails after `max` turns. */
async function until(cond: () => boolean, what: string, max = 200000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`condition never held: ${what}`);
}

test('handshake v2: VERSION + SETUP, echo through a stream', async () => {
  const { pair, device } = setup();
  const mux = await HostMux.open(pair.host, { timeoutMs: 5000 });
  assert.equal(mux.version, 2);
  assert.equal(device.version, 2);
  const s = await mux.connect(ECHO);
  const data = randomBytes(100_000);
  s.write(data);
  assert.ok((await readN(s, data.length)).equals(data));
  await mux.close();
});

test('handshake falls back to v1 when the device answers major 1', async () => {
  const { pair, device } = setup({ maxVersion: 1 });
  const mux = await HostMux.open(pair.host, { timeoutMs: 5000 });
  assert.equal(mux.version, 1);
  assert.equal(device.version, 1);
  const s = await mux.connect(ECHO);
  s.write('v1 works');
  assert.equal((await readN(s, 8)).toString(), 'v1 works');
  await mux.close();
});

test('a 512-byte packet (476-byte payload) needs the ZLP and arrives alone', async () => {
  const { pair } = setup();
  const mux = await HostMux.open(pair.host);
  const s = await mux.connect(ECHO);
  for (let i = 0; i < 3; i++) {
    const d = randomBytes(476);
    s.write(d);
    assert.ok((await readN(s, 476)).equals(d));
  }
  await mux.close();
});

test('many concurrent streams stay separate and byte-identical', async () => {
  const { pair } = setup();
  const mux = await HostMux.open(pair.host);
  const N = 40;
  const streams = await Promise.all(Array.from({ length: N }, () => mux.connect(ECHO)));
  assert.equal(new Set(streams.map((s) => s.localPort)).size, N);
  assert.equal(mux.connectionCount, N);
  const results = await Promise.all(
    streams.map(async (s, i) => {
      const d = randomBytes(20_000 + i * 1500);
      s.write(d);
      return (await readN(s, d.length)).equals(d);
    }),
  );
  assert.ok(results.every(Boolean));
  for (const s of streams) s.destroy();
  await until(() => mux.connectionCount === 0, 'streams released');
  await mux.close();
});

test('connect to a port nobody serves → ERR_USB_MUX_REFUSED, mux still usable', async () => {
  const { pair } = setup();
  const mux = await HostMux.open(pair.host);
  await assert.rejects(mux.connect(1234), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_USB_MUX_REFUSED');
  await assert.rejects(mux.connect(0), { code: 'ERR_INVALID_ARG' });
  const s = await mux.connect(ECHO);
  s.write('ok');
  assert.equal((await readN(s, 2)).toString(), 'ok');
  await mux.close();
});

test('backpressure: a reader that stops makes the device stop; nothing buffers without bound', async () => {
  const TOTAL = 2 * 1024 * 1024;
  const source = randomBytes(TOTAL);
  let devStream: MuxConnection | undefined;
  let maxDeviceWritable = 0;
  const { pair } = setup({
    services: {
      9000: (s) => {
        devStream = s as MuxConnection;
        let off = 0;
        const pump = (): void => {
          while (off < TOTAL) {
            const piece = source.subarray(off, off + 32768);
            off += piece.length;
            const ok = s.write(piece);
            maxDeviceWritable = Math.max(maxDeviceWritable, s.writableLength);
            if (!ok) return void s.once('drain', pump);
          }
        };
        pump();
      },
    },
  });
  const mux = await HostMux.open(pair.host);
  const s = await mux.connect(9000);
  // nobody reads: the device must stall once our 128 KiB window (+ readable buffer) is full
  await until(() => devStream !== undefined && devStream.stats.unacked >= 131072, 'device stalled on a full window');
  const hostHeld = s.stats.queued + s.stats.readableBuffered;
  const sentBeforeResume = devStream!.stats.bytesOut;
  assert.ok(hostHeld <= 131072 + 64 * 1024 + 49152, `host holds ${hostHeld} bytes`);
  assert.ok(sentBeforeResume < 512 * 1024, `device sent ${sentBeforeResume} bytes to a reader that reads nothing`);
  // now read slowly and keep measuring
  let maxHost = 0;
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of s) {
    parts.push(c as Buffer);
    got += (c as Buffer).length;
    maxHost = Math.max(maxHost, s.stats.queued + s.stats.readableBuffered);
    await new Promise((r) => setImmediate(r));
    if (got >= TOTAL) break;
  }
  assert.ok(Buffer.concat(parts).equals(source));
  assert.ok(maxHost <= 131072 + 64 * 1024 + 49152, `host buffered up to ${maxHost}`);
  assert.ok(maxDeviceWritable <= 64 * 1024 + 32768, `device writable buffer up to ${maxDeviceWritable}`);
  assert.ok(pair.bytes.deviceToHost < TOTAL * 1.05, 'no retransmission or runaway');
  await mux.close();
});

test('host-to-device backpressure: a service that does not read stalls the host writer', async () => {
  let dev: MuxConnection | undefined;
  const { pair } = setup({ services: { 9001: (s) => void (dev = s as MuxConnection) } });
  const mux = await HostMux.open(pair.host);
  const s = await mux.connect(9001);
  const big = randomBytes(1024 * 1024);
  let writeDone = false;
  s.write(big, () => (writeDone = true));
  await until(() => s.stats.unacked >= 131072, 'host stalled');
  assert.equal(writeDone, false);
  assert.ok(dev!.stats.queued + dev!.stats.readableBuffered <= 131072 + 64 * 1024 + 49152);
  const got = await readN(dev!, big.length);
  assert.ok(got.subarray(0, big.length).equals(big));
  await until(() => writeDone, 'write callback');
  await mux.close();
});

test('device detach mid-transfer: every open stream gets ERR_USB_DETACHED, connect too', async () => {
  const { pair, device } = setup({
    services: {
      9002: (s) => {
        const chunk = Buffer.alloc(16384, 1);
        const pump = (): void => {
          while (s.write(chunk));
          s.once('drain', pump);
        };
        pump();
      },
    },
  });
  const mux = await HostMux.open(pair.host);
  const streams = await Promise.all([mux.connect(9002), mux.connect(9002), mux.connect(9002)]);
  const errors = streams.map((s) => once(s, 'error').then(([e]) => e as IDeviceError));
  const closeEvt = once(mux, 'close');
  const devClose = once(device, 'close');
  await Promise.all(streams.map((s) => once(s, 'data')));
  pair.unplug();
  for (const e of await Promise.all(errors)) {
    assert.ok(e instanceof IDeviceError);
    assert.equal(e.code, 'ERR_USB_DETACHED');
  }
  const [err] = await closeEvt;
  assert.equal((err as IDeviceError).code, 'ERR_USB_DETACHED');
  await devClose;
  await assert.rejects(mux.connect(9002), { code: 'ERR_USB_DETACHED' });
});

test('device refuses a 64 KiB packet with a CONTROL error surfaced as a log event', async () => {
  const pair = createVirtualUsbPair();
  const device = new DeviceMux(pair.device, { services: () => undefined });
  const rejected = once(device, 'reject');
  const mux = await HostMux.open(pair.host);
  const log = once(mux, 'log');
  // bypass the host mux's 48 KiB limit: a raw 65536-byte OUT transfer (plus its ZLP)
  const big = Buffer.alloc(65536);
  big.writeUInt32BE(6, 0);
  big.writeUInt32BE(65536, 4);
  big.writeUInt32BE(0xfeedface, 8);
  await pair.host.write(big);
  await pair.host.write(Buffer.alloc(0));
  const [msg] = (await log) as [ControlMessage];
  assert.equal(msg.level, 'error');
  assert.match(msg.text, /65536/);
  await rejected;
  await mux.close();
});

test('hostile device packets tear the host mux down with typed errors', async () => {
  for (const [name, bad, code] of [
    ['bad magic', Buffer.from('0000000600000010deadbeef00000000', 'hex'), 'ERR_PROTOCOL'],
    ['oversized length', Buffer.from('0000000600100000feedface00000000', 'hex'), 'ERR_PROTOCOL_TOO_LARGE'],
    ['length mismatch', Buffer.from('0000000600000030feedface00000000', 'hex'), 'ERR_PROTOCOL'],
  ] as const) {
    const pair = createVirtualUsbPair();
    const device = new DeviceMux(pair.device, { services: (p) => (p === ECHO ? echo : undefined) });
    const mux = await HostMux.open(pair.host);
    const s = await mux.connect(ECHO);
    const sErr = once(s, 'error');
    const closed = once(mux, 'close');
    await pair.device.write(bad);
    const [e] = await closed;
    assert.equal((e as IDeviceError).code, code, name);
    assert.equal(((await sErr)[0] as IDeviceError).code, code, name);
    await device.close();
  }
});

test('a device answering an unknown VERSION major → ERR_USB_MUX_VERSION', async () => {
  const pair = createVirtualUsbPair();
  pair.device.onData(() => {
    const r = Buffer.alloc(20);
    r.writeUInt32BE(0, 0);
    r.writeUInt32BE(20, 4);
    r.writeUInt32BE(3, 8);
    void pair.device.write(r);
  });
  pair.device.onClose(() => undefined);
  await assert.rejects(HostMux.open(pair.host, { timeoutMs: 5000 }), { code: 'ERR_USB_MUX_VERSION' });
});

test('a silent device times out the handshake', async () => {
  const pair = createVirtualUsbPair();
  pair.device.onData(() => undefined);
  await assert.rejects(HostMux.open(pair.host, { timeoutMs: 50 }), { code: 'ERR_TIMEOUT' });
});

test('peer RST ends the readable side after buffered data; host end() resets the device stream', async () => {
  let devEnded: Promise<unknown> | undefined;
  const { pair } = setup({
    services: {
      9003: (s) => void s.end('bye'),
      9004: (s) => {
        devEnded = once(s, 'end');
        s.resume();
      },
    },
  });
  const mux = await HostMux.open(pair.host);
  const s = await mux.connect(9003);
  const got = await readN(s, 3);
  assert.equal(got.toString(), 'bye');
  s.resume();
  await once(s, 'end');
  await until(() => mux.connectionCount === 0, 'released after RST');
  const s2 = await mux.connect(9004);
  await until(() => devEnded !== undefined, 'device stream open');
  s2.end();
  await devEnded;
  await mux.close();
});
