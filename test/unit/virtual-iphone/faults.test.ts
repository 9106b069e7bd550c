import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { DeviceFaults } from '../../../src/virtual-iphone/faults.ts';
import { IDeviceError } from '../../../src/core/errors.ts';

function pair(f: DeviceFaults, port = 1000): { device: Duplex; host: Duplex } {
  const [hostEnd, device] = duplexPair();
  return { device, host: f.wrap(hostEnd, port) };
}

/** Collects bytes until the stream ends or closes; resolves how it finished. */
function collect(s: Duplex): Promise<{ bytes: number; how: 'end' | 'close' | 'error'; err?: Error }> {
  let bytes = 0;
  return new Promise((resolve) => {
    s.on('data', (b: Buffer) => (bytes += b.length));
    s.once('end', () => resolve({ bytes, how: 'end' }));
    s.once('error', (err) => resolve({ bytes, how: 'error', err }));
    s.once('close', () => resolve({ bytes, how: 'close' }));
  });
}

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('no fault armed: wrap returns the stream itself', () => {
  const f = new DeviceFaults(() => {});
  const [a] = duplexPair();
  assert.equal(f.wrap(a, 62078), a);
});

test('drop after N bytes: the host receives exactly N bytes, then the connection closes; next connection is clean', async () => {
  const f = new DeviceFaults(() => {});
  f.arm({ kind: 'drop', afterBytes: 10_000 });
  const { device, host } = pair(f);
  const done = collect(host);
  device.write(Buffer.alloc(6000));
  device.write(Buffer.alloc(6000));
  const r = await done;
  assert.equal(r.bytes, 10_000);
  assert.notEqual(r.how, 'end');
  await ticks(2);
  assert.ok(device.destroyed, 'device side closed too');
  const [other] = duplexPair();
  assert.equal(f.wrap(other, 1000), other, 'one-shot fault was consumed');
});

test('drop applies only to the armed port; persistent faults hit every connection', async () => {
  const f = new DeviceFaults(() => {});
  f.arm({ kind: 'drop', afterBytes: 5, port: 2000, persistent: true });
  const [plain] = duplexPair();
  assert.equal(f.wrap(plain, 62078), plain);
  for (let i = 0; i < 2; i++) {
    const { device, host } = pair(f, 2000);
    const done = collect(host);
    device.write(Buffer.from('0123456789'));
    assert.equal((await done).bytes, 5);
  }
});

test('stall after N bytes: nothing more moves either way, the connection stays open', async () => {
  const f = new DeviceFaults(() => {});
  f.arm({ kind: 'stall', afterBytes: 100 });
  const { device, host } = pair(f);
  let got = 0;
  host.on('data', (b: Buffer) => (got += b.length));
  let ended = false;
  host.on('end', () => (ended = true));
  device.write(Buffer.alloc(64));
  device.write(Buffer.alloc(64));
  device.end(Buffer.alloc(64));
  let deviceGot = 0;
  device.on('data', (b: Buffer) => (deviceGot += b.length));
  await ticks(5);
  assert.equal(got, 100);
  host.write(Buffer.from('request'));
  await ticks(5);
  assert.equal(got, 100);
  assert.equal(ended, false);
  assert.equal(deviceGot, 0, 'host→device is stalled too');
  assert.equal(host.destroyed, false);
  host.destroy();
});

test('detach after N bytes counts all connections of the device and fires once', async () => {
  let detached = 0;
  const streams: Duplex[] = [];
  const f = new DeviceFaults(() => {
    detached++;
    for (const s of streams) s.destroy(new IDeviceError('ERR_EMULATOR_DETACHED', 'device detached'));
  });
  f.arm({ kind: 'detach', afterBytes: 1500 });
  const a = pair(f);
  const b = pair(f, 2000);
  streams.push(a.host, b.host);
  const ra = collect(a.host);
  const rb = collect(b.host);
  a.device.write(Buffer.alloc(1000));
  await ticks(2);
  b.device.write(Buffer.alloc(1000));
  const [x, y] = await Promise.all([ra, rb]);
  assert.equal(detached, 1);
  assert.equal(x.bytes + y.bytes, 1500);
  assert.equal(x.how, 'error');
  assert.equal((x.err as IDeviceError).code, 'ERR_EMULATOR_DETACHED');
});

test('bad afterBytes is ERR_INVALID_ARG', () => {
  const f = new DeviceFaults(() => {});
  assert.throws(
    () => f.arm({ kind: 'drop', afterBytes: -1 }),
    (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG',
  );
});
