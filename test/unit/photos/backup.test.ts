import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runBackup, type BackupEvent } from '../../../src/photos/backup.ts';
import type { PhotoDevice } from '../../../src/photos/source.ts';
import { makeSelection } from '../../../src/photos/selection.ts';
import { MemDevice } from './fake-device.ts';
import { addLibrary, assertComplete, sha, treeHashes } from './helpers.ts';
import { makeHeic, makeJpeg, noise } from './media.ts';

/** The device's folder below DEST (its name: device-folder.ts). */
const D = new MemDevice().name;

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-backup-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

test('backup: every file arrives byte-identical in device folders; the second run copies nothing', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 60);
    const events: BackupEvent[] = [];
    const s1 = await runBackup({ dest, device: dev, onEvent: (e) => events.push(e) });
    assert.equal(s1.failed.length, 0);
    assert.equal(s1.copied, dev.files().size);
    assert.equal(s1.copiedBytes, [...dev.files().values()].reduce((a, b) => a + b.length, 0));
    await assertComplete(dev, dest);
    assert.ok((await treeHashes(dest)).has(`${D}/100APPLE/IMG_0002.MOV`));
    const last = events.filter((e) => e.type === 'progress').at(-1);
    assert.deepEqual(last && [last.filesDone, last.bytesDone], [s1.copied, s1.copiedBytes]);
    const s2 = await runBackup({ dest, device: dev });
    assert.equal(s2.copied, 0);
    assert.equal(s2.skipped, dev.files().size);
    await assertComplete(dev, dest);
  }));

test('backup: new and changed files are copied on a rerun; a changed file never overwrites the old copy', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 10);
    await runBackup({ dest, device: dev });
    dev.addFile('/DCIM/100APPLE', 'IMG_0500.JPG', makeJpeg('2020:01:01 00:00:00', 300, 9));
    const old = dev.files().get('/DCIM/100APPLE/IMG_0010.HEIC')!;
    dev.addFile('/DCIM/100APPLE', 'IMG_0010.HEIC', makeHeic('2020:01:01 00:00:00', 999, 77), new Date(2024, 1, 1));
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.copied, 2);
    const tree = await treeHashes(dest);
    assert.equal(tree.get(`${D}/100APPLE/IMG_0010.HEIC`), sha(old), 'old copy kept');
    assert.equal(tree.get(`${D}/100APPLE/IMG_0010-1.HEIC`), sha(dev.files().get('/DCIM/100APPLE/IMG_0010.HEIC')!));
  }));

test('backup: --dry-run lists what would be copied with the total size and writes nothing', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 12);
    const target = join(dest, 'new');
    const s = await runBackup({ dest: target, device: dev, dryRun: true, deleteAfterImport: true });
    assert.equal(s.wouldCopy.length, dev.files().size);
    assert.equal(s.wouldCopyBytes, [...dev.files().values()].reduce((a, b) => a + b.length, 0));
    assert.equal(s.copied, 0);
    assert.deepEqual(dev.removed, []);
    await assert.rejects(lstat(target));
  }));

test('backup: --include/--exclude/--since/--until select files', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.HEIC', makeHeic(undefined, 10), new Date(2024, 0, 10));
    dev.addFile('/DCIM/100APPLE', 'IMG_0002.MOV', noise(10, 1), new Date(2024, 0, 10));
    dev.addFile('/DCIM/100APPLE', 'IMG_0003.HEIC', makeHeic(undefined, 10), new Date(2024, 2, 10));
    dev.addFile('/DCIM/101APPLE', 'IMG_0004.HEIC', makeHeic(undefined, 10), new Date(2024, 0, 11));
    const s = await runBackup({ dest, device: dev, selection: makeSelection({ include: ['*.heic'], exclude: ['101APPLE/*'], until: '2024-01-31' }) });
    assert.deepEqual([...(await treeHashes(dest)).keys()], [`${D}/100APPLE/IMG_0001.HEIC`]);
    assert.equal(s.selected, 1);
  }));

