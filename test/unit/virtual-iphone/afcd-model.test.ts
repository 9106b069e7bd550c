/**
 * The afcd timing model of the `real` profile: the planning arithmetic on a fake clock (requests in order per
 * connection, one device-wide worker shared by connections, READ data in pieces at the read ceiling, the late-timer
 * credit), the pieces a reply is cut into, parameter checks, and the emulator serving bytes intact through it.
 * No timing is asserted on the real clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { connectAfc, openDevice } from '../../../src/connect.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import {
  afcdReadBound,
  MAX_READ_BYTES,
  AfcdModel,
  PIECE_BYTES,
  REAL_AFCD,
  afcdProfile,
  replyPieces,
  type AfcdConnectionState,
  type AfcdTiming,
} from '../../../src/virtual-iphone/afcd-model.ts';
import { linkProfile } from '../../../src/virtual-iphone/link.ts';
import { emulatorOptions } from '../../../src/cli/commands/emulator.ts';
import { startTestEmulator } from '../../support/emulator.ts';
import { tempDir } from '../afc/helpers.ts';

const T: AfcdTiming = {
  workers: 1,
  requestMs: 1,
  openMs: 2,
  statMs: 3,
  readdirMs: 4,
  readdirEntryMs: 0.5,
  readMs: 5,
  readBytesPerSecond: 1_000_000, // 1000 bytes per ms
  writeMs: 6,
  writeBytesPerSecond: 2_000_000,
  closeMs: 7,
};

const conn = (): AfcdConnectionState => ({ lastEnd: -Infinity, credit: 0 });
const req = (operation: number, arrivedAt: number, extra: { requestDataBytes?: number; items?: number } = {}) => ({
  operation,
  arrivedAt,
  requestDataBytes: extra.requestDataBytes ?? 0,
  ...(extra.items !== undefined ? { items: extra.items } : {}),
});

test('profiles: real = usb2 bus + REAL_AFCD; usb2 and none have no afcd timing', () => {
  assert.deepEqual(afcdProfile('real'), { ...REAL_AFCD });
  assert.equal(afcdProfile('usb2'), undefined);
  assert.equal(afcdProfile('none'), undefined);
  assert.deepEqual(linkProfile('real'), linkProfile('usb2'));
  assert.equal(emulatorOptions(['--link', 'real']).link, 'real');
  assert.throws(() => emulatorOptions(['--link', 'usb3']), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('fixed cost per operation: request + own cost (write adds its bytes, readdir its names)', () => {
  const m = new AfcdModel(T, () => 0);
  assert.equal(m.fixedMs(req(AfcOpcode.FileRefOpen, 0)), 3);
  assert.equal(m.fixedMs(req(AfcOpcode.GetFileInfo, 0)), 4);
  assert.equal(m.fixedMs(req(AfcOpcode.ReadDir, 0, { items: 10 })), 1 + 4 + 5);
  assert.equal(m.fixedMs(req(AfcOpcode.FileRefRead, 0)), 6);
  assert.equal(m.fixedMs(req(AfcOpcode.FileRefWrite, 0, { requestDataBytes: 4000 })), 1 + 6 + 2);
  assert.equal(m.fixedMs(req(AfcOpcode.FileRefClose, 0)), 8);
  assert.equal(m.fixedMs(req(AfcOpcode.FileRefSeek, 0)), 1);
});

test('one connection: requests in order, each after the previous one (pipelined arrivals queue up)', () => {
  const m = new AfcdModel(T, () => 0);
  const c = conn();
  const a = m.plan(c, req(AfcOpcode.GetFileInfo, 10), 0);
  assert.deepEqual(a, { start: 10, fixedEnd: 14, end: 14, bytesPerMs: 0 });
  const b = m.plan(c, req(AfcOpcode.FileRefOpen, 11), 0); // arrived while the first was served
  assert.equal(b.start, 14);
  assert.equal(b.end, 17);
  const r = m.plan(c, req(AfcOpcode.FileRefRead, 12), 5000);
  assert.equal(r.start, 17);
  assert.equal(r.fixedEnd, 23);
  assert.equal(r.end, 28); // 5000 bytes at 1000 B/ms
  assert.equal(r.bytesPerMs, 1000);
  const idle = m.plan(c, req(AfcOpcode.FileRefSeek, 100), 0); // arrives after an idle gap
  assert.equal(idle.start, 100);
});

test('one worker for the device: two connections take turns; with two workers they overlap', () => {
  const one = new AfcdModel(T, () => 0);
  const [c1, c2] = [conn(), conn()];
  assert.equal(one.plan(c1, req(AfcOpcode.FileRefRead, 0), 10_000).end, 16);
  assert.equal(one.plan(c2, req(AfcOpcode.FileRefRead, 0), 10_000).start, 16);
  const two = new AfcdModel({ ...T, workers: 2 }, () => 0);
  const [d1, d2] = [conn(), conn()];
  assert.equal(two.plan(d1, req(AfcOpcode.FileRefRead, 0), 10_000).start, 0);
  assert.equal(two.plan(d2, req(AfcOpcode.FileRefRead, 0), 10_000).start, 0);
  // ...but one connection still serves its own requests in order
  assert.equal(two.plan(d1, req(AfcOpcode.FileRefSeek, 1), 0).start, 16);
});

test('credit: a reply that left late lets the next request of that connection start that much earlier', () => {
  const m = new AfcdModel(T, () => 0);
  const c = conn();
  m.plan(c, req(AfcOpcode.FileRefSeek, 0), 0); // ends at 1
  c.credit = 0.8; // the reply actually left at 1.8
  const next = m.plan(c, req(AfcOpcode.FileRefSeek, 5), 0);
  assert.equal(next.start, 4.2);
  assert.equal(c.credit, 0, 'credit is used once');
  const after = m.plan(c, req(AfcOpcode.FileRefSeek, 4.5), 0);
  assert.equal(after.start, 5.2, 'never before the previous request ended');
});

test('reply pieces: the header leaves with the first piece, data in PIECE_BYTES pieces at the read rate, bytes intact', () => {
  const header = Buffer.alloc(40, 1);
  const body = randomBytes(PIECE_BYTES * 2 + 1000);
  const plan = { start: 0, fixedEnd: 10, end: 10 + body.length / 1000, bytesPerMs: 1000 };
  const pieces = replyPieces([header, body], plan);
  assert.equal(pieces.length, 3);
  assert.equal(pieces[0]!.bufs[0], header);
  assert.equal(pieces[0]!.due, 10 + PIECE_BYTES / 1000);
  assert.equal(pieces[2]!.due, plan.end);
  assert.ok(Buffer.concat(pieces.flatMap((p) => p.bufs)).equals(Buffer.concat([header, body])));
  // a STATUS (or a DATA reply without streamed data) leaves whole at the end
  assert.deepEqual(replyPieces([header], { start: 0, fixedEnd: 3, end: 3, bytesPerMs: 0 }), [{ due: 3, bufs: [header] }]);
});

test('bad parameters are ERR_INVALID_ARG', () => {
  const bad = (t: Partial<AfcdTiming>) => () => new AfcdModel({ ...T, ...t });
  const isArg = (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG';
  assert.throws(bad({ workers: 0 }), isArg);
  assert.throws(bad({ requestMs: -1 }), isArg);
  assert.throws(bad({ readBytesPerSecond: 0 }), isArg);
  assert.throws(bad({ statMs: Number.NaN }), isArg);
});

test('the emulator with link real serves files intact, pipelined reads and several connections included', async () => {
  const { dir, cleanup } = await tempDir('afcd-real-');
  const fast: AfcdTiming = { ...REAL_AFCD, requestMs: 0.05, openMs: 0, statMs: 0, readMs: 0, closeMs: 0, readdirMs: 0, readBytesPerSecond: 2e9 };
  await mkdir(join(dir, 'DCIM', '100APPLE'), { recursive: true });
  const files = Array.from({ length: 5 }, (_, i) => ({ name: `IMG_000${i}.JPG`, data: randomBytes(100_000 + i * 70_001) }));
  for (const f of files) await writeFile(join(dir, 'DCIM', '100APPLE', f.name), f.data);
  const emu = await startTestEmulator({ mediaDir: dir, link: 'real', afcd: fast });
  try {
    assert.ok(emu.devices[0]!.iphone.afcd, 'the device has an afcd model');
    const dev = await openDevice({ socket: emu.address });
    const [a, b] = await Promise.all([connectAfc(dev), connectAfc(dev)]);
    try {
      const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex');
      const got = await Promise.all(
        files.map(async (f, i) => {
          const c = i % 2 ? a : b;
          const chunks: Buffer[] = [];
          for await (const ch of c.createReadStream(`/DCIM/100APPLE/${f.name}`, { chunkSize: 16_384, maxInFlight: 8 })) chunks.push(ch as Buffer);
          return sha(Buffer.concat(chunks));
        }),
      );
      assert.deepEqual(got, files.map((f) => sha(f.data)));
      assert.deepEqual((await a.readdir('/DCIM/100APPLE')).sort(), files.map((f) => f.name));
    } finally {
      a.close();
      b.close();
    }
  } finally {
    await emu.close();
    await cleanup();
  }
});

test('afcdReadBound: OPEN + READs + bytes + CLOSE per file and a READDIR per folder, spread over the workers', () => {
  const t = { ...REAL_AFCD, workers: 1 };
  const fileMs = (size: number): number =>
    t.requestMs + t.openMs + Math.max(1, Math.ceil(size / MAX_READ_BYTES)) * (t.requestMs + t.readMs) + (size / t.readBytesPerSecond) * 1000 + t.requestMs + t.closeMs;
  const sizes = [0, 40_000, 40_000, 20 * 1024 * 1024];
  const ms = sizes.reduce((a, n) => a + fileMs(n), 0) + (t.requestMs + t.readdirMs + 4 * t.readdirEntryMs);
  const bytes = sizes.reduce((a, n) => a + n, 0);
  assert.ok(Math.abs(afcdReadBound(t, sizes, [4]) - bytes / (ms / 1000)) < 1e-6);
  // two workers halve the time; no files: no bound
  assert.ok(Math.abs(afcdReadBound({ ...t, workers: 2 }, sizes, [4]) - (2 * bytes) / (ms / 1000)) < 1e-6);
  assert.equal(afcdReadBound(t, [], []), Infinity);
  // the real profile: 40 KB files cannot go faster than ~10.8 MB/s, one big file is held near the read ceiling
  assert.ok(afcdReadBound(REAL_AFCD, Array(1000).fill(40_000), [1000]) < 11e6);
  assert.ok(afcdReadBound(REAL_AFCD, [4 * 2 ** 30], [1]) > 0.99 * REAL_AFCD.readBytesPerSecond);
});
