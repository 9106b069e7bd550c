import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { DeviceLink, TokenBucket, linkProfile } from '../../../src/virtual-iphone/link.ts';
import { IDeviceError } from '../../../src/core/errors.ts';

/** A device-side stream pair: `device` is where the service writes, `host` is the shaped end the client reads. */
function shapedPair(link: DeviceLink): { device: Duplex; host: Duplex } {
  const [hostEnd, device] = duplexPair();
  return { device, host: link.wrap(hostEnd) };
}

/** Reads with 'data' events (for-await would use read(), which concatenates buffered chunks). */
function drain(s: Duplex): Promise<{ bytes: number; sha: string; chunks: Buffer[] }> {
  const h = createHash('sha256');
  const chunks: Buffer[] = [];
  let bytes = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      h.update(b);
      bytes += b.length;
    });
    s.once('end', () => resolve({ bytes, sha: h.digest('hex'), chunks }));
    s.once('error', reject);
  });
}

async function writeAll(s: Duplex, bufs: Buffer[]): Promise<void> {
  for (const b of bufs) if (!s.write(b)) await new Promise((r) => s.once('drain', r));
  s.end();
}

test('profiles: usb2 = 40 MB/s + 0.5 ms RTT, none = no shaping, unknown = ERR_INVALID_ARG', () => {
  assert.deepEqual(linkProfile('usb2'), { bytesPerSecond: 40_000_000, roundTripMs: 0.5 });
  assert.equal(linkProfile('none'), undefined);
  assert.throws(
    () => linkProfile('usb9'),
    (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG',
  );
});

test('token bucket: reservations queue up at the configured rate (fake clock)', () => {
  let now = 0;
  const b = new TokenBucket(1000, 100, () => now); // 1 byte per ms, 100 bytes burst
  assert.equal(b.reserve(100), 0); // the burst
  assert.equal(b.reserve(50), 50);
  assert.equal(b.reserve(50), 100);
  now = 100;
  assert.equal(b.reserve(10), 110);
  now = 1000;
  assert.equal(b.reserve(10), 1000); // refilled (capped at burst)
});

test('usb2: 8 MB device→host arrives intact, without copies, at ~40 MB/s (ratio reported)', async () => {
  const link = new DeviceLink(linkProfile('usb2')!);
  const { device, host } = shapedPair(link);
  const bufs = Array.from({ length: 32 }, () => randomBytes(256 * 1024));
  const want = createHash('sha256');
  for (const b of bufs) want.update(b);
  const t0 = performance.now();
  const [got] = await Promise.all([drain(host), writeAll(device, bufs)]);
  const ms = performance.now() - t0;
  assert.equal(got.bytes, 8 * 1024 * 1024);
  assert.equal(got.sha, want.digest('hex'));
  // zero copy: every received chunk is a view into one of the written buffers
  const parents = new Set(bufs.map((b) => b.buffer));
  const copied = got.chunks.filter((c) => !parents.has(c.buffer as ArrayBuffer)).length;
  assert.equal(copied, 0, 'chunks not views of the written buffers');
  const expectedMs = ((8 * 1024 * 1024 - 64 * 1024) / 40_000_000) * 1000;
  const ratio = ms / expectedMs;
  console.log(`usb2 single stream: ${(got.bytes / ms / 1000).toFixed(1)} MB/s, time ratio actual/expected = ${ratio.toFixed(2)}`);
  assert.ok(ratio > 0.8 && ratio < 4, `ratio ${ratio}`);
});

test('usb2: the rate is shared by all connections of a device, both directions', async () => {
  const link = new DeviceLink(linkProfile('usb2')!);
  const a = shapedPair(link);
  const b = shapedPair(link);
  const mk = (): Buffer[] => Array.from({ length: 16 }, () => randomBytes(256 * 1024));
  const t0 = performance.now();
  const results = await Promise.all([
    drain(a.host),
    writeAll(a.device, mk()),
    drain(b.device), // host→device direction on the second connection
    writeAll(b.host, mk()),
  ]);
  const ms = performance.now() - t0;
  assert.equal(results[0].bytes, 4 * 1024 * 1024);
  assert.equal(results[2].bytes, 4 * 1024 * 1024);
  const expectedMs = ((8 * 1024 * 1024 - 64 * 1024) / 40_000_000) * 1000;
  const ratio = ms / expectedMs;
  console.log(`usb2 two streams: ${(8.388608 / (ms / 1000)).toFixed(1)} MB/s total, ratio = ${ratio.toFixed(2)}`);
  assert.ok(ratio > 0.8 && ratio < 4, `ratio ${ratio}`);
  assert.equal(link.bytes, 8 * 1024 * 1024);
});

test('backpressure: an unread shaped stream holds a bounded amount and stalls the device writer', async () => {
  const link = new DeviceLink({ bytesPerSecond: 1e9, roundTripMs: 0, windowBytes: 128 * 1024 });
  const { device, host } = shapedPair(link);
  let written = 0;
  let blocked = false;
  for (let i = 0; i < 64 && !blocked; i++) {
    blocked = !device.write(Buffer.alloc(64 * 1024));
    written += 64 * 1024;
  }
  // let the pipeline settle: the wrapper fills its own buffer and window, then stops reading
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.ok(host.readableLength <= 64 * 1024 + 16 * 1024, `readable ${host.readableLength}`);
  assert.ok(written < 64 * 64 * 1024, 'the device writer was blocked before writing everything');
  // reading releases it
  const got = drain(host);
  device.end();
  assert.equal((await got).bytes, written);
});

test('end and destroy propagate: device end → host end; host destroy → device side closed', async () => {
  const link = new DeviceLink(linkProfile('usb2')!);
  const p1 = shapedPair(link);
  p1.device.end(Buffer.from('bye'));
  assert.equal((await drain(p1.host)).bytes, 3);
  const p2 = shapedPair(link);
  const closed = new Promise((r) => p2.device.once('close', r));
  p2.host.destroy();
  await closed;
  assert.ok(p2.device.destroyed);
});

test('usb2 adds latency: 40 sequential 1-byte round trips take at least 40 × 0.5 ms', async () => {
  const link = new DeviceLink(linkProfile('usb2')!);
  const { device, host } = shapedPair(link);
  device.on('data', (b: Buffer) => device.write(b)); // the device echoes
  const t0 = performance.now();
  for (let i = 0; i < 40; i++) {
    const got = new Promise<Buffer>((r) => host.once('data', r));
    host.write(Buffer.from([i]));
    assert.equal((await got)[0], i);
  }
  const ms = performance.now() - t0;
  console.log(`usb2 round trip: ${(ms / 40).toFixed(2)} ms (0.5 ms configured)`);
  assert.ok(ms >= 40 * 0.5, `${ms} ms`);
  host.destroy();
});