test('backup: --split-by-date places files by EXIF date, Live Photo pairs and sidecars together', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const birth = new Date(2023, 5, 5, 12);
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.HEIC', makeHeic('2021:08:15 07:00:00', 100, 1), birth);
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.MOV', noise(500, 2), birth);
    dev.addFile('/DCIM/100APPLE', 'IMG_0002.JPG', makeJpeg('2020:12:31 23:59:59', 100, 3), birth);
    dev.addFile('/DCIM/100APPLE', 'IMG_O0002.AAE', Buffer.from('<plist/>'), birth);
    dev.addFile('/DCIM/100APPLE', 'IMG_0003.PNG', noise(50, 4), birth);
    // same name in another folder, same date: a clash that must not overwrite; the pair keeps one suffix
    dev.addFile('/DCIM/101APPLE', 'IMG_0001.HEIC', makeHeic('2021:08:15 09:00:00', 120, 5), birth);
    dev.addFile('/DCIM/101APPLE', 'IMG_0001.MOV', noise(400, 6), birth);
    const s = await runBackup({ dest, device: dev, layout: 'date', connections: 1, filesPerConnection: 1 });
    assert.equal(s.failed.length, 0);
    const keys = [...(await treeHashes(dest)).keys()].sort();
    assert.deepEqual(keys, [
      `${D}/2020/2020-12-31/IMG_0002.JPG`, `${D}/2020/2020-12-31/IMG_O0002.AAE`,
      `${D}/2021/2021-08-15/IMG_0001-1.HEIC`, `${D}/2021/2021-08-15/IMG_0001-1.MOV`,
      `${D}/2021/2021-08-15/IMG_0001.HEIC`, `${D}/2021/2021-08-15/IMG_0001.MOV`,
      `${D}/2023/2023-06-05/IMG_0003.PNG`,
    ]);
    await assertComplete(dev, dest);
    // the MOV of a pair whose HEIC was imported earlier still joins it (date from the manifest)
    dev.addFile('/DCIM/100APPLE', 'IMG_0009.HEIC', makeHeic('2019:04:01 10:00:00', 100, 7), birth);
    await runBackup({ dest, device: dev, layout: 'date' });
    dev.addFile('/DCIM/100APPLE', 'IMG_0009.MOV', noise(50, 8), birth);
    const s2 = await runBackup({ dest, device: dev, layout: 'date' });
    assert.equal(s2.copied, 1);
    assert.ok((await treeHashes(dest)).has(`${D}/2019/2019-04-01/IMG_0009.MOV`));
  }));

test('backup: a byte-identical file already in place is the same file (no -1 copy)', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const data = makeJpeg('2020:01:01 00:00:00', 300, 9);
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.JPG', data);
    await mkdir(join(dest, D, '100APPLE'), { recursive: true });
    await writeFile(join(dest, D, '100APPLE', 'IMG_0001.JPG'), data);
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.copied, 1);
    assert.deepEqual([...(await treeHashes(dest)).keys()], [`${D}/100APPLE/IMG_0001.JPG`]);
  }));

test('backup: --delete-after-import removes exactly the verified files', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 15);
    const before = dev.files();
    dev.addFile('/DCIM/100APPLE', '..', Buffer.from('hostile')); // rejected: never imported, never deleted
    const s = await runBackup({ dest, device: dev, deleteAfterImport: true, selection: makeSelection({ exclude: ['*.png'] }) });
    assert.equal(s.failed.length, 0);
    const expected = [...before.keys()].filter((p) => !p.endsWith('.PNG')).sort();
    assert.deepEqual([...s.deleted].sort(), expected);
    assert.deepEqual([...dev.removed].sort(), expected);
    const left = [...dev.files().keys()].sort();
    assert.deepEqual(left, [...[...before.keys()].filter((p) => p.endsWith('.PNG')), '/DCIM/100APPLE/..'].sort());
    const tree = await treeHashes(dest);
    for (const p of expected) assert.equal(tree.get(`${D}/${p.slice('/DCIM/'.length)}`), sha(before.get(p)!));
  }));

