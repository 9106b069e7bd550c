/**
 * Two devices into one DEST are kept apart (a folder per device, named by device name, the UDID as tie-breaker);
 * a DEST of the layout before device folders keeps working; a Live Photo pair is never split by a name clash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup } from '../../../src/photos/backup.ts';
import { MAX_DEVICE_FOLDER_BYTES, sanitizeDeviceName } from '../../../src/photos/device-folder.ts';
import { splitExt, suffixOf } from '../../../src/photos/layout.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { unsafeNameReason } from '../../../src/photos/safe-path.ts';
import { MemDevice } from './fake-device.ts';
import { addLibrary, sha, treeHashes } from './helpers.ts';
import { makeHeic, noise } from './media.ts';

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-devices-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

function device(name: string | undefined, udid: string, count = 20, seedShift = 0): MemDevice {
  const d = new MemDevice();
  d.udid = udid;
  if (name === undefined) delete (d as { name?: string }).name;
  else d.name = name;
  addLibrary(d, count);
  if (seedShift) for (const [p, data] of d.files()) d.editFile(p, Buffer.concat([data, Buffer.from([seedShift])]));
  return d;
}

/**
 * Each device's files are in DEST exactly once, byte-identical, below `folder`; every group (Live Photo still +
 * video, sidecars) shares one folder and one suffix. Returns the device's locals.
 */
async function assertDevice(dest: string, dev: MemDevice, folder: string): Promise<string[]> {
  const m = await Manifest.open(dest, { readOnly: true });
  const tree = await treeHashes(dest);
  const locals: string[] = [];
  const groups = new Map<string, Set<string>>();
  try {
    assert.equal(m.deviceFolder(dev.udid), folder);
    for (const [remote, data] of dev.files()) {
      const e = m.get(dev.udid, remote);
      assert.ok(e, remote);
      assert.ok(folder === '' || e.local.startsWith(`${folder}/`), `${remote} -> ${e.local} in ${folder}`);
      assert.equal(tree.get(e.local), sha(data), `${remote} byte-identical`);
      locals.push(e.local);
      const name = remote.slice(remote.lastIndexOf('/') + 1);
      const localName = e.local.slice(e.local.lastIndexOf('/') + 1);
      const key = `${remote.slice(0, remote.lastIndexOf('/'))}/${splitExt(name).stem}`;
      const where = `${e.local.slice(0, e.local.lastIndexOf('/'))} -${suffixOf(name, localName)}`;
      if (!groups.has(key)) groups.set(key, new Set());
      groups.get(key)!.add(where);
    }
  } finally {
    await m.close();
  }
  for (const [k, w] of groups) assert.equal(w.size, 1, `group ${k} is whole: ${[...w].join(', ')}`);
  return locals;
}

test('device folder names: safe for any file system, never a dot-folder, at most 100 bytes', () => {
  const cases: [string, string][] = [
    ["Anna's iPhone", "Anna's iPhone"],
    ['a/b\\c:d*e?f"g<h>i|j', 'a_b_c_d_e_f_g_h_i_j'],
    ['..hidden', 'hidden'],
    ['.iosdevice', 'iosdevice'],
    ['  spaced out. . ', 'spaced out'],
    ['tab\there\nnl', 'tab_here_nl'],
    ['CON', 'CON_'],
    ['lpt1.txt', 'lpt1.txt_'],
    ['', ''],
    ['...', ''],
    ['Ünïcödé 📱', 'Ünïcödé 📱'],
    ['e\u0301', '\u00e9'], // NFC
  ];
  for (const [input, want] of cases) assert.equal(sanitizeDeviceName(input), want, JSON.stringify(input));
  const long = sanitizeDeviceName('📱'.repeat(60));
  assert.ok(Buffer.byteLength(long) <= MAX_DEVICE_FOLDER_BYTES && long.length > 0);
  assert.equal(long, '📱'.repeat(25), 'cut on a character boundary');
  for (let i = 0; i < 300; i++) {
    const s = String.fromCharCode(...Array.from({ length: 1 + (i % 7) }, (_, j) => (i * 31 + j * 17) % 128));
    const out = sanitizeDeviceName(s);
    if (out !== '') assert.equal(unsafeNameReason(out), undefined, JSON.stringify(s));
    assert.ok(!out.startsWith('.'), JSON.stringify(s));
  }
});

test('two devices with the same file names into one DEST: two folders, every file once, every Live pair whole; reruns copy nothing', () =>
  withDest(async (dest) => {
    const a = device("Anna's iPhone", 'UDID-AAAA', 25);
    const b = device('Ben/s iPhone', 'UDID-BBBB', 25, 1); // same names, other bytes
    const sa = await runBackup({ dest, device: a });
    const sb = await runBackup({ dest, device: b });
    assert.deepEqual([sa.failed, sb.failed], [[], []]);
    assert.equal(sa.deviceFolder, "Anna's iPhone");
    assert.equal(sb.deviceFolder, 'Ben_s iPhone');
    assert.deepEqual((await readdir(dest)).sort(), ['.iosdevice', "Anna's iPhone", 'Ben_s iPhone']);
    const la = await assertDevice(dest, a, "Anna's iPhone");
    const lb = await assertDevice(dest, b, 'Ben_s iPhone');
    assert.ok([...la, ...lb].every((l) => !/-\d+\.\w+$/.test(l)), 'no -1 names');
    assert.equal((await treeHashes(dest)).size, a.files().size + b.files().size);
    for (const d of [a, b]) {
      const again = await runBackup({ dest, device: d });
      assert.equal(again.copied, 0);
      assert.equal(again.skipped, d.files().size);
    }
  }));

