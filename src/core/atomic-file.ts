/**
 * Private-file helpers for the pair-record stores (per-user and usbmuxd-layout): owner-only directories and atomic writes
 * (temporary file in the same directory, mode 0600 from creation, fsync, rename), so a reader sees the old
 * or the new content and never a half-written file, and a private key never exists with wider permissions.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Creates `dir` (and parents) with mode 0700; tightens an existing leaf directory to 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

async function writeTemp(path: string, data: Buffer, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  return tmp;
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename durable; not every platform lets a directory be opened for fsync, so failures are ignored.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

/** Replaces `path` atomically with `data` (file mode `mode`, default 0600). The temporary file is removed on failure. */
export async function writeFileAtomic(path: string, data: Buffer, mode = 0o600): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * Creates `path` with `data` only if it does not exist yet (atomically: hard link of a complete temporary
 * file). @returns true when this call created it, false when it already existed.
 */
export async function createFileExclusive(path: string, data: Buffer, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await link(tmp, path);
    await syncDir(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}
