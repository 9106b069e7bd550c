/** Shared helpers for photo-backup tests. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Manifest } from '../../../src/photos/manifest.ts';
import { makeHeic, makeJpeg, noise } from './media.ts';
import type { MemDevice } from './fake-device.ts';

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Adds a small library: HEIC/JPEG photos with EXIF, Live Photos (HEIC+MOV), videos, AAE sidecars, PNGs. */
export function addLibrary(dev: MemDevice, count: number, opts: { folders?: number; bodyMax?: number } = {}): void {
  const folders = opts.folders ?? 2;
  const bodyMax = opts.bodyMax ?? 40_000;
  for (let i = 1; i <= count; i++) {
    const dir = `/DCIM/${100 + (i % folders)}APPLE`;
    const stem = `IMG_${String(i).padStart(4, '0')}`;
    const day = 1 + (i % 28);
    const exifDate = `2022:03:${String(day).padStart(2, '0')} 10:00:00`;
    const birth = new Date(2023, 5, 1 + (i % 20), 8, 0, 0); // deliberately different from the EXIF date
    const size = 100 + ((i * 7919) % bodyMax);
    switch (i % 5) {
      case 0:
        dev.addFile(dir, `${stem}.HEIC`, makeHeic(exifDate, size, i), birth);
        dev.addFile(dir, `${stem}.MOV`, noise(size * 2, i + 1), birth);
        break;
      case 1:
        dev.addFile(dir, `${stem}.JPG`, makeJpeg(exifDate, size, i), birth);
        dev.addFile(dir, `${stem}.AAE`, Buffer.from(`<plist>${i}</plist>`), birth);
        break;
      case 2:
        dev.addFile(dir, `${stem}.MOV`, noise(size * 3, i), birth);
        break;
      case 3:
        dev.addFile(dir, `${stem}.PNG`, noise(size, i), birth);
        break;
      default:
        dev.addFile(dir, `${stem}.HEIC`, makeHeic(exifDate, size, i), birth);
    }
  }
}

/** Every regular file below DEST (except .iosdevice), relative path → sha256; also fails on symlinks. */
export async function treeHashes(dest: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (rel === '' && e.name === '.iosdevice') continue;
      const p = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else if (e.isFile()) out.set(r, sha(await readFile(p)));
      else out.set(r, 'NOT-A-FILE');
    }
  };
  await walk(dest, '');
  return out;
}

/**
 * Asserts DEST holds exactly the device's files, byte-identical, each once, as the manifest says,
 * and that no .part file is left.
 */
export async function assertComplete(dev: MemDevice, dest: string): Promise<void> {
  const tree = await treeHashes(dest);
  const m = await Manifest.open(dest, { readOnly: true });
  try {
    const files = dev.files();
    assert.equal(tree.size, files.size, 'one local file per device file (no duplicates)');
    for (const [remote, data] of files) {
      const e = m.get(dev.udid, remote);
      assert.ok(e, `manifest has ${remote}`);
      assert.equal(tree.get(e.local), sha(data), `${remote} → ${e.local} byte-identical`);
      assert.equal(e.sha256, sha(data));
    }
  } finally {
    await m.close();
  }
  const parts = await readdir(join(dest, '.iosdevice', 'parts')).catch(() => []);
  assert.deepEqual(parts, [], 'no .part files left');
  await assert.rejects(lstat(join(dest, '.iosdevice', 'lock')), 'lock released');
}
