/**
 * Restoring a recorded file in DEST under its original name (`photos verify --repair`, and a backup run that
 * finds a recorded copy missing or of the wrong size while the device still holds the recorded version).
 *
 * The bytes come from a fully received, flushed .part whose SHA-256 equals the recorded one. The swap is atomic
 * and never loses anything:
 * - nothing at the name: the part is linked there (link(2) never overwrites: if a file appeared meanwhile, the
 *   repair is refused);
 * - the damaged file, still the very file that was found damaged (same inode, size and mtime): it is first kept
 *   aside under DEST/.iosdevice/damaged/ (a hard link, so the name still holds it), then the part is renamed
 *   over the name: the name always holds either the damaged file or the restored one, never a partial file.
 *   Without hard links (FAT/exFAT) the damaged file is renamed aside and the part renamed into the free name.
 * - anything else there (a different file than the one found damaged, a folder, a symlink): refused, untouched.
 * The kept-aside copy may be an edit made on purpose in DEST; delete DEST/.iosdevice/damaged/ once satisfied.
 *
 * Limits: as in safe-path.ts, a local process swapping the file between the last check and the rename is out of scope.
 */
import { randomUUID } from 'node:crypto';
import { lstatSync, promises as fsp, type BigIntStats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PhotosError } from './errors.ts';
import { STATE_DIR } from './manifest.ts';
import { ensureSafeDir, fsyncDir, placeNoClobber, resolveInside } from './safe-path.ts';

/** Folder below DEST/.iosdevice where a damaged file is kept when it is replaced. */
export const DAMAGED_DIR = 'damaged';

/** What stood at a local path when it was checked: nothing, or a regular file with this identity. */
export type LocalState = { kind: 'missing' } | { kind: 'file'; dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint } | { kind: 'other'; what: string };

/** Looks at DEST-relative `local` ('/'-separated) without following a symlink. */
export async function localState(dest: string, local: string): Promise<LocalState> {
  let st;
  try {
    st = await fsp.lstat(resolveInside(dest, local.split('/')), { bigint: true });
  } catch (e) {
    return missingOr(e);
  }
  return stateOf(st);
}

/** {@link localState} synchronously (the plan uses it while DEST answers from the kernel's caches: plan.ts). */
export function localStateSync(dest: string, local: string): LocalState {
  let st;
  try {
    st = lstatSync(resolveInside(dest, local.split('/')), { bigint: true });
  } catch (e) {
    return missingOr(e);
  }
  return stateOf(st);
}

function missingOr(e: unknown): LocalState {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
  throw e;
}

function stateOf(st: BigIntStats): LocalState {
  if (st.isFile()) return { kind: 'file', dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
  return { kind: 'other', what: st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symlink' : 'not a regular file' };
}

function sameFile(a: LocalState, b: LocalState): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== 'file' || b.kind !== 'file') return a.kind === 'missing';
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

/** A name for the kept-aside copy: time, a random tag, the original name (cut to fit 255 bytes). */
function asideName(local: string): string {
  let name = `${stamp()}-${randomUUID().slice(0, 8)}-${basename(local)}`;
  while (Buffer.byteLength(name) > 255) name = name.slice(0, -1);
  return name;
}

/**
 * Replaces the file at DEST/`local` by the verified `part`, provided the name still holds what was found
 * there (`found`: see the module comment). On success the part is gone.
 * @returns `keptAside`: the damaged file's new path relative to DEST, when there was one
 * @throws PhotosError ERR_PHOTOS_REPAIR when the name now holds something else (nothing is changed then);
 *   UnsafePathError (ERR_PHOTOS_UNSAFE_PATH) for a symlink or file in the way of the folders; fs errors
 */
export async function replaceInPlace(dest: string, local: string, part: string, found: LocalState): Promise<{ keptAside?: string }> {
  const parts = local.split('/');
  const target = resolveInside(dest, parts);
  const refuse = (why: string): PhotosError => new PhotosError('ERR_PHOTOS_REPAIR', `${local}: ${why}; left as it is`);
  const now = await localState(dest, local);
  if (!sameFile(now, found)) throw refuse('it changed since it was checked');
  if (found.kind === 'other') throw refuse(`it is ${found.what}, not a file`);
  const dir = await ensureSafeDir(dest, parts.slice(0, -1));
  if (found.kind === 'missing') {
    if (!(await placeNoClobber(part, target))) throw refuse('a file appeared there meanwhile');
    await fsyncDir(dir);
    return {};
  }
  const asideDir = await ensureSafeDir(dest, [STATE_DIR, DAMAGED_DIR]);
  const name = asideName(local);
  const aside = join(asideDir, name);
  let linked = true;
  try {
    await fsp.link(target, aside);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    linked = false;
  }
  if (linked) {
    if (!sameFile(await localState(dest, local), found)) {
      await fsp.unlink(aside);
      throw refuse('it changed since it was checked');
    }
    await fsp.rename(part, target); // atomic: the name holds the damaged file or the restored one
  } else {
    await fsp.rename(target, aside);
    const moved = await fsp.lstat(aside, { bigint: true });
    if (moved.ino !== (found as { ino: bigint }).ino) {
      await fsp.rename(aside, target).catch(() => undefined);
      throw refuse('it changed since it was checked');
    }
    if (!(await placeNoClobber(part, target))) throw refuse('a file appeared there meanwhile');
  }
  await fsyncDir(dir);
  await fsyncDir(dirname(aside));
  return { keptAside: `${STATE_DIR}/${DAMAGED_DIR}/${name}` };
}
