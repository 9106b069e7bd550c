/**
 * DEST problems as typed errors ({@link DestError}, exit 4 in the CLI), found at the start of a run or mid-run:
 *
 * - {@link openDest}: before anything is written, DEST must be a folder (created if missing, one component at a
 *   time, so a file on the way or a read-only parent is named as such), writable for this user, and not full.
 * - {@link asDestError}: a file-system error of a write into DEST (ENOSPC, EDQUOT, EROFS, EACCES, EPERM; also
 *   behind a wrapping error's `cause`, e.g. ERR_PHOTOS_MANIFEST) becomes the DestError that says what to do. The
 *   backup and `photos verify --repair` stop at the first one instead of failing file after file.
 */
import { constants, promises as fsp, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DestError } from './errors.ts';
import { formatBytes } from '../core/units.ts';

/** File-system error codes that make DEST unusable for the rest of a run. */
const DEST_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM']);
/** Syscalls of local file access (a socket's EACCES, a kill()'s EPERM are not about DEST). */
const FS_SYSCALLS = new Set([
  'open', 'write', 'mkdir', 'link', 'rename', 'unlink', 'rmdir', 'rm', 'fsync', 'fdatasync', 'close', 'ftruncate', 'copyfile',
  'access', 'scandir', 'lstat', 'stat', 'realpath', 'chmod', 'utime', 'futime', 'symlink', 'statfs',
]);

/** How far a run got, for the message of a DEST that filled up mid-run. */
export interface DestProgress {
  copied: number;
  toCopy: number;
  copiedBytes: number;
  toCopyBytes: number;
}

/** The local fs error (with one of the DEST codes) behind `e`, looking through up to 4 causes. */
export function destErrnoOf(e: unknown): NodeJS.ErrnoException | undefined {
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 5; depth++, c = c.cause) {
    if (c instanceof DestError) return undefined;
    const x = c as NodeJS.ErrnoException;
    if (typeof x.code === 'string' && DEST_ERRNOS.has(x.code) && typeof x.syscall === 'string' && FS_SYSCALLS.has(x.syscall)) return x;
  }
  return undefined;
}

/** True when `e` is (or is caused by) a DEST problem: a DestError, or a DEST fs error that {@link asDestError} maps. */
export function isDestProblem(e: unknown): boolean {
  return e instanceof DestError || destErrnoOf(e) !== undefined;
}

/**
 * The DestError for `e`, or undefined when `e` is not a DEST problem.
 * @param progress what the run had done when it happened (named in the message of a full DEST), or that in words
 */
export async function asDestError(e: unknown, dest: string, progress?: DestProgress | string): Promise<DestError | undefined> {
  if (e instanceof DestError) return e;
  const x = destErrnoOf(e);
  if (!x) return undefined;
  // link(2)/rename(2) name the source first: a refusal or a full disk is about the target (its folder)
  const path = (x as NodeJS.ErrnoException & { dest?: string }).dest ?? x.path ?? dest;
  switch (x.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return fullError(dest, path, x.code, await freeBytes(dest), progress, x);
    case 'EROFS':
      return readOnlyError(dest, path, x.code, x);
    default:
      return onReadOnlyMount(path) ? readOnlyError(dest, path, x.code!, x) : deniedError(dest, path, x.code!, x);
  }
}

/**
 * Makes sure DEST can take a backup before anything is written: creates it (and missing parents) if needed,
 * checks it is a folder, writable for this user, and not full. Resolves with its real path.
 * @throws DestError ERR_PHOTOS_DEST_NOT_DIR, ERR_PHOTOS_DEST_READONLY, ERR_PHOTOS_DEST_DENIED, ERR_PHOTOS_DEST_FULL
 */
export async function openDest(dest: string): Promise<string> {
  const abs = resolve(dest);
  const st = await fsp.stat(abs).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    if (st.code === 'ENOENT' || st.code === 'ENOTDIR') await createDest(abs);
    else throw (await asDestError(st, abs)) ?? st;
  } else if (!st.isDirectory()) {
    throw new DestError('ERR_PHOTOS_DEST_NOT_DIR', abs, abs,
      `DEST ${abs} is a file, not a folder: give the path of a folder (one that does not exist yet is created), or move that file away`);
  }
  const real = await fsp.realpath(abs).catch(async (e: unknown) => {
    throw (await asDestError(e, abs)) ?? e;
  });
  try {
    await fsp.access(real, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw (await asDestError(e, real)) ?? e;
  }
  await assertSpace(real, real);
  return real;
}

