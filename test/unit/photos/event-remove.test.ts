/**
 * The UI's engine calls: a picked set of device paths (Selection.paths), an event folder (--event NAME, with and
 * without --split-by-date), and iPhoto's keep-or-remove question (verifyImported + removeImported: only verified,
 * recorded, unchanged files ever leave the phone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDeviceError } from '../../../src/core/errors.ts';
import { runBackup } from '../../../src/photos/backup.ts';
import { checkEventName } from '../../../src/photos/layout.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { removeImported, verifyImported } from '../../../src/photos/remove.ts';
import { makeSelection } from '../../../src/photos/selection.ts';
import { MemDevice } from './fake-device.ts';
import { addLibrary, treeHashes } from './helpers.ts';

async function withDest(fn: (dest: string) => Promise<void>): Promise<void> {
  const dest = await mkdtemp(join(tmpdir(), 'photos-event-'));
  try {
    await fn(dest);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

test('selection.paths: only the picked device files are copied', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 12);
    const picked = ['/DCIM/100APPLE/IMG_0010.HEIC', '/DCIM/100APPLE/IMG_0010.MOV', '/DCIM/101APPLE/IMG_0003.PNG'];
    const s = await runBackup({ dest, device: dev, selection: { ...makeSelection(), paths: new Set(picked) } });
    assert.equal(s.selected, 3);
    assert.equal(s.copied, 3);
    const D = dev.name; // the device's folder below DEST
    assert.deepEqual([...(await treeHashes(dest)).keys()].sort(), [`${D}/100APPLE/IMG_0010.HEIC`, `${D}/100APPLE/IMG_0010.MOV`, `${D}/101APPLE/IMG_0003.PNG`]);
  }));

test('--event NAME: files go under DEST/NAME/<device folder>/ in both layouts; a rerun under another event copies nothing twice', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 6);
    const s1 = await runBackup({ dest, device: dev, event: ' Summer trip ', selection: { ...makeSelection(), paths: new Set(['/DCIM/101APPLE/IMG_0001.JPG']) } });
    assert.equal(s1.copied, 1);
    const s2 = await runBackup({ dest, device: dev, event: 'Birthday', layout: 'date' });
    assert.equal(s2.skipped, 1, 'already imported under the first event');
    const keys = [...(await treeHashes(dest)).keys()];
    assert.ok(keys.includes('Summer trip/Test iPhone/101APPLE/IMG_0001.JPG'), keys.join(','));
    assert.ok(keys.filter((k) => k !== 'Summer trip/Test iPhone/101APPLE/IMG_0001.JPG').every((k) => /^Birthday\/Test iPhone\/\d{4}\/\d{4}-\d{2}-\d{2}\/IMG_\d{4}\.\w+$/.test(k)), keys.join(','));
    assert.equal(keys.length, dev.files().size);
  }));

test('checkEventName refuses names that are not one safe, visible folder', () => {
  for (const bad of ['', '   ', '..', '.hidden', '.iosdevice', '.IOSDEVICE', 'a/b', 'a\\b', 'x\0y', 'tab\there', 'x'.repeat(121)]) {
    assert.throws(() => checkEventName(bad), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG', JSON.stringify(bad));
  }
  assert.equal(checkEventName('  Ski 2024 '), 'Ski 2024');
});

test('remove after import: only verified, recorded, unchanged files leave the phone', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 10);
    await runBackup({ dest, device: dev });
    const all = [...dev.files().keys()];
    const m = await Manifest.open(dest, { readOnly: true });
    const tampered = all[0]!;
    const changed = all[1]!;
    await writeFile(join(dest, ...m.get(dev.udid, tampered)!.local.split('/')), Buffer.alloc(m.get(dev.udid, tampered)!.size, 1));
    await m.close();
    dev.addFile(changed.slice(0, changed.lastIndexOf('/')), changed.slice(changed.lastIndexOf('/') + 1), Buffer.from('edited on the phone'), new Date(2024, 0, 2));
    const notImported = dev.addFile('/DCIM/100APPLE', 'IMG_0999.JPG', Buffer.from('new'));

    const v = await verifyImported(dest, dev.udid, [...all, notImported]);
    assert.equal(v.verified.length, all.length - 1);
    assert.deepEqual(v.notVerified.map((x) => [x.remote, x.reason]).sort(), [[tampered, 'copy-mismatch'], [notImported, 'not-recorded']].sort());

    const r = await removeImported({ dest, device: dev, remotes: [...all, notImported] });
    assert.deepEqual(r.failed, []);
    assert.equal(r.deleted.length, all.length - 2);
    assert.deepEqual(r.kept.map((k) => [k.remote, k.reason]).sort(), [[tampered, 'copy-mismatch'], [changed, 'changed-on-device'], [notImported, 'not-recorded']].sort());
    assert.deepEqual([...dev.files().keys()].sort(), [tampered, changed, notImported].sort(), 'exactly the unverified files are still on the phone');
    const m2 = await Manifest.open(dest, { readOnly: true });
    for (const d of r.deleted) assert.equal(m2.get(dev.udid, d), undefined, `${d} recorded as deleted`);
    await m2.close();
  }));

test('remove after import: a device that is gone removes nothing and reports it', () =>
  withDest(async (dest) => {
    const dev = new MemDevice();
    addLibrary(dev, 4);
    await runBackup({ dest, device: dev });
    dev.unplugged = true;
    const r = await removeImported({ dest, device: dev, remotes: [...dev.files().keys()] });
    assert.equal(r.deleted.length, 0);
    assert.ok(r.failed.length > 0);
    assert.ok(r.failed.every((f) => f.code === 'ERR_CLOSED' || f.code === 'ERR_PHOTOS_DISCONNECTED'), JSON.stringify(r.failed));
  }));
