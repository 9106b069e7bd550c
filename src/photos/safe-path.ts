/**
 * Destination-path safety. Names from the device are never trusted: every component is checked,
 * every destination directory is created one component at a time refusing symlinks, and files are
 * created with O_EXCL | O_NOFOLLOW and placed with link() (which never overwrites nor follows).
 *
 * Limits: the checks are made right before each write; a local process racing us to swap a
 * directory for a symlink between the check and the write is out of scope (DEST belongs to the user).
 */
import { constants, promises as fsp } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { UnsafePathError } from './errors.ts';

const MAX_NAME_BYTES = 255;

/** Why a single name from the device is unsafe as a path component, or undefined when it is fine. */
export function unsafeNameReason(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name === '.' || name === '..') return 'dot component';
  if (name.includes('\0')) return 'NUL byte in name';
  if (name.includes('/')) return 'slash in name';
  if (name.includes('\\')) return 'backslash in name';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'control character in name';
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return 'name longer than 255 bytes';
  return undefined;
}

/**
 * Joins checked components under `root` and proves the result stays inside it.
 * @throws UnsafePathError (ERR_PHOTOS_UNSAFE_PATH)
 */
export function resolveInside(root: string, parts: readonly string[]): string {
  for (const p of parts) {
    const why = unsafeNameReason(p);
    if (why) throw new UnsafePathError(parts.join('/'), why);
  }
  const full = join(root, ...parts);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new UnsafePathError(parts.join('/'), 'outside the destination');
  }
  return full;
}

/**
 * Creates `root/parts…` one directory at a time; an existing component must be a real directory
 * (a symlink, even to a directory, is refused). `root` itself must already exist and is trusted.
 * @returns the absolute directory path.
 * @throws UnsafePathError (ERR_PHOTOS_UNSAFE_PATH) for a symlink or non-directory in the way
 */
export async function ensureSafeDir(root: string, parts: readonly string[]): Promise<string> {
  let cur = root;
  for (let i = 0; i < parts.length; i++) {
    cur = resolveInside(root, parts.slice(0, i + 1));
    let st;
    try {
      st = await fsp.lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      try {
        await fsp.mkdir(cur, { mode: 0o755 });
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      }
      st = await fsp.lstat(cur);
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(parts.slice(0, i + 1).join('/'), 'symlink in the destination');
    if (!st.isDirectory()) throw new UnsafePathError(parts.slice(0, i + 1).join('/'), 'not a directory');
  }
  return cur;
}

/** Opens a new file for writing: fails if anything (file or symlink) exists there. Mode 0644. */
export function openExclusive(path: string): Promise<fsp.FileHandle> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  return fsp.open(path, flags, 0o644);
}

/**
 * Places a finished file at `target` without ever overwriting: link(2) fails with EEXIST when
 * anything (even a dangling symlink) is there. Falls back to an lstat-checked rename on file
 * systems without hard links (FAT/exFAT). Resolves false when `target` is taken.
 */
export async function placeNoClobber(from: string, target: string): Promise<boolean> {
  try {
    await fsp.link(from, target);
    await fsp.unlink(from);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
  }
  try {
    await fsp.lstat(target);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fsp.rename(from, target);
  return true;
}

/** fsync a directory so a link/rename inside it is durable (ignored where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
  } finally {
    await fh?.close();
  }
}
