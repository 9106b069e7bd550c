/**
 * `verify` re-hashes DEST against the manifest (missing, changed, extra) and `--repair` restores byte-identical
 * files under their original names; a backup run repairs a missing or truncated copy in place (no `-1` copy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup } from '../../../src/photos/backup.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { verifyDest, type VerifyEvent } from '../../../src/photos/verify.ts';
import { MemDevice } from './fake-device.ts';
import { addLibrary, assertComplete, sha, treeHashes } from './helpers.ts';

/** The device's folder below DEST. */
const D = new MemDevice().name;
/** The device path of a local path below the device folder. */
const remoteOf = (local: string): string => `/DCIM/${local.slice(D.length + 1)}`;

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-verify-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

const code = (c: string) => (e: unknown): boolean => (e as { code?: string }).code === c;

/** Backs up a small library and damages three copies: a same-size corruption, a truncation, a removal. */
async function damaged(dest: string): Promise<{ dev: MemDevice; corrupt: string; cut: string; gone: string }> {
  const dev = new MemDevice();
  addLibrary(dev, 12);
  const s = await runBackup({ dest, device: dev });
  assert.deepEqual(s.failed, []);
  const corrupt = `${D}/100APPLE/IMG_0004.HEIC`;
  const cut = `${D}/101APPLE/IMG_0005.MOV`;
  const gone = `${D}/101APPLE/IMG_0003.PNG`;
  const buf = await readFile(join(dest, corrupt));
  buf[Math.floor(buf.length / 2)]! ^= 0x01; // one bit, same size
  await writeFile(join(dest, corrupt), buf);
  await truncate(join(dest, cut), 100);
  await unlink(join(dest, gone));
  return { dev, corrupt, cut, gone };
}

test('verify: a same-size corruption, a truncation, a removal and an extra file are reported; nothing is written', () =>
  withDest(async (dest) => {
    const { dev, corrupt, cut, gone } = await damaged(dest);
    await writeFile(join(dest, D, '100APPLE', 'notes.txt'), 'mine');
    const before = await treeHashes(dest);
    const events: VerifyEvent[] = [];
    const r = await verifyDest({ dest, onEvent: (e) => events.push(e) });
    assert.equal(r.files, dev.files().size);
    assert.equal(r.ok, dev.files().size - 3);
    assert.deepEqual(r.missing.map((p) => p.local), [gone]);
    assert.deepEqual(r.changed.map((p) => [p.local, p.detail]), [
      [corrupt, 'same size, but its SHA-256 differs from the record'],
      [cut, `size 100 bytes, recorded ${dev.files().get(remoteOf(cut))!.length}`],
    ]);
    assert.deepEqual(r.extra, [`${D}/100APPLE/notes.txt`]);
    assert.equal(r.clean, false);
    assert.equal(r.unrepaired.length, 3);
    assert.deepEqual(await treeHashes(dest), before, 'verify alone changes nothing');
    assert.ok(events.some((e) => e.type === 'progress' && e.filesDone === r.files));
  }));

test('verify --repair: byte-identical files under the original names; the damaged ones kept aside; then clean', () =>
  withDest(async (dest) => {
    const { dev, corrupt, cut, gone } = await damaged(dest);
    const damagedCopy = await readFile(join(dest, corrupt));
    const r = await verifyDest({ dest, repair: true, device: dev });
    assert.deepEqual(r.repaired.map((p) => p.local).sort(), [corrupt, cut, gone].sort());
    assert.deepEqual(r.unrepaired, []);
    assert.equal(r.clean, true);
    await assertComplete(dev, dest); // every device file byte-identical at its recorded name, no duplicate, no .part
    const aside = await readdir(join(dest, '.iosdevice', 'damaged'));
    assert.equal(aside.length, 2, 'the corrupt and the truncated file are kept aside (the removed one had nothing to keep)');
    const keptCorrupt = r.repaired.find((p) => p.local === corrupt)!.keptAside!;
    assert.deepEqual(await readFile(join(dest, keptCorrupt)), damagedCopy);
    assert.equal(r.repaired.find((p) => p.local === gone)!.keptAside, undefined);
    const again = await verifyDest({ dest });
    assert.equal(again.clean, true);
    assert.equal(again.ok, dev.files().size);
  }));