test('backup: --delete-after-import removes nothing when any copy failed', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 8);
    dev.addFile('/DCIM/100APPLE', 'IMG_0777.JPG', makeJpeg(undefined, 10), new Date(), { denied: true });
    const s = await runBackup({ dest, device: dev, deleteAfterImport: true });
    assert.equal(s.failed.length, 1);
    assert.equal(s.failed[0]!.code, 'ERR_AFC_PERM_DENIED');
    assert.deepEqual(dev.removed, []);
    assert.deepEqual(s.deleted, []);
    assert.ok(s.deleteSkipped);
    assert.equal(s.copied, dev.files().size - 1);
  }));

test('backup: hostile device names and symlinks never write outside DEST and are reported', async () => {
  const root = await mkdtemp(join(tmpdir(), 'photos-hostile-'));
  try {
    const dest = join(root, 'dest');
    const outside = join(root, 'outside');
    await mkdir(dest);
    await mkdir(outside);
    const dev = new MemDevice();
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.JPG', makeJpeg(undefined, 10));
    dev.addFile('/DCIM/100APPLE', '..', Buffer.from('dotdot'));
    dev.addFile('/DCIM/100APPLE', '../../../outside/x.JPG', Buffer.from('traversal'));
    dev.addFile('/DCIM/100APPLE', '/etc/passwd', Buffer.from('abs'));
    dev.addFile('/DCIM/100APPLE', 'nul\0.JPG', Buffer.from('nul'));
    dev.addFile('/DCIM/..', 'IMG_0002.JPG', Buffer.from('dotdot dir'));
    dev.addSymlink('/DCIM/100APPLE', 'link.JPG', '/private/var/mobile');
    dev.addSymlink('/DCIM', '102APPLE', '../../..');
    // a symlink planted in DEST where a device folder will go
    await mkdir(join(dest, D));
    await symlink(outside, join(dest, D, '101APPLE'));
    dev.addFile('/DCIM/101APPLE', 'IMG_0003.JPG', makeJpeg(undefined, 10));
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(await readdir(outside), []);
    const reasons = s.rejected.map((r) => `${r.reason}`).sort();
    assert.deepEqual(reasons, ['symlink', 'symlink', 'unsafe-name', 'unsafe-name', 'unsafe-name', 'unsafe-name', 'unsafe-name']);
    assert.deepEqual(s.failed.map((f) => [f.remote, f.code]), [['/DCIM/101APPLE/IMG_0003.JPG', 'ERR_PHOTOS_UNSAFE_PATH']]);
    assert.equal(s.copied, 1);
    assert.deepEqual([...(await treeHashes(dest)).keys()].sort(), [`${D}/100APPLE/IMG_0001.JPG`, `${D}/101APPLE`]);
    assert.ok((await lstat(join(dest, D, '101APPLE'))).isSymbolicLink(), 'planted symlink left alone');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('backup: files vanishing mid-walk and unreadable ones are reported, the rest is copied', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 6);
    dev.addFile('/DCIM/100APPLE', 'IMG_0900.JPG', Buffer.from('gone'));
    dev.vanishOnList.add('/DCIM/100APPLE/IMG_0900.JPG');
    dev.mkdir('/DCIM/PRIVATE');
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(s.rejected.map((r) => [r.remote, r.reason]), [['/DCIM/100APPLE/IMG_0900.JPG', 'vanished']]);
    await assertComplete(dev, dest);
  }));

test('backup: a second concurrent run on the same DEST is refused (ERR_PHOTOS_BUSY)', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 30);
    // A's file reads wait for `release`, so A is certainly still running (and holding the lock) while B starts.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let planned!: () => void;
    const holding = new Promise<void>((r) => (planned = r));
    const gated: PhotoDevice = {
      udid: dev.udid,
      async openAfc() {
        const c = await dev.openAfc();
        return {
          stat: (p, o) => c.stat(p, o), readdir: (p, o) => c.readdir(p, o), remove: (p, o) => c.remove(p, o), close: () => c.close(),
          createReadStream: (p, o) => {
            const out = new PassThrough();
            void gate.then(() => {
              const inner = c.createReadStream(p, o);
              inner.on('error', (e) => out.destroy(e));
              inner.pipe(out);
            });
            return out;
          },
        };
      },
    };
    const a = runBackup({ dest, device: gated, onEvent: (e) => e.type === 'plan' && planned() });
    await holding;
    await assert.rejects(runBackup({ dest, device: dev }), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_BUSY');
    release();
    await a;
    await assertComplete(dev, dest);
  }));

