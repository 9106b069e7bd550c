/**
 * The three trees of the peers benchmark, each in a media folder of its own (the folder that contains DCIM/):
 * `mixed` 2,000 files of log-uniform 50 KB – 8 MB (photos to short videos; the AFC benchmark's tree), `small`
 * 20,000 files of 30–50 KB, `large` one 4 GiB .MOV. --quick: 200 files, 2,000 files, 256 MiB.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../../src/core/prng.ts';
import { makeDcim } from './data.ts';

/** A generated tree. */
export interface Tree {
  name: 'mixed' | 'small' | 'large';
  /** The media folder (served as the AFC root); the tree is its DCIM/. */
  media: string;
  /** Every file (host paths, under media/DCIM). */
  files: string[];
  bytes: number;
}

const BLOCK = randomBytes(8 * 1024 * 1024);

async function writeFileOfSize(path: string, size: number, salt: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let off = 0; off < size; ) {
      const start = (salt * 4099 + off) % (BLOCK.length / 2);
      const n = Math.min(size - off, BLOCK.length - start);
      await fh.write(BLOCK, start, n);
      off += n;
    }
  } finally {
    await fh.close();
  }
}

/** Writes tree `name` under `dir/<name>/DCIM`. */
export async function makeTree(name: Tree['name'], dir: string, quick: boolean): Promise<Tree> {
  const media = join(dir, name);
  if (name === 'mixed') {
    const d = await makeDcim(media, quick ? 200 : 2000);
    return { name, media, files: d.files, bytes: d.bytes };
  }
  if (name === 'large') {
    const folder = join(media, 'DCIM', '100APPLE');
    await mkdir(folder, { recursive: true });
    const path = join(folder, 'IMG_0001.MOV');
    const bytes = quick ? 256 * 2 ** 20 : 4 * 2 ** 30;
    await writeFileOfSize(path, bytes, 1);
    return { name, media, files: [path], bytes };
  }
  const count = quick ? 2000 : 20_000;
  const rnd = mulberry32(20261203);
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const folder = join(media, 'DCIM', `${100 + Math.floor(i / 1000)}APPLE`);
    if (i % 1000 === 0) await mkdir(folder, { recursive: true });
    const size = 30_000 + Math.floor(rnd() * 20_001);
    const path = join(folder, `IMG_${String(i % 10000).padStart(4, '0')}.HEIC`);
    await writeFileOfSize(path, size, i);
    files.push(path);
    bytes += size;
  }
  return { name, media, files, bytes };
}