test('verify --repair: never restores from a device file that changed since, and never touches extra files', () =>
  withDest(async (dest) => {
    const { dev, corrupt } = await damaged(dest);
    dev.editFile(remoteOf(corrupt), Buffer.alloc(dev.files().get(remoteOf(corrupt))!.length, 7)); // same size, new bytes
    await writeFile(join(dest, 'extra.bin'), 'x');
    const bad = await readFile(join(dest, corrupt));
    const r = await verifyDest({ dest, repair: true, device: dev });
    assert.deepEqual(r.unrepaired.map((p) => [p.local, p.code, p.reason]), [[corrupt, 'ERR_PHOTOS_REPAIR', 'the device file is no longer the recorded version (SHA-256 differs)']]);
    assert.equal(r.repaired.length, 2);
    assert.deepEqual(await readFile(join(dest, corrupt)), bad, 'left as it was');
    assert.equal(await readFile(join(dest, 'extra.bin'), 'utf8'), 'x');
    assert.equal(r.clean, false);
  }));

test('verify: files removed from the device by --delete-after-import are still verified (not extra); other devices are not repaired', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 6);
    const s = await runBackup({ dest, device: dev, deleteAfterImport: true });
    assert.equal(s.deleted.length, s.copied);
    const r = await verifyDest({ dest });
    assert.equal(r.clean, true);
    assert.equal(r.ok, s.copied);
    const [first] = [...(await treeHashes(dest)).keys()];
    await truncate(join(dest, first!), 1);
    const other = new MemDevice();
    other.udid = 'OTHER-UDID';
    const r2 = await verifyDest({ dest, repair: true, device: other });
    assert.deepEqual(r2.unrepaired.map((p) => [p.local, p.reason]), [[first, `it came from another device (${dev.udid})`]]);
    const r3 = await verifyDest({ dest, repair: true, device: dev });
    assert.deepEqual(r3.unrepaired.map((p) => [p.local, p.code]), [[first, 'ERR_AFC_OBJECT_NOT_FOUND']]);
  }));

test('verify: not a backup folder -> ERR_PHOTOS_MANIFEST; a running backup -> ERR_PHOTOS_BUSY', () =>
  withDest(async (dest) => {
    await assert.rejects(verifyDest({ dest }), code('ERR_PHOTOS_MANIFEST'));
    await assert.rejects(verifyDest({ dest: join(dest, 'nope') }), code('ERR_PHOTOS_MANIFEST'));
    const dev = new MemDevice();
    addLibrary(dev, 2);
    await runBackup({ dest, device: dev });
    await writeFile(join(dest, '.iosdevice', 'lock'), `${process.pid}\n`);
    await assert.rejects(verifyDest({ dest }), code('ERR_PHOTOS_BUSY'));
    await assert.rejects(verifyDest({ dest, repair: true, device: dev }), code('ERR_PHOTOS_BUSY'));
  }));

test('backup run: a truncated or missing copy of an unchanged device file is fetched again into its original name (no -1 copy)', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 10);
    await runBackup({ dest, device: dev });
    const cut = `${D}/100APPLE/IMG_0004.HEIC`;
    const gone = `${D}/101APPLE/IMG_0005.MOV`;
    await truncate(join(dest, cut), 10);
    await unlink(join(dest, gone));
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(s.failed, []);
    assert.equal(s.copied, 2);
    assert.deepEqual(s.repaired.map((x) => x.local).sort(), [cut, gone]);
    assert.match(s.repaired.find((x) => x.local === cut)!.keptAside!, /^\.iosdevice\/damaged\/.*IMG_0004\.HEIC$/);
    await assertComplete(dev, dest); // no IMG_0004-1.HEIC: one local file per device file, byte-identical
    const m = await Manifest.open(dest, { readOnly: true });
    assert.equal(m.get(dev.udid, remoteOf(cut))!.local, cut);
    await m.close();
    assert.equal((await treeHashes(dest)).get(cut), sha(dev.files().get(remoteOf(cut))!));
  }));

test('backup run: a folder standing where a recorded file was is left alone; the file is backed up beside it', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 3);
    await runBackup({ dest, device: dev });
    const p = `${D}/101APPLE/IMG_0001.JPG`;
    await unlink(join(dest, p));
    await mkdir(join(dest, p));
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(s.failed, []);
    assert.deepEqual(s.repaired, []);
    assert.ok((await treeHashes(dest)).has(`${D}/101APPLE/IMG_0001-1.JPG`));
  }));