/** A file system with no byte left for this user (`dir` is on it): ERR_PHOTOS_DEST_FULL before anything is written. */
async function assertSpace(dir: string, dest: string): Promise<void> {
  const sf = await fsp.statfs(dir).catch(() => undefined);
  if (sf && sf.blocks > 0 && sf.bavail === 0) throw fullError(dest, dir, undefined, 0, 'nothing was written');
}

/** mkdir of each missing component of `abs`, naming a file in the way or the reason a parent refuses it. */
async function createDest(abs: string): Promise<void> {
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    const st = await fsp.stat(cur).catch((e: NodeJS.ErrnoException) => e);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) {
        throw new DestError('ERR_PHOTOS_DEST_NOT_DIR', abs, cur,
          `DEST ${abs} cannot be created: ${cur} is a file, not a folder; choose another DEST, or move that file away`);
      }
      break;
    }
    if (st.code !== 'ENOENT' && st.code !== 'ENOTDIR') throw (await asDestError(st, abs)) ?? st;
    missing.unshift(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  await assertSpace(cur, abs);
  for (const dir of missing) {
    try {
      await fsp.mkdir(dir, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw (await asDestError(e, abs)) ?? e;
    }
  }
}

/** Bytes this user may still write on DEST's file system, when known. */
async function freeBytes(dest: string): Promise<number | undefined> {
  const sf = await fsp.statfs(dest).catch(() => undefined);
  return sf ? sf.bavail * sf.bsize : undefined;
}


function fullError(dest: string, path: string, errno: string | undefined, free: number | undefined, p: DestProgress | string | undefined, cause?: Error): DestError {
  const what = errno === 'EDQUOT' ? 'your disk quota on DEST is used up' : 'DEST is full';
  const freeText = free === undefined ? '' : `${formatBytes(free)} free`;
  let done = typeof p === 'string' ? `${freeText ? ` (${freeText})` : ''}; ${p}` : freeText ? ` (${freeText})` : '';
  let more = '';
  if (typeof p === 'object' && p.toCopy > 0) {
    const left = Math.max(0, p.toCopyBytes - p.copiedBytes);
    done = `; ${p.copied} of ${p.toCopy} file(s) copied (kept: the rerun copies only the rest), ${formatBytes(left)} still to copy` +
      (freeText ? `, ${freeText}` : '');
    if (free !== undefined && left > free) more = ` (at least ${formatBytes(left - free)} more)`;
  }
  return new DestError('ERR_PHOTOS_DEST_FULL', dest, path,
    `${what}: no space left in ${dest}${done}. Free up space on that drive${more} or choose another DEST, then run it again`,
    { errno, freeBytes: free, ...(cause ? { cause } : {}) });
}

function readOnlyError(dest: string, path: string, errno: string, cause: Error): DestError {
  return new DestError('ERR_PHOTOS_DEST_READONLY', dest, path,
    `DEST ${dest} is on a read-only file system${path === dest ? '' : ` (writing ${path} failed)`}: remount the drive read-write (or switch off its write protection), or choose another DEST`,
    { errno, cause });
}

function deniedError(dest: string, path: string, errno: string, cause: Error): DestError {
  let user = '';
  try {
    user = ` as user ${userInfo().username}`;
  } catch {
    // no passwd entry for this uid: say nothing about the user
  }
  return new DestError('ERR_PHOTOS_DEST_DENIED', dest, path,
    `no permission to write ${path}${user}: make DEST writable for this user (chown/chmod), or choose a folder you own`,
    { errno, cause });
}

/** Linux: whether the mount holding `path` is read-only (/proc/self/mountinfo); false when unknown. */
function onReadOnlyMount(path: string): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const abs = resolve(path);
  let best: { point: string; ro: boolean } | undefined;
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    const f = left?.split(' ');
    if (!f || f.length < 6) continue;
    const point = f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    const inside = abs === point || abs.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (!inside || (best && best.point.length > point.length)) continue;
    const superOpts = right?.split(' ')[2] ?? '';
    best = { point, ro: f[5]!.split(',').includes('ro') || superOpts.split(',').includes('ro') };
  }
  return best?.ro ?? false;
}

