/**
 * Copying one device file: stream it into DEST/.iosdevice/parts/<uuid>.part (O_EXCL|O_NOFOLLOW),
 * hashing (SHA-256) and counting while writing, check the byte count against the size the device
 * reported, fsync, then place it with link() under a name that never overwrites another file
 * (suffix -1, -2…; a byte-identical file already there counts as the same file), fsync the folder.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { onAbort } from '../core/abort.ts';
import { AbortError } from '../core/errors.ts';
import { PhotosError, UnsafePathError } from './errors.ts';
import type { RandomReader } from './exif.ts';
import { withSuffix, type DeviceFile } from './layout.ts';
import { isReservedTopLevel } from './reserved.ts';
import { ensureSafeDir, fsyncDir, openExclusive, placeNoClobber, resolveInside } from './safe-path.ts';
import type { PhotoAfc } from './source.ts';
import { connectionBytesOf, watched, type WatchOptions } from './watch.ts';

const MAX_SUFFIX = 9999;

/** A fully received, flushed .part file. */
export interface Received {
  part: string;
  size: number;
  sha256: string;
}

/**
 * Streams `f` from the device into a new .part file in `partsDir`.
 * @param onBytes progress callback (bytes of this chunk)
 * @param watch progress-based timeouts (watch.ts): no byte for `idleMs`, or under `minBytesPerSec` over a
 *   window of waiting, fails with ERR_TIMEOUT naming the file and the rate (a stalled or trickling device)
 * @throws PhotosError ERR_PHOTOS_VERIFY when the byte count differs from f.size; AFC/connection
 *   errors as thrown by the read stream; ERR_TIMEOUT; ERR_ABORTED on abort. The .part is removed on any failure.
 */
export async function receive(
  conn: PhotoAfc, f: DeviceFile, partsDir: string, onBytes: (n: number) => void, signal: AbortSignal | undefined, watch: WatchOptions,
): Promise<Received> {
  if (signal?.aborted) throw new AbortError(`reading ${f.remote}`, signal.reason);
  const part = join(partsDir, `${randomUUID()}.part`);
  const fh = await openExclusive(part);
  let ok = false;
  const rs = conn.createReadStream(f.remote, { size: f.size });
  // Errors reach us through the iterator below; this keeps one that comes after the loop (a destroy racing the
  // connection's close) from being an unhandled 'error' event.
  rs.on('error', () => undefined);
  const unsubscribe = signal ? onAbort(signal, () => void rs.destroy(new AbortError(`reading ${f.remote}`, signal.reason))) : undefined;
  try {
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of watched(rs, `reading ${f.remote}`, watch, connectionBytesOf(conn))) {
      n += chunk.length;
      if (n > f.size) throw new PhotosError('ERR_PHOTOS_VERIFY', `${f.remote}: more bytes than the ${f.size} the device reported`);
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      onBytes(chunk.length);
    }
    if (n !== f.size) throw new PhotosError('ERR_PHOTOS_VERIFY', `${f.remote}: received ${n} of ${f.size} bytes`);
    await fh.sync();
    ok = true;
    return { part, size: n, sha256: hash.digest('hex') };
  } finally {
    unsubscribe?.();
    if (!rs.destroyed) rs.destroy();
    await fh.close().catch(() => undefined);
    if (!ok) await fsp.unlink(part).catch(() => undefined);
  }
}

/** A random-access reader over a local file (for the EXIF reader). */
export async function withLocalReader<T>(path: string, fn: (r: RandomReader) => Promise<T>): Promise<T> {
  const fh = await fsp.open(path, 'r');
  try {
    return await fn(async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    });
  } finally {
    await fh.close();
  }
}

/** SHA-256 (hex) of a local regular file, or undefined when it is not a regular file of `size` bytes. */
export async function hashIfSize(path: string, size: number): Promise<string | undefined> {
  let st;
  try {
    st = await fsp.lstat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile() || st.size !== size) return undefined;
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** `first`, then 0 … MAX_SUFFIX without it, one at a time (a placement almost always ends at the first). */
function* suffixOrder(first: number): Generator<number> {
  yield first;
  for (let i = 0; i <= MAX_SUFFIX; i++) if (i !== first) yield i;
}

/**
 * Moves a received .part to DEST/dirParts/name (or name-N), never overwriting a different file.
 * @param firstSuffix suffix to try first (keeps a group's members on the same suffix)
 * @returns the path relative to DEST ('/'-separated) and the suffix used
 * @throws UnsafePathError (ERR_PHOTOS_UNSAFE_PATH) when a destination folder is a symlink or not a folder, or the
 *   target is inside the tool's own state folder
 */
export async function place(dest: string, dirParts: string[], name: string, r: Received, firstSuffix = 0): Promise<{ local: string; suffix: number }> {
  // Defence in depth: whatever the layout computed, nothing is ever placed into the tool's own state folder.
  if (isReservedTopLevel(dirParts[0] ?? name)) throw new UnsafePathError([...dirParts, name].join('/'), 'inside the backup\'s own state folder');
  const dir = await ensureSafeDir(dest, dirParts);
  for (const n of suffixOrder(firstSuffix)) {
    const cand = withSuffix(name, n);
    const target = resolveInside(dest, [...dirParts, cand]);
    if (await placeNoClobber(r.part, target)) {
      await fsyncDir(dir);
      return { local: [...dirParts, cand].join('/'), suffix: n };
    }
    if ((await hashIfSize(target, r.size)) === r.sha256) {
      await fsp.unlink(r.part);
      return { local: [...dirParts, cand].join('/'), suffix: n };
    }
  }
  throw new UnsafePathError([...dirParts, name].join('/'), `more than ${MAX_SUFFIX} clashing names`);
}
