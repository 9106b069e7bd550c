/**
 * --delete-after-import re-checks each device file right before removing it: a file edited on the phone after
 * its copy (new bytes, even with the same size and mtime) stays on the device and is reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup, type BackupEvent } from '../../../src/photos/backup.ts';
import { CHEAP_HASH_BYTES } from '../../../src/photos/recheck.ts';
import { generateDcim } from '../../../src/virtual-iphone/dcim-generator.ts';
import { folderDevice } from './afc-device.ts';
import { MemDevice } from './fake-device.ts';
import { addLibrary, sha, treeHashes } from './helpers.ts';
import { noise } from './media.ts';

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-recheck-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

/** The same bytes with every byte inverted: same size, different content. */
const flipped = (b: Buffer): Buffer => Buffer.from(b.map((x) => x ^ 0xff));

test('delete re-check: 7 files edited on the device after their copy (same size, same mtime) -> 0 of 7 deleted, each reported', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 10);
    const all = [...dev.files().keys()].sort();
    const edited = new Set(all.filter((_, i) => i % 2 === 0).slice(0, 7));
    assert.equal(edited.size, 7);
    const before = dev.files();
    const onEvent = (e: BackupEvent): void => {
      // between this file's copy and the delete phase, the phone rewrites it in place, keeping size and mtime
      if (e.type === 'file' && e.status === 'copied' && edited.has(e.remote)) dev.editFile(e.remote, flipped(before.get(e.remote)!));
    };
    const events: BackupEvent[] = [];
    const s = await runBackup({ dest, device: dev, deleteAfterImport: true, onEvent: (e) => (onEvent(e), events.push(e)) });
    assert.deepEqual(s.failed, []);
    assert.equal(s.copied, all.length);
    const deletedEdited = s.deleted.filter((p) => edited.has(p));
    assert.equal(deletedEdited.length, 0, `${deletedEdited.length} of 7 edited files deleted`);
    assert.deepEqual([...s.deleted].sort(), all.filter((p) => !edited.has(p)), 'the untouched files are removed');
    assert.deepEqual(s.keptOnDevice.map((k) => [k.remote, k.reason]).sort(), [...edited].sort().map((p) => [p, 'content-changed']));
    assert.deepEqual(events.filter((e) => e.type === 'delete-kept').length, 7);
    for (const p of edited) assert.deepEqual(dev.files().get(p), flipped(before.get(p)!), `${p}: the new version is still on the device`);
    const last = events.filter((e) => e.type === 'delete-progress').at(-1);
    assert.ok(last && last.type === 'delete-progress' && last.filesDone === all.length && last.bytesDone === last.bytesTotal);

    // the next run backs the new versions up (next to the old copies) and may then remove them
    const s2 = await runBackup({ dest, device: dev, deleteAfterImport: true });
    assert.deepEqual(s2.failed, []);
    assert.equal(s2.copied, 7);
    assert.deepEqual([...s2.deleted].sort(), [...edited].sort());
    const tree = await treeHashes(dest);
    const hashes = new Set(tree.values());
    for (const p of edited) {
      assert.ok(hashes.has(sha(before.get(p)!)), `${p}: the copied version is kept`);
      assert.ok(hashes.has(sha(flipped(before.get(p)!))), `${p}: the edited version is backed up`);
    }
  }));

test('delete re-check: size changed, mtime changed, removed meanwhile -> kept with a stable reason; nothing else is hurt', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const a = dev.addFile('/DCIM/100APPLE', 'IMG_0001.HEIC', noise(5000, 1));
    const b = dev.addFile('/DCIM/100APPLE', 'IMG_0002.HEIC', noise(5000, 2));
    const c = dev.addFile('/DCIM/100APPLE', 'IMG_0003.HEIC', noise(5000, 3));
    const d = dev.addFile('/DCIM/100APPLE', 'IMG_0004.HEIC', noise(5000, 4));
    const s = await runBackup({
      dest, device: dev, deleteAfterImport: true, onEvent: (e) => {
        if (e.type !== 'file' || e.status !== 'copied') return;
        if (e.remote === a) dev.editFile(a, noise(5001, 9));
        if (e.remote === b) dev.editFile(b, noise(5000, 2), new Date(2024, 0, 1));
        if (e.remote === c) dev.removeNode(c);
      },
    });
    assert.deepEqual(s.failed, []);
    assert.deepEqual(s.deleted, [d]);
    const kept = new Map(s.keptOnDevice.map((k) => [k.remote, k]));
    assert.equal(kept.get(a)?.reason, 'changed-on-device');
    assert.match(kept.get(a)!.detail, /size 5000 → 5001/);
    assert.equal(kept.get(b)?.reason, 'changed-on-device');
    assert.match(kept.get(b)!.detail, /mtime/);
    assert.equal(kept.get(c)?.reason, 'vanished');
  }));