test('two devices with the same name: the second one gets "<name> (<UDID>)"; a device without a name uses its UDID; folders are kept when a device is renamed', () =>
  withDest(async (dest) => {
    const a = device('iPhone', 'UDID-1', 6);
    const b = device('IPHONE', 'UDID-2', 6, 2); // the same name on a case-insensitive file system
    const c = device(undefined, 'UDID-3', 6, 3);
    assert.equal((await runBackup({ dest, device: a })).deviceFolder, 'iPhone');
    assert.equal((await runBackup({ dest, device: b })).deviceFolder, 'IPHONE (UDID-2)');
    assert.equal((await runBackup({ dest, device: c })).deviceFolder, 'UDID-3');
    a.name = 'Renamed';
    const again = await runBackup({ dest, device: a });
    assert.equal(again.deviceFolder, 'iPhone');
    assert.equal(again.copied, 0);
    await assertDevice(dest, a, 'iPhone');
    await assertDevice(dest, b, 'IPHONE (UDID-2)');
    await assertDevice(dest, c, 'UDID-3');
  }));

/** Turns DEST into what the version before device folders wrote: files at DEST/100APPLE/…, no device line. */
async function makeLegacy(dest: string, folder: string): Promise<void> {
  for (const n of await readdir(join(dest, folder))) await rename(join(dest, folder, n), join(dest, n));
  await rm(join(dest, folder), { recursive: true });
  const path = join(dest, '.iosdevice', 'manifest.jsonl');
  const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const old = lines.filter((l) => l.op !== 'device').map((l) => (typeof l.local === 'string' ? { ...l, local: l.local.slice(folder.length + 1) } : l));
  await writeFile(path, old.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

test('a DEST of the old layout (DEST/100APPLE/…) keeps working: its device stays at the top level, copies nothing again; another device gets its own folder', () =>
  withDest(async (dest) => {
    const a = device('iPhone A', 'UDID-A', 15);
    await runBackup({ dest, device: a });
    await makeLegacy(dest, 'iPhone A');
    assert.ok((await readdir(dest)).includes('100APPLE'));

    const rerun = await runBackup({ dest, device: a });
    assert.equal(rerun.copied, 0, 'nothing copied again into a new folder');
    assert.equal(rerun.skipped, a.files().size);
    assert.equal(rerun.deviceFolder, '');
    a.addFile('/DCIM/100APPLE', 'IMG_0900.HEIC', makeHeic('2024:01:01 10:00:00', 500, 900));
    a.addFile('/DCIM/100APPLE', 'IMG_0900.MOV', noise(700, 900));
    const more = await runBackup({ dest, device: a });
    assert.equal(more.copied, 2);
    assert.deepEqual((await treeHashes(dest)).has('100APPLE/IMG_0900.MOV'), true, 'new files join the old layout');
    await assertDevice(dest, a, '');

    // another device: its own folder; one named like a folder of the old layout gets the UDID
    const b = device('100APPLE', 'UDID-B', 15, 4);
    const sb = await runBackup({ dest, device: b });
    assert.equal(sb.deviceFolder, '100APPLE (UDID-B)');
    await assertDevice(dest, b, '100APPLE (UDID-B)');
    await assertDevice(dest, a, '');
    assert.equal((await runBackup({ dest, device: a })).copied, 0);
  }));

test('Live pairs stay whole with name clashes: two device folders with the same names on one day (--split-by-date) and an unrelated file in the way', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    const birth = new Date(2023, 5, 5, 12);
    for (const [i, dir] of ['/DCIM/100APPLE', '/DCIM/101APPLE', '/DCIM/102APPLE'].entries()) {
      dev.addFile(dir, 'IMG_0001.HEIC', makeHeic('2021:08:15 07:00:00', 100 + i, i), birth);
      dev.addFile(dir, 'IMG_0001.MOV', noise(500 + i, 10 + i), birth);
      dev.addFile(dir, 'IMG_0001.AAE', Buffer.from(`<plist>${i}</plist>`), birth);
    }
    // someone else's file takes only the video's name (and the -1 still's name) in the day folder
    const day = join(dest, dev.name, '2021', '2021-08-15');
    await mkdir(day, { recursive: true });
    await writeFile(join(day, 'IMG_0001.MOV'), 'not ours');
    await writeFile(join(day, 'IMG_0001-1.HEIC'), 'not ours either');
    const s = await runBackup({ dest, device: dev, layout: 'date' });
    assert.deepEqual(s.failed, []);
    await assertDevice(dest, dev, dev.name);
    const names = (await readdir(day)).sort();
    assert.deepEqual(names, [
      'IMG_0001-1.HEIC', // not ours: suffix 1 is not free for the whole group either
      'IMG_0001-2.AAE', 'IMG_0001-2.HEIC', 'IMG_0001-2.MOV',
      'IMG_0001-3.AAE', 'IMG_0001-3.HEIC', 'IMG_0001-3.MOV',
      'IMG_0001-4.AAE', 'IMG_0001-4.HEIC', 'IMG_0001-4.MOV',
      'IMG_0001.MOV', // not ours
    ]);
    assert.equal(await readFile(join(day, 'IMG_0001.MOV'), 'utf8'), 'not ours');
  }));

test('Live pairs stay whole across two devices with --split-by-date (same names, same day): each device in its folder, no suffix', () =>
  withDest(async (dest) => {
    const a = device('A', 'UDID-A', 30);
    const b = device('B', 'UDID-B', 30, 5);
    await runBackup({ dest, device: a, layout: 'date' });
    await runBackup({ dest, device: b, layout: 'date' });
    const la = await assertDevice(dest, a, 'A');
    const lb = await assertDevice(dest, b, 'B');
    assert.deepEqual(la.map((l) => l.slice(2)).sort(), lb.map((l) => l.slice(2)).sort(), 'the same layout in both folders');
  }));
