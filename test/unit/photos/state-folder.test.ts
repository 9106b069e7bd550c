/**
 * Device names never reach DEST's state folder (.iosdevice), whatever their case or Unicode spelling, and the
 * state folder's cleanup removes only what this tool wrote there (issue 12, item 1); a name listed twice is
 * copied once and deleted at most once (item 8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup } from '../../../src/photos/backup.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { avoidReserved, isReservedTopLevel } from '../../../src/photos/reserved.ts';
import { MemDevice } from './fake-device.ts';
import { sha, treeHashes } from './helpers.ts';
import { makeJpeg } from './media.ts';

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-state-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

test('reserved: every case / Unicode spelling of .iosdevice is reserved and renamed; other names are not', () => {
  const same = ['.iosdevice', '.IOSDEVICE', '.IoSdEvIcE', '.iosdevice.', '.iosdevice ', '.ios\u200Cdevice', '\uFEFF.iosdevice', '\uFF0Eiosdevice', '.\u0130osdevice', '.io\u017Fdevice'];
  for (const n of same) {
    assert.equal(isReservedTopLevel(n), true, JSON.stringify(n));
    const [first] = avoidReserved([n, 'parts']);
    assert.equal(isReservedTopLevel(first!), false);
    assert.equal(first, `_${n}`);
  }
  for (const n of ['100APPLE', '_.iosdevice', 'iosdevice', '.iosdevices', '.photos']) assert.equal(isReservedTopLevel(n), false, n);
  assert.deepEqual(avoidReserved(['100APPLE', '.iosdevice']), ['100APPLE', '.iosdevice'], 'only the top level is shared with the state folder');
});

test('state folder: /DCIM/.iosdevice/parts/IMG_7777.JPG with --delete-after-import, then a normal run: the photo is kept byte-identical', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const photo = makeJpeg('2023:01:02 03:04:05', 5000, 7777);
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.JPG', makeJpeg('2023:01:02 03:04:05', 800, 1));
    dev.addFile('/DCIM/.iosdevice/parts', 'IMG_7777.JPG', photo);
    const s1 = await runBackup({ dest, device: dev, deleteAfterImport: true });
    assert.deepEqual(s1.failed, []);
    assert.deepEqual(s1.rejected, []);
    assert.equal(s1.copied, 2);
    assert.deepEqual(dev.removed.sort(), ['/DCIM/.iosdevice/parts/IMG_7777.JPG', '/DCIM/100APPLE/IMG_0001.JPG']);
    const m1 = await Manifest.open(dest, { readOnly: true });
    assert.equal(m1.size, 0, 'both were deleted from the device: the manifest forgets them (op deleted)');
    await m1.close();
    const kept = join(dest, dev.name, '_.iosdevice', 'parts', 'IMG_7777.JPG');
    assert.equal(sha(await readFile(kept)), sha(photo));

    const s2 = await runBackup({ dest, device: dev });
    assert.equal(s2.found, 0);
    assert.deepEqual(s2.failed, []);
    assert.equal(sha(await readFile(kept)), sha(photo), 'the next run did not clean it away');
    const tree = await treeHashes(dest);
    assert.deepEqual([...tree.keys()].sort(), [`${dev.name}/100APPLE/IMG_0001.JPG`, `${dev.name}/_.iosdevice/parts/IMG_7777.JPG`]);
  }));

test('state folder: case and Unicode spellings of the state folder name each land in their own visible folder', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const names = ['.iosdevice', '.IOSDEVICE', '.iosdevice.', '.ios\u200Cdevice', '.io\u017Fdevice'];
    names.forEach((n, i) => dev.addFile(`/DCIM/${n}`, 'lock', Buffer.from(`photo ${i}`)));
    dev.addFile('/DCIM/.iosdevice', 'manifest.jsonl', Buffer.from('{"v":1,"udid":"x","remote":"/evil","size":1,"mtimeNs":"0","sha256":"00","local":"../x"}\n'));
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(s.failed, []);
    assert.equal(s.copied, names.length + 1);
    const tree = await treeHashes(dest);
    names.forEach((n, i) => assert.equal(tree.get(`${dev.name}/_${n}/lock`), sha(Buffer.from(`photo ${i}`)), n));
    const m = await Manifest.open(dest, { readOnly: true });
    assert.equal(m.size, names.length + 1, 'the device\'s "manifest.jsonl" is a photo, not our manifest');
    assert.equal(m.badLines, 0);
    await m.close();
    assert.deepEqual((await readdir(join(dest, '.iosdevice'))).sort(), ['manifest.jsonl', 'parts']);
  }));

test('state folder: cleanup removes only stale .part files this tool names, never anything else in parts/', () =>
  withDest(async (dest) => {
    const parts = join(dest, '.iosdevice', 'parts');
    await mkdir(join(parts, 'a-folder'), { recursive: true });
    const stale = join(parts, '0b4a4c2e-6f1d-4d6e-9c1a-2f3e4d5c6b7a.part');
    await writeFile(stale, 'half a photo');
    await writeFile(join(parts, 'IMG_7777.JPG'), 'a photo an older version placed here');
    await writeFile(join(parts, 'notes.part'), 'not a name we give');
    const dev = new MemDevice();
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.JPG', makeJpeg(undefined, 100, 1));
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.copied, 1);
    assert.deepEqual((await readdir(parts)).sort(), ['IMG_7777.JPG', 'a-folder', 'notes.part']);
  }));

test('walk: a name listed twice is copied once and deleted at most once', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const data = makeJpeg('2023:01:02 03:04:05', 900, 3);
    dev.addFile('/DCIM/100APPLE', 'IMG_0001.JPG', data);
    const dir = dev.node('/DCIM/100APPLE') as { names: string[] };
    dir.names.push('IMG_0001.JPG', 'IMG_0001.JPG');
    const s = await runBackup({ dest, device: dev, deleteAfterImport: true });
    assert.deepEqual(s.failed, []);
    assert.equal(s.found, 1);
    assert.equal(s.copied, 1);
    assert.deepEqual(dev.removed, ['/DCIM/100APPLE/IMG_0001.JPG']);
    assert.deepEqual([...(await treeHashes(dest)).entries()], [[`${dev.name}/100APPLE/IMG_0001.JPG`, sha(data)]]);
  }));
