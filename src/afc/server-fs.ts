/**
 * Host-side helpers of the AFC server: confinement of AFC paths to the served root (lexical `..`
 * clamping plus realpath checks so symlinks cannot lead outside) and errno → AFC status mapping.
 */
import { constants as C, lstatSync, readlinkSync, realpathSync, type BigIntStats } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { AfcStatus } from './protocol.ts';

/** Thrown inside the server to answer with a STATUS; never leaves the module. */
export class StatusReply extends Error {
  constructor(readonly status: number) {
    super(`AFC status ${status}`);
  }
}

const ERRNO_STATUS: Record<string, number> = {
  ENOENT: AfcStatus.OBJECT_NOT_FOUND,
  ENOTDIR: AfcStatus.OBJECT_NOT_FOUND,
  ELOOP: AfcStatus.OBJECT_NOT_FOUND,
  EISDIR: AfcStatus.OBJECT_IS_DIR,
  EACCES: AfcStatus.PERM_DENIED,
  EPERM: AfcStatus.PERM_DENIED,
  EROFS: AfcStatus.PERM_DENIED,
  EEXIST: AfcStatus.OBJECT_EXISTS,
  ENOTEMPTY: AfcStatus.UNKNOWN_ERROR, // what the device answers RemovePath on a non-empty directory
  EBUSY: AfcStatus.OBJECT_BUSY,
  ENOSPC: AfcStatus.NO_SPACE_LEFT,
  EDQUOT: AfcStatus.NO_SPACE_LEFT,
  EAGAIN: AfcStatus.OP_WOULD_BLOCK,
  EWOULDBLOCK: AfcStatus.OP_WOULD_BLOCK,
  EIO: AfcStatus.IO_ERROR,
  EINTR: AfcStatus.OP_INTERRUPTED,
  EINVAL: AfcStatus.INVALID_ARG,
  EBADF: AfcStatus.INVALID_ARG,
  ENAMETOOLONG: AfcStatus.INVALID_ARG,
  EFBIG: AfcStatus.TOO_MUCH_DATA,
  EMFILE: AfcStatus.NO_RESOURCES,
  ENFILE: AfcStatus.NO_RESOURCES,
  ENOMEM: AfcStatus.NO_RESOURCES,
};

/** The AFC status for anything thrown while serving a request. */
export function statusOf(e: unknown): number {
  if (e instanceof StatusReply) return e.status;
  const code = (e as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && ERRNO_STATUS[code]) || AfcStatus.UNKNOWN_ERROR;
}

/** How the last path component is treated. */
export type Resolve = 'follow' | 'nofollow' | 'create-parents';

/**
 * Maps AFC paths (absolute or relative, with or without '..') into one host folder. '..' never goes
 * above the root (like a chroot); every existing ancestor is realpath-checked so a symlink cannot point
 * out of the root; with 'follow' the final component is resolved too. Escapes answer PERM_DENIED.
 */
export class PathJail {
  readonly #root: string;
  #rootReal: string | undefined;

  constructor(root: string) {
    this.#root = root;
  }

  /** The real path of the root. */
  async rootReal(): Promise<string> {
    this.#rootReal ??= await fs.realpath(this.#root);
    return this.#rootReal;
  }

  /** Lexically normalised AFC path ('/' + components). */
  static normalise(p: string): string[] {
    const out: string[] = [];
    for (const c of p.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') out.pop();
      else out.push(c);
    }
    return out;
  }