test('backup: connection drops at 24 random byte offsets; each rerun ends complete and identical', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 40);
    const total = [...dev.files().values()].reduce((a, b) => a + b.length, 0);
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 24; round++) {
      const runDest = join(dest, `r${round}`);
      // every connection of the first run drops after a random number of bytes; no reconnects allowed
      const at = Math.floor(rand() * total * 0.6);
      dev.dropPlan = Array.from({ length: 4 }, (_, i) => Math.floor(at / (i + 1)));
      dev.opened = 0;
      const s1 = await runBackup({ dest: runDest, device: dev, maxReconnects: 0, connections: 2 });
      assert.ok(s1.failed.length > 0 || s1.copied === dev.files().size, `round ${round}: a drop at ${at} is reported`);
      for (const f of s1.failed) assert.ok(['ERR_CLOSED', 'ERR_PHOTOS_DISCONNECTED'].includes(f.code), f.code);
      dev.dropPlan = [];
      dev.opened = 0;
      const s2 = await runBackup({ dest: runDest, device: dev });
      assert.equal(s2.failed.length, 0);
      assert.equal(s1.copied + s2.copied, dev.files().size, `round ${round}: nothing copied twice`);
      await assertComplete(dev, runDest);
      await rm(runDest, { recursive: true, force: true });
    }
  }));

test('backup: a drop is survived within one run by reconnecting', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 30);
    dev.dropPlan = [50_000, 120_000, 30_000];
    const events: BackupEvent[] = [];
    const s = await runBackup({ dest, device: dev, onEvent: (e) => events.push(e) });
    assert.equal(s.failed.length, 0);
    assert.ok(events.some((e) => e.type === 'reconnect'));
    await assertComplete(dev, dest);
  }));

test('backup: stale .part files and a stale lock from a killed run are cleaned up', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 5);
    await mkdir(join(dest, '.iosdevice', 'parts'), { recursive: true });
    await writeFile(join(dest, '.iosdevice', 'parts', '5f0c2a4e-1b7d-4c3e-8a9f-0d1e2f3a4b5c.part'), 'partial'); // named as receive() names them
    await writeFile(join(dest, '.iosdevice', 'lock'), '999999999\n');
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.failed.length, 0);
    await assertComplete(dev, dest);
    const lines = (await readFile(join(dest, '.iosdevice', 'manifest.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.filter((l) => !l.includes('"op":')).length, dev.files().size, 'one line per file (besides the device line)');
  }));

test('backup: Ctrl-C (abort) mid-run resolves "interrupted" with the counts, no aborted file failed or counted done; lock released; a rerun completes', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 40);
    const ac = new AbortController();
    let copied = 0;
    const events: BackupEvent[] = [];
    const s1 = await runBackup({ dest, device: dev, signal: ac.signal, deleteAfterImport: true, onEvent: (e) => {
      events.push(e);
      if (e.type === 'file' && e.status === 'copied' && ++copied === 3) ac.abort(new Error('SIGINT'));
    } });
    assert.equal(s1.status, 'interrupted');
    assert.deepEqual(s1.failed, [], 'aborted files are not failures');
    assert.ok(!events.some((e) => e.type === 'file' && e.status === 'failed'), 'no failed event for an aborted file');
    assert.equal(s1.toCopy, dev.files().size);
    assert.ok(s1.copied >= 3 && s1.copied < s1.toCopy, `${s1.copied} of ${s1.toCopy}`);
    const last = events.filter((e) => e.type === 'progress').at(-1);
    assert.ok(last && last.type === 'progress' && last.filesDone === s1.copied, 'the bar counts only what was copied');
    assert.deepEqual(dev.removed, [], 'an interrupted run removes nothing from the device');
    await assert.rejects(lstat(join(dest, '.iosdevice', 'lock')), 'lock released');
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.failed.length, 0);
    assert.equal(s.status, 'complete');
    assert.ok(s.copied < dev.files().size, 'the first run kept what it had copied');
    assert.equal(s1.copied + s.copied, dev.files().size, 'nothing copied twice');
    await assertComplete(dev, dest);
  }));

