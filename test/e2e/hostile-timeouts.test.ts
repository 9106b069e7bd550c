/**
 * Hostile-device suite, time-based attacks: a device that stops answering (mid-transfer or mid-walk) and one
 * that trickles file data. The engine runs in-process over the real stack (usbmux client → the project's
 * usbmuxd server → lockdownd (TLS session) → the raw hostile AFC responder), with timeouts scaled down so
 * each attack takes a second or two; the defaults (15 s, 64 KiB/s over 15 s) are exercised at full length by
 * `npm run hostile:timing`. After every failure mode a second run can lock DEST at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAfc, openDevice, openLockdownSession } from '../../src/connect.ts';
import { runBackup, type BackupOptions, type BackupSummary } from '../../src/photos/backup.ts';
import { acquireLock } from '../../src/photos/lock.ts';
import type { PhotoDevice } from '../../src/photos/source.ts';
import { startEmulator } from '../../src/virtual-iphone/emulator.ts';
import { HostileAfc, type Misbehaviour } from '../support/hostile-afc.ts';

/** Base names of the files under `dir` (DEST's own state folder left out). */
function readdirRecursive(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile() && !(d.parentPath ?? '').includes('.iosdevice')).map((d) => d.name);
}

function photo(seed: number, size = 20_000): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => (i * 13 + seed) & 0xff));
}

async function attack(
  misbehave: Misbehaviour,
  setup: (afc: HostileAfc) => void,
  o: Partial<BackupOptions>,
  check: (s: BackupSummary, afc: HostileAfc, ms: number, dest: string) => void,
): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'hostile-t-'));
  const afc = new HostileAfc(misbehave);
  setup(afc);
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, dcimCount: 0, services: { 'com.apple.afc': (s) => afc.serve(s) } });
  try {
    const dev = await openDevice({ socket: emu.address }, { timeoutMs: 10_000 });
    (await openLockdownSession(dev, { autoPair: true, timeoutMs: 10_000 })).lockdown.close();
    const device: PhotoDevice = { udid: dev.udid, openAfc: (co) => connectAfc(dev, { autoPair: false, ...co }) };
    const dest = join(tmp, 'dest');
    const t0 = performance.now();
    // one connection, one file at a time: AFC answers in order, so a stalled or trickled reply holds back
    // everything behind it on its connection; with one file in flight the file that misbehaves is the one that fails
    const s = await runBackup({ dest, device, connections: 1, filesPerConnection: 1, ...o });
    check(s, afc, performance.now() - t0, dest);
    // the lock was released on this exit path: another run can take it at once
    const release = await acquireLock(join(dest, '.iosdevice'));
    await release();
  } finally {
    afc.close();
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

test('hostile: a device that stops answering mid-transfer fails "timed out" after two timeouts (not "dropped"), lock released', () =>
  // two files: IMG_0001 is answered, then the device goes silent on IMG_0002 (a third file behind it made the run
  // depend on timing: the adaptive window may admit it, its read then waits on the silent connection too and
  // may be the one named, or its progress on the new connection resets the two-timeouts rule)
  attack({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_0002.JPG', photo(2), { stallAfter: 0 });
  }, { idleTimeoutMs: 400 }, (s, afc, ms, dest) => {
    assert.equal(s.status, 'device-lost');
    assert.equal(s.stopped?.code, 'ERR_PHOTOS_DISCONNECTED');
    const names = readdirRecursive(dest);
    assert.deepEqual(names, ['IMG_0001.JPG']);
    assert.match(s.stopped?.message ?? '', /^the device stopped answering: reading \/DCIM\/100APPLE\/IMG_0002\.JPG timed out: no data for 0\.\d s \(again on a new connection\)$/);
    assert.doesNotMatch(s.stopped?.message ?? '', /dropped/);
    assert.equal(s.copied, 1);
    assert.equal(afc.connections, 2, 'one reconnect, then given up');
    assert.ok(ms < 5000, `${ms} ms`);
  }));

test('hostile: a device that stops answering a stat during the walk fails "timed out" the same way', () =>
  attack({ corrupt: (q) => (q.op === 10 && q.path?.endsWith('IMG_0002.JPG') ? 'stall' : undefined) }, (afc) => {
    for (let i = 1; i <= 3; i++) afc.file('/DCIM/100APPLE', `IMG_000${i}.JPG`, photo(i));
  }, { idleTimeoutMs: 400 }, (s, afc, ms) => {
    assert.equal(s.status, 'device-lost');
    assert.match(s.stopped?.message ?? '', /^the device stopped answering: AFC GetFileInfo timed out after 400 ms \(again on a new connection\)$/);
    assert.equal(afc.connections, 2);
    assert.ok(ms < 5000, `${ms} ms`);
  }));

test('hostile: a device trickling file data is cut off with ERR_TIMEOUT naming the file and the rate', () =>
  attack({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_0002.JPG', photo(2), { trickle: { bytes: 8, everyMs: 40 } }); // 200 B/s
  }, { idleTimeoutMs: 5000, minBytesPerSec: 16 * 1024, rateWindowMs: 500 }, (s, afc, ms) => {
    assert.equal(s.status, 'device-lost');
    const f = s.failed.find((x) => x.remote === '/DCIM/100APPLE/IMG_0002.JPG');
    assert.equal(f?.code, 'ERR_TIMEOUT');
    assert.match(f?.reason ?? '', /^reading \/DCIM\/100APPLE\/IMG_0002\.JPG timed out: \d+ B\/s over the last 0\.\d s, below the minimum of 16\.0 KiB\/s$/);
    assert.match(s.stopped?.message ?? '', /stopped answering: .*B\/s/);
    assert.equal(s.copied, 1);
    assert.ok(ms < 6000, `${ms} ms`);
    assert.equal(afc.connections, 2);
  }));

test('hostile: a slow but steady device above the minimum rate is not cut off', () =>
  attack({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1, 40_000), { trickle: { bytes: 4096, everyMs: 20 } }); // ~200 KB/s
  }, { idleTimeoutMs: 1000, minBytesPerSec: 16 * 1024, rateWindowMs: 100 }, (s) => {
    assert.equal(s.status, 'complete');
    assert.equal(s.copied, 1);
  }));
