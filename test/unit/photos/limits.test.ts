/**
 * Resource caps (limits.ts): a self-referencing fan-out tree, one listing of 10^6 names, the total-entries cap
 * and the manifest cap end with ERR_PHOTOS_LIMIT (reported, typed, clear) instead of growing without end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { runBackup } from '../../../src/photos/backup.ts';
import { DEFAULT_LIMITS } from '../../../src/photos/limits.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import type { PhotoAfc, PhotoDevice, PhotoFileInfo } from '../../../src/photos/source.ts';
import { generateDcim } from '../../../src/virtual-iphone/dcim-generator.ts';
import { folderDevice } from './afc-device.ts';
import { MemDevice } from './fake-device.ts';
import { treeHashes } from './helpers.ts';
import { makeJpeg } from './media.ts';

async function withDirs(fn: (a: string, b: string) => Promise<void>): Promise<void> {
  const a = await mkdtemp(join(tmpdir(), 'photos-limits-'));
  const b = await mkdtemp(join(tmpdir(), 'photos-limits-'));
  try {
    await fn(a, b);
  } finally {
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  }
}

/** Every folder lists 8 folders that lead back into the tree (there is no end but the depth). */
class FanOut implements PhotoDevice {
  udid = 'fan-out';
  stats = 0;
  listings = 0;
  openAfc = async (): Promise<PhotoAfc> => {
    const info: PhotoFileInfo = { size: 0, type: 'dir', mtime: new Date(0), birthtime: new Date(0), mtimeNs: 0n };
    return {
      stat: async () => {
        await new Promise<void>((r) => setImmediate(r));
        this.stats++;
        return info;
      },
      readdir: async () => {
        await new Promise<void>((r) => setImmediate(r));
        this.listings++;
        return ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      },
      createReadStream: () => Readable.from([]),
      remove: async () => undefined,
      close() {},
    };
  };
}

test('limits: a self-referencing fan-out tree stops at the folder cap with ERR_PHOTOS_LIMIT; work stays bounded', () =>
  withDirs(async (dest) => {
    const dev = new FanOut();
    const s = await runBackup({ dest, device: dev });
    assert.equal(s.status, 'partial');
    const lim = s.rejected.filter((r) => r.reason === 'limit');
    assert.equal(lim.length, 1, JSON.stringify(lim));
    assert.equal(lim[0]!.code, 'ERR_PHOTOS_LIMIT');
    assert.match(lim[0]!.detail, /more than 10,000 folders \(cap maxFolders = 10,000\): the walk stopped here/);
    // every folder found costs one stat; the walk never lists or stats much beyond the cap
    assert.ok(dev.stats <= DEFAULT_LIMITS.maxFolders + 64, `${dev.stats} stats`);
    assert.ok(dev.listings <= DEFAULT_LIMITS.maxFolders / 8 + 64, `${dev.listings} listings`);
    assert.equal(s.found, 0);
  }));

test('limits: one listing of 10^6 names (through the real AFC stack) fails that folder with the cap error; the rest is copied', () =>
  withDirs(async (media, dest) => {
    const gen = await generateDcim(media, { count: 6, scale: 0.01, seed: 41 });
    await mkdir(join(media, 'DCIM', '900APPLE'));
    const dev = folderDevice(media, {
      readdir(path, names) {
        if (!path.endsWith('/900APPLE')) return names;
        return [...names, ...Array.from({ length: 1_000_000 }, (_, i) => `IMG_${i}.JPG`)];
      },
    });
    const s = await runBackup({ dest, device: dev });
    assert.deepEqual(s.failed, []);
    assert.deepEqual(s.rejected.map((r) => [r.remote, r.reason, r.code]), [['/DCIM/900APPLE', 'limit', 'ERR_PHOTOS_LIMIT']]);
    assert.match(s.rejected[0]!.detail, /lists more than 100,000 entries \(cap maxFolderEntries = 100,000\); it was skipped/);
    assert.equal(s.copied, gen.files.length);
    assert.equal(dev.opened, 2, 'the connection survived the oversized listing');
  }));

test('limits: the total-entries cap stops the walk; what was found is backed up and the stop is reported', () =>
  withDirs(async (dest) => {
    const dev = new MemDevice();
    for (let i = 0; i < 30; i++) dev.addFile(`/DCIM/${100 + (i % 3)}APPLE`, `IMG_${1000 + i}.JPG`, makeJpeg(undefined, 50, i));
    const s = await runBackup({ dest, device: dev, limits: { maxEntries: 20 } });
    assert.equal(s.status, 'partial');
    const lim = s.rejected.find((r) => r.reason === 'limit');
    assert.match(lim?.detail ?? '', /more than 20 entries \(cap maxEntries = 20\)/);
    assert.ok(s.found > 0 && s.found < 30, `${s.found} found`);
    assert.equal(s.copied, s.found);
    assert.equal((await treeHashes(dest)).size, s.found);
  }));

test('limits: a manifest with more live entries than the cap is refused on open (ERR_PHOTOS_LIMIT)', () =>
  withDirs(async (dest) => {
    await mkdir(join(dest, '.iosdevice'));
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ v: 1, udid: 'u', remote: `/DCIM/100APPLE/IMG_${i}.JPG`, size: 1, mtimeNs: '0', sha256: '00', local: `100APPLE/IMG_${i}.JPG` }));
    await writeFile(join(dest, '.iosdevice', 'manifest.jsonl'), lines.join('\n') + '\n');
    await assert.rejects(Manifest.open(dest, { maxEntries: 10 }), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_LIMIT' && /holds more than 10 entries/.test((e as Error).message));
    const m = await Manifest.open(dest, { maxEntries: 12 });
    assert.equal(m.size, 12);
    await m.close();
  }));