test('backup: an abort before the copy starts (during the walk) also ends "interrupted", nothing failed', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 10);
    const ac = new AbortController();
    ac.abort(new Error('SIGTERM'));
    const s = await runBackup({ dest, device: dev, signal: ac.signal });
    assert.equal(s.status, 'interrupted');
    assert.equal(s.copied, 0);
    assert.deepEqual(s.failed, []);
    await assert.rejects(lstat(join(dest, '.iosdevice', 'lock')), 'lock released');
  }));

test('backup: status is "complete" for a clean run, "partial" when a file fails, "device-lost" when the device goes away', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 12);
    assert.equal((await runBackup({ dest: join(dest, 'a'), device: dev })).status, 'complete');
    dev.addFile('/DCIM/100APPLE', 'IMG_9999.JPG', Buffer.alloc(10), undefined, { denied: true });
    const p = await runBackup({ dest: join(dest, 'b'), device: dev });
    assert.equal(p.status, 'partial');
    assert.deepEqual(p.failed.map((f) => f.code), ['ERR_AFC_PERM_DENIED']);
    dev.removeNode('/DCIM/100APPLE/IMG_9999.JPG');
    // every connection drops early and no reconnect is allowed: an unplug
    dev.dropPlan = [20_000, 20_000, 20_000, 20_000];
    dev.opened = 0;
    const events: BackupEvent[] = [];
    const lost = await runBackup({ dest: join(dest, 'c'), device: dev, maxReconnects: 0, onEvent: (e) => events.push(e) });
    const last = events.filter((e) => e.type === 'progress').at(-1);
    assert.ok(last?.type === 'progress' && last.filesDone <= lost.copied + lost.failed.filter((f) => f.code !== 'ERR_PHOTOS_DISCONNECTED').length,
      'files the lost device left are not counted done');
    assert.equal(lost.status, 'device-lost');
    assert.ok(lost.copied < lost.toCopy);
    assert.equal(lost.copied + lost.failed.length, lost.toCopy, 'each file not copied is reported once');
    assert.equal(new Set(lost.failed.map((f) => f.remote)).size, lost.failed.length);
    // the device is gone before the walk: still a summary, not a rejection
    dev.unplugged = true;
    const gone = await runBackup({ dest: join(dest, 'd'), device: dev });
    assert.equal(gone.status, 'device-lost');
    assert.equal(gone.found, 0);
  }));

test('backup: a device without /DCIM gives an empty, successful run that says so', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    dev.removeNode('/DCIM');
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.found, 0);
    assert.deepEqual(s.failed, []);
    assert.deepEqual(s.rejected.map((r) => [r.remote, r.reason]), [['/DCIM', 'vanished']]);
  }));

test('backup: symlinks planted as DEST/.iosdevice or as the manifest are refused (nothing written through them)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'photos-state-'));
  try {
    const outside = join(root, 'outside');
    await mkdir(outside);
    const dev = new MemDevice();
    addLibrary(dev, 3);
    const d1 = join(root, 'd1');
    await mkdir(d1);
    await symlink(outside, join(d1, '.iosdevice'));
    await assert.rejects(runBackup({ dest: d1, device: dev }), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_UNSAFE_PATH');
    const d2 = join(root, 'd2');
    await mkdir(join(d2, '.iosdevice'), { recursive: true });
    await symlink(join(outside, 'm.jsonl'), join(d2, '.iosdevice', 'manifest.jsonl'));
    await assert.rejects(runBackup({ dest: d2, device: dev }), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_MANIFEST');
    assert.deepEqual(await readdir(outside), []);
    await assert.rejects(lstat(join(d2, '.iosdevice', 'lock')), 'lock released after the failure');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
