/**
 * The device's own thumbnail store for a generated camera roll: Photos keeps a small JPEG per asset at
 * PhotoData/Thumbnails/V2/<asset path below the media root>/5005.JPG (the folder is named after the asset file,
 * HEIC and MOV included; for videos it is the poster frame). The virtual iPhone writes one per photo and video
 * (not for the MOV half of a Live Photo, nor for .AAE sidecars): a procedural scene (media/scenes.ts) encoded by
 * the pure-JS baseline encoder (media/jpeg-encode.ts), deterministic per file path, 4:3 landscape or portrait.
 * The camera-roll files themselves are unchanged (their content hashes do not move).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DcimFile } from './dcim-generator.ts';
import { encodeJpeg } from './media/jpeg-encode.ts';
import { renderScene } from './media/scenes.ts';

/** Folder of the store below the media root. */
export const THUMBNAIL_STORE_DIR = 'PhotoData/Thumbnails/V2';

/** Width × height of the store JPEGs (long side). */
const LONG = 160;
const SHORT = 120;

/** The store JPEG of one asset path (pure): its picture depends only on the path. */
export function storeThumbnail(path: string): Buffer {
  const seed = createHash('sha256').update(path).digest().readUInt32BE(0);
  const portrait = seed % 4 === 0;
  const [w, h] = portrait ? [SHORT, LONG] : [LONG, SHORT];
  return encodeJpeg(renderScene(seed, w, h), w, h, { quality: 80 });
}

/** True for the files that are an asset of their own in Photos (they get a store entry). */
export function isAssetFile(f: Pick<DcimFile, 'kind' | 'livePhoto'>): boolean {
  if (f.kind === 'aae') return false;
  return !(f.kind === 'mov' && f.livePhoto !== undefined);
}

/**
 * Writes the store entries of `files` below `mediaRoot`; resolves with the number written.
 * @throws fs errors as node:fs throws them
 */
export async function writeThumbnailStore(mediaRoot: string, files: readonly DcimFile[]): Promise<number> {
  let n = 0;
  for (const f of files) {
    if (!isAssetFile(f)) continue;
    const dir = join(mediaRoot, ...THUMBNAIL_STORE_DIR.split('/'), ...f.path.split('/'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '5005.JPG'), storeThumbnail(f.path), { mode: 0o644 });
    n++;
  }
  return n;
}
