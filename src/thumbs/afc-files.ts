/**
 * {@link ThumbFiles} over one AFC connection (AfcClient satisfies {@link ThumbAfc} structurally): random reads
 * are FileRefSeek + FileRefRead (looping over short reads, ≤ 1 MiB per READ), serialised per open file.
 */
import type { CallOpts } from '../core/abort.ts';
import { ThumbDecodeError } from './decode.ts';
import type { ThumbFile, ThumbFiles } from './thumbnailer.ts';

/** The AFC calls the thumbnailer uses. */
export interface ThumbAfc {
  stat(path: string, o?: CallOpts): Promise<{ size: number; type: string }>;
  readdir(path: string, o?: CallOpts): Promise<string[]>;
  open(path: string, mode?: string, o?: CallOpts): Promise<number>;
  read(handle: number, size: number, o?: CallOpts): Promise<Buffer>;
  seek(handle: number, offset: number, whence?: number, o?: CallOpts): Promise<void>;
  closeFile(handle: number, o?: CallOpts): Promise<void>;
}

const READ_CHUNK = 1024 * 1024;

/** Thumbnail file access through `afc()` (called per operation, so a replaced connection is picked up). */
export function afcThumbFiles(afc: () => Promise<ThumbAfc>): ThumbFiles {
  return {
    async readdir(path, o) {
      return (await afc()).readdir(path, o);
    },
    async open(path, o): Promise<ThumbFile> {
      const c = await afc();
      const info = await c.stat(path, o);
      if (info.type !== 'file') throw new ThumbDecodeError(`${path} is not a regular file`);
      const h = await c.open(path, 'r', o);
      let chain: Promise<unknown> = Promise.resolve();
      const readAt = async (offset: number, length: number): Promise<Buffer> => {
        const want = Math.max(0, Math.min(length, info.size - offset));
        if (want === 0) return Buffer.alloc(0);
        await c.seek(h, offset, 0, o);
        const parts: Buffer[] = [];
        let got = 0;
        while (got < want) {
          const b = await c.read(h, Math.min(READ_CHUNK, want - got), o);
          if (b.length === 0) break;
          parts.push(b);
          got += b.length;
        }
        return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
      };
      return {
        size: info.size,
        read: (offset, length) => {
          const r = chain.then(() => readAt(offset, length));
          chain = r.catch(() => undefined);
          return r;
        },
        close: () => c.closeFile(h, o).catch(() => undefined),
      };
    },
  };
}