test('delete re-check: --delete-check stat hashes where the stat cannot be trusted (whole-second mtime, small file) and trusts it elsewhere', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const big = CHEAP_HASH_BYTES + 4096;
    const coarse = dev.addFile('/DCIM/100APPLE', 'IMG_0001.MOV', noise(big, 1), new Date(2024, 0, 1, 10, 0, 0)); // whole seconds
    const small = dev.addFile('/DCIM/100APPLE', 'IMG_0002.HEIC', noise(2000, 2), new Date(2024, 0, 1, 10, 0, 0, 123));
    const fine = dev.addFile('/DCIM/100APPLE', 'IMG_0003.MOV', noise(big, 3), new Date(2024, 0, 1, 10, 0, 0, 456));
    const before = dev.files();
    const s = await runBackup({
      dest, device: dev, deleteAfterImport: true, deleteCheck: 'stat', onEvent: (e) => {
        if (e.type === 'file' && e.status === 'copied') dev.editFile(e.remote, flipped(before.get(e.remote)!));
      },
    });
    assert.deepEqual(s.keptOnDevice.map((k) => k.remote).sort(), [coarse, small]);
    // the documented risk of 'stat': a large file with an exact ns mtime is trusted on its stat alone
    assert.deepEqual(s.deleted, [fine]);
  }));

test('delete re-check over the real AFC stack: files of the emulated camera roll rewritten on the device (size and ns mtime kept) are not deleted', async () => {
  const media = await mkdtemp(join(tmpdir(), 'photos-media-'));
  const dest = await mkdtemp(join(tmpdir(), 'photos-recheck-'));
  try {
    const gen = await generateDcim(media, { count: 14, scale: 0.01, seed: 17 });
    const dev = folderDevice(media);
    const edited = new Set(gen.files.filter((_, i) => i % 2 === 1).slice(0, 7).map((f) => `/${f.path}`));
    assert.equal(edited.size, 7);
    // synchronous, inside the event: the edit is certainly done before the delete phase starts
    const edit = (remote: string): void => {
      const path = join(media, remote);
      const ref = join(media, 'mtime.ref');
      writeFileSync(ref, '');
      execFileSync('touch', ['-r', path, ref]); // remember the exact (ns) mtime
      const before = statSync(path, { bigint: true }).mtimeNs;
      writeFileSync(path, flipped(readFileSync(path)));
      execFileSync('touch', ['-r', ref, path]); // and put it back
      rmSync(ref);
      assert.equal(statSync(path, { bigint: true }).mtimeNs, before, 'ns mtime restored');
    };
    const s = await runBackup({
      dest, device: dev, deleteAfterImport: true, onEvent: (e) => {
        if (e.type === 'file' && e.status === 'copied' && edited.has(e.remote)) edit(e.remote);
      },
    });
    assert.deepEqual(s.failed, []);
    assert.equal(s.copied, gen.files.length);
    assert.equal(s.deleted.filter((p) => edited.has(p)).length, 0, 'none of the 7 edited files deleted');
    assert.equal(s.deleted.length, gen.files.length - 7);
    assert.deepEqual(s.keptOnDevice.map((k) => k.remote).sort(), [...edited].sort());
    for (const p of edited) {
      const st = await stat(join(media, p));
      assert.equal(st.size, gen.files.find((f) => `/${f.path}` === p)!.size, 'same size');
    }
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});