  #inside(real: string, root: string): boolean {
    return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
  }

  /** Host path for an AFC path. Throws StatusReply(OBJECT_NOT_FOUND / PERM_DENIED) or errno errors. */
  async resolve(afcPath: string, mode: Resolve): Promise<string> {
    const root = await this.rootReal();
    const parts = PathJail.normalise(afcPath);
    if (parts.length === 0) return root;
    const lexical = join(root, ...parts);
    if (mode === 'create-parents') {
      // Find the deepest existing ancestor, check it, and re-attach the missing components.
      let existing = lexical;
      const missing: string[] = [];
      for (;;) {
        try {
          const real = await fs.realpath(existing);
          if (!this.#inside(real, root)) throw new StatusReply(AfcStatus.PERM_DENIED);
          return join(real, ...missing.reverse());
        } catch (e) {
          if (e instanceof StatusReply) throw e;
          const st = await fs.lstat(existing).catch(() => undefined);
          if (st?.isSymbolicLink()) throw new StatusReply(AfcStatus.PERM_DENIED); // dangling link: never create through it
          if ((e as { code?: string }).code !== 'ENOENT' || existing === root) throw e;
          missing.push(existing.slice(dirname(existing).length + 1));
          existing = dirname(existing);
        }
      }
    }
    if (mode === 'follow') {
      // An existing path: its real path (every link followed) inside the root is all that is needed — one
      // realpath instead of the parent's and then the file's. Anything else takes the checks below.
      const real = await fs.realpath(lexical).catch(() => undefined);
      if (real !== undefined) {
        if (!this.#inside(real, root)) throw new StatusReply(AfcStatus.PERM_DENIED);
        return real;
      }
    }
    const parentReal = await fs.realpath(dirname(lexical));
    if (!this.#inside(parentReal, root)) throw new StatusReply(AfcStatus.PERM_DENIED);
    const host = join(parentReal, parts[parts.length - 1]!);
    if (mode === 'nofollow') return host;
    try {
      const real = await fs.realpath(host);
      if (!this.#inside(real, root)) throw new StatusReply(AfcStatus.PERM_DENIED);
      return real;
    } catch (e) {
      if (e instanceof StatusReply) throw e;
      const st = await fs.lstat(host).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new StatusReply(AfcStatus.OBJECT_NOT_FOUND); // dangling or looping link
      if ((e as { code?: string }).code === 'ENOENT') return host; // does not exist yet (open with O_CREAT)
      throw e;
    }
  }

  /**
   * {@link resolve} with 'nofollow', synchronously: for GetFileInfo, the request a walk sends once per file. Two
   * metadata calls (realpath of the parent, then the caller's lstat) answered from the kernel's caches are
   * microseconds, while each trip through the thread pool costs a wake-up of another thread (tens to hundreds of
   * µs on a busy machine): a rerun over a 200k-item library is 200k of them, one connection at a time.
   */
  resolveNoFollowSync(afcPath: string): string {
    this.#rootReal ??= realpathSync.native(this.#root);
    const root = this.#rootReal;
    const parts = PathJail.normalise(afcPath);
    if (parts.length === 0) return root;
    const lexical = join(root, ...parts);
    const parentReal = realpathSync.native(dirname(lexical));
    if (!this.#inside(parentReal, root)) throw new StatusReply(AfcStatus.PERM_DENIED);
    return join(parentReal, parts[parts.length - 1]!);
  }
}

const IFMT: [number, string][] = [
  [C.S_IFREG, 'S_IFREG'],
  [C.S_IFDIR, 'S_IFDIR'],
  [C.S_IFLNK, 'S_IFLNK'],
  [C.S_IFBLK, 'S_IFBLK'],
  [C.S_IFCHR, 'S_IFCHR'],
  [C.S_IFIFO, 'S_IFIFO'],
  [C.S_IFSOCK, 'S_IFSOCK'],
];

/**
 * GetFileInfo dictionary of a host path (lstat), keys in the device's order; times in ns. st_birthtime
 * falls back to ctime on file systems without a birth time. `LinkTarget` for symlinks. Synchronous, like
 * {@link PathJail.resolveNoFollowSync}: metadata from the kernel's caches, no thread-pool trip per file.
 */
export function fileInfoSync(host: string): Record<string, string> {
  const st = lstatSync(host, { bigint: true });
  const info = infoOf(st);
  if (info.st_ifmt === 'S_IFLNK') info.LinkTarget = readlinkSync(host);
  return info;
}

function infoOf(st: BigIntStats): Record<string, string> {
  const fmt = Number(st.mode) & C.S_IFMT;
  const info: Record<string, string> = {
    st_size: String(st.size),
    st_blocks: String(st.blocks),
    st_nlink: String(st.nlink),
    st_ifmt: IFMT.find(([m]) => m === fmt)?.[1] ?? 'S_IFREG',
    st_mtime: String(st.mtimeNs),
    st_birthtime: String(st.birthtimeNs > 0n ? st.birthtimeNs : st.ctimeNs),
  };
  return info;
}

/**
 * FileRefLock state of one server connection: flock(2) semantics per file, always non-blocking (the AFC
 * ops are op | LOCK_NB: 5 shared, 6 exclusive, 12 unlock). A conflict answers OP_WOULD_BLOCK.
 */
export class LockTable {
  readonly #locks = new Map<string, { shared: Set<number>; exclusive: number | undefined }>();

  lock(h: number, path: string, op: number): void {
    let l = this.#locks.get(path);
    if (!l) this.#locks.set(path, (l = { shared: new Set(), exclusive: undefined }));
    const base = op & ~4; // LOCK_NB
    if (base === 8) return this.unlock(h, path);
    if (base === 1) {
      if (l.exclusive !== undefined && l.exclusive !== h) throw new StatusReply(AfcStatus.OP_WOULD_BLOCK);
      l.exclusive = undefined;
      l.shared.add(h);
    } else if (base === 2) {
      const others = [...l.shared].some((x) => x !== h) || (l.exclusive !== undefined && l.exclusive !== h);
      if (others) throw new StatusReply(AfcStatus.OP_WOULD_BLOCK);
      l.shared.delete(h);
      l.exclusive = h;
    } else throw new StatusReply(AfcStatus.INVALID_ARG);
  }

  unlock(h: number, path: string): void {
    const l = this.#locks.get(path);
    if (!l) return;
    l.shared.delete(h);
    if (l.exclusive === h) l.exclusive = undefined;
    if (l.shared.size === 0 && l.exclusive === undefined) this.#locks.delete(path);
  }

  clear(): void {
    this.#locks.clear();
  }
}
