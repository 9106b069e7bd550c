/** Benchmark data: one large file and a DCIM tree, laid out as a device media folder (contains DCIM/). */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 as prng } from '../../src/core/prng.ts';


const BLOCK = randomBytes(8 * 1024 * 1024);

async function writeSized(path: string, size: number, salt: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    let off = 0;
    while (off < size) {
      const start = (salt * 4099 + off) % (BLOCK.length / 2);
      const n = Math.min(size - off, BLOCK.length - start);
      await fh.write(BLOCK, start, n);
      off += n;
    }
  } finally {
    await fh.close();
  }
}

/** Writes `<media>/Downloads/large.bin` of `bytes` bytes. */
export async function makeLargeFile(media: string, bytes: number): Promise<{ remote: string; path: string; bytes: number }> {
  await mkdir(join(media, 'Downloads'), { recursive: true });
  const path = join(media, 'Downloads', 'large.bin');
  const ws = createWriteStream(path);
  for (let off = 0; off < bytes; off += BLOCK.length) {
    if (!ws.write(BLOCK.subarray(0, Math.min(BLOCK.length, bytes - off)))) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
  return { remote: '/Downloads/large.bin', path, bytes };
}

/**
 * Writes `<media>/DCIM/1xxAPPLE/IMG_nnnn.JPG`: `count` files with log-uniform sizes between 50 KB and 8 MB
 * (many photos, fewer large ones), 500 per folder as iOS does.
 */
export async function makeDcim(media: string, count: number): Promise<{ remote: string; files: string[]; bytes: number }> {
  const rnd = prng(20261125);
  const files: string[] = [];
  let bytes = 0;
  const lo = Math.log(50_000);
  const hi = Math.log(8_000_000);
  for (let i = 0; i < count; i++) {
    const dir = join(media, 'DCIM', `${100 + Math.floor(i / 500)}APPLE`);
    if (i % 500 === 0) await mkdir(dir, { recursive: true });
    const size = Math.round(Math.exp(lo + rnd() * (hi - lo)));
    const path = join(dir, `IMG_${String(i % 10000).padStart(4, '0')}.JPG`);
    await writeSized(path, size, i);
    files.push(path);
    bytes += size;
  }
  return { remote: '/DCIM', files, bytes };
}
