/** The virtual iPhone's thumbnail store: one decodable 5005.JPG per asset (not per Live Photo MOV or sidecar). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startEmulator } from '../../../src/virtual-iphone/emulator.ts';
import { isAssetFile, THUMBNAIL_STORE_DIR } from '../../../src/virtual-iphone/thumbnail-store.ts';

test('emulator thumbnails: PhotoData/Thumbnails/V2/<asset>/5005.JPG for every photo and video asset', async () => {
  const emu = await startEmulator({ dcimCount: 30, dcim: { scale: 0.001, seed: 3, aaeRate: 0.3 }, thumbnails: true });
  try {
    const d = emu.devices[0]!;
    const files = d.manifest!.files;
    const assets = files.filter(isAssetFile);
    assert.ok(assets.length < files.length, 'Live Photo MOVs and sidecars have no entry of their own');
    for (const f of files) {
      const dir = join(d.mediaDir, ...THUMBNAIL_STORE_DIR.split('/'), ...f.path.split('/'));
      const names = await readdir(dir).catch(() => []);
      if (!isAssetFile(f)) {
        assert.deepEqual(names, [], f.path);
        continue;
      }
      assert.deepEqual(names, ['5005.JPG'], f.path);
      const m = await sharp(await readFile(join(dir, '5005.JPG'))).metadata();
      assert.ok((m.width === 160 && m.height === 120) || (m.width === 120 && m.height === 160), `${f.path}: ${m.width}×${m.height}`);
    }
  } finally {
    await emu.close();
  }
});
