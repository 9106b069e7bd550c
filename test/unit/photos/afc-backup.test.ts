/** The engine over the real AFC client and folder-backed AFC server, with the emulator's generated camera roll. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup } from '../../../src/photos/backup.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { generateDcim, type DcimManifest } from '../../../src/virtual-iphone/dcim-generator.ts';
import { setupHostileMedia } from '../../../src/virtual-iphone/hostile.ts';
import { localDateString } from '../../../src/photos/layout.ts';
import { folderDevice } from './afc-device.ts';
import { treeHashes } from './helpers.ts';

async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** DEST holds exactly the generated files, byte-identical, once each, no .part left. */
async function assertMatches(gen: DcimManifest, udid: string, dest: string): Promise<void> {
  const tree = await treeHashes(dest);
  assert.equal(tree.size, gen.files.length, 'no duplicates, nothing missing');
  const m = await Manifest.open(dest, { readOnly: true });
  try {
    for (const f of gen.files) {
      const e = m.get(udid, `/${f.path}`);
      assert.ok(e, f.path);
      assert.equal(tree.get(e.local), f.sha256, f.path);
    }
  } finally {
    await m.close();
  }
  assert.deepEqual(await readdir(join(dest, '.iosdevice', 'parts')), []);
}

test('afc: a generated camera roll is backed up byte-identical; the rerun copies nothing', async () => {
  const media = await tmp('photos-media-');
  const dest = await tmp('photos-dest-');
  try {
    const gen = await generateDcim(media, { count: 60, scale: 0.01, seed: 7 });
    const dev = folderDevice(media);
    const s1 = await runBackup({ dest, device: dev });
    assert.deepEqual(s1.failed, []);
    assert.equal(s1.copied, gen.files.length);
    assert.equal(s1.copiedBytes, gen.totalBytes);
    await assertMatches(gen, dev.udid, dest);
    const s2 = await runBackup({ dest, device: dev });
    assert.equal(s2.copied, 0);
    assert.equal(s2.skipped, gen.files.length);
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});

test('afc: --split-by-date uses EXIF (JPEG/PNG) else the file date; Live Photo halves share a folder', async () => {
  const media = await tmp('photos-media-');
  const dest = await tmp('photos-dest-');
  try {
    const gen = await generateDcim(media, { count: 40, scale: 0.01, seed: 3 });
    const dev = folderDevice(media);
    const s = await runBackup({ dest, device: dev, layout: 'date' });
    assert.deepEqual(s.failed, []);
    const m = await Manifest.open(dest, { readOnly: true });
    try {
      const byStem = new Map<string, string>();
      for (const f of gen.files) {
        const local = m.get(dev.udid, `/${f.path}`)!.local;
        const folder = local.slice(0, local.lastIndexOf('/'));
        const utcDay = f.captureDate.toISOString().slice(0, 10);
        if (f.kind === 'jpg' || f.kind === 'png') assert.equal(folder, `${dev.name}/${utcDay.slice(0, 4)}/${utcDay}`, f.path); // EXIF is UTC wall time
        if ((f.kind === 'heic' || f.kind === 'mov') && !f.livePhoto) {
          const day = localDateString(f.captureDate).slice(0, 10); // HEIC without EXIF: the mtime; MOV: mvhd (UTC instant) in local time
          assert.equal(folder, `${dev.name}/${day.slice(0, 4)}/${day}`, f.path);
        }
        if (f.livePhoto) {
          const key = `${f.path.split('/')[1]}/${f.livePhoto}`;
          const other = byStem.get(key);
          if (other) assert.equal(folder, other, `Live Photo ${key} together`);
          else byStem.set(key, folder);
        }
      }
      assert.ok(gen.files.some((f) => f.livePhoto), 'the library has Live Photos');
    } finally {
      await m.close();
    }
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});

test('afc: connection drops at 20 random byte offsets; each rerun ends complete and identical', async () => {
  const media = await tmp('photos-media-');
  const root = await tmp('photos-drops-');
  try {
    const gen = await generateDcim(media, { count: 24, scale: 0.01, seed: 11 });
    const dev = folderDevice(media);
    let seed = 99;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const offsets = new Set<number>();
    let interrupted = 0;
    for (let round = 0; round < 20; round++) {
      const dest = join(root, `r${round}`);
      const at = 200 + Math.floor(rand() * gen.totalBytes * 0.5);
      offsets.add(at);
      dev.faults.clear();
      dev.faults.arm({ kind: 'drop', afterBytes: at, persistent: true }); // every connection of this run drops at `at`
      const s1 = await runBackup({ dest, device: dev, maxReconnects: round % 2 }); // odd rounds may reconnect once
      for (const f of s1.failed) assert.ok(['ERR_CLOSED', 'ERR_PHOTOS_DISCONNECTED'].includes(f.code), `${f.code} ${f.reason}`);
      if (s1.copied < gen.files.length) interrupted++;
      dev.faults.clear();
      const s2 = await runBackup({ dest, device: dev });
      assert.deepEqual(s2.failed, []);
      assert.equal(s1.copied + s2.copied, gen.files.length, `round ${round}: each file copied once`);
      await assertMatches(gen, dev.udid, dest);
      await rm(dest, { recursive: true, force: true });
    }
    assert.equal(offsets.size, 20);
    assert.ok(interrupted >= 10, `${interrupted} of 20 first runs were cut short`);
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
});

test('afc: a stalled link (no bytes, connection open) times out and the run completes on a new connection', async () => {
  const media = await tmp('photos-media-');
  const dest = await tmp('photos-dest-');
  try {
    const gen = await generateDcim(media, { count: 12, scale: 0.01, seed: 21 });
    const dev = folderDevice(media);
    // the first connection stalls during the walk, the second one mid-copy; later ones are healthy
    dev.faults.arm({ kind: 'stall', afterBytes: 300 });
    dev.faults.arm({ kind: 'stall', afterBytes: Math.floor(gen.totalBytes / 4) });
    const events: string[] = [];
    const s = await runBackup({ dest, device: dev, connections: 2, idleTimeoutMs: 1000, maxReconnects: 10, onEvent: (e) => events.push(e.type) });
    assert.deepEqual(s.failed, []);
    assert.ok(events.includes('reconnect'));
    await assertMatches(gen, dev.udid, dest);
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});

test('afc: the hostile device (traversal names, slash, NUL, outward symlinks) writes nothing outside DEST', async () => {
  const media = await tmp('photos-media-');
  const root = await tmp('photos-hostile-');
  try {
    const gen = await generateDcim(media, { count: 5, scale: 0.01, seed: 5 });
    const hooks = await setupHostileMedia(media);
    const dest = join(root, 'a', 'b', 'c', 'dest');
    const dev = folderDevice(media, hooks);
    const s = await runBackup({ dest, device: dev });
    const reasons = new Set(s.rejected.map((r) => r.reason));
    assert.ok(reasons.has('unsafe-name') && reasons.has('symlink'), JSON.stringify(s.rejected));
    assert.deepEqual(await readdir(root), ['a']);
    assert.deepEqual(await readdir(join(root, 'a', 'b', 'c')), ['dest']);
    const tree = await treeHashes(dest);
    assert.equal(tree.size, gen.files.length);
    for (const k of tree.keys()) assert.match(k, /^Folder iPhone\/10\dAPPLE\/IMG_\d{4}\.[A-Z]{3,4}$/);
    assert.ok(s.rejected.some((r) => r.remote.endsWith('/103APPLE') && r.reason === 'symlink'));
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
});

test('afc: malformed stat replies (st_size -1, garbage st_mtime, no st_ifmt) cost one entry each, reported; no reconnect', async () => {
  const media = await tmp('photos-media-');
  const dest = await tmp('photos-dest-');
  try {
    const gen = await generateDcim(media, { count: 12, scale: 0.01, seed: 31 });
    const [a, b, c] = gen.files.map((f) => `/${f.path}`);
    const dev = folderDevice(media, {
      stat(path, info) {
        if (path === a) return { ...info, st_size: '-1' };
        if (path === b) return { ...info, st_mtime: 'not a time' };
        if (path === c) {
          const { st_ifmt: _drop, ...rest } = info;
          return rest;
        }
        return info;
      },
    });
    const events: string[] = [];
    const s = await runBackup({ dest, device: dev, maxReconnects: 0, onEvent: (e) => events.push(e.type) });
    assert.deepEqual(s.failed, []);
    assert.equal(events.includes('reconnect'), false);
    assert.equal(dev.opened, 2, 'the two connection slots, never reopened');
    assert.deepEqual(s.rejected.map((r) => [r.remote, r.reason, r.code]).sort(), [a, b, c].map((p) => [p, 'bad-entry', 'ERR_AFC_BAD_REPLY']).sort());
    assert.match(s.rejected.find((r) => r.remote === a)!.detail, /st_size is not a non-negative safe integer: "-1"/);
    assert.equal(s.copied, gen.files.length - 3);
    const tree = await treeHashes(dest);
    assert.equal(tree.size, gen.files.length - 3);
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});
