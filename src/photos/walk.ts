/**
 * Pipelined walk of the device's /DCIM. One scheduler keeps at most `inFlight` requests (listings and
 * per-entry stats) outstanding over the connection slots, so per-item round trips overlap; stats of folders
 * already listed go first, so the work queued at any time stays small (the names of the folders being
 * stat'ed, the folders still to list). Everything it holds is bounded by the caps of limits.ts.
 *
 * Isolation: a problem of one entry (unsafe name, symlink, a malformed reply ERR_AFC_BAD_REPLY, permission
 * denied, vanished between listing and stat) costs that entry, reported as {@link Rejected}; a folder over
 * `maxFolderEntries` is skipped and reported; `maxEntries` / `maxFolders` stop the walk (the files found so far
 * are kept, the stop is reported). A dropped connection retries the request on a fresh one (ConnectionSlots
 * bounds the reconnects); only when the device is gone does the walk reject (ERR_PHOTOS_DISCONNECTED).
 *
 * The result keeps the full file list (the copy stage needs it for totals and Live Photo grouping) in a
 * compact form: one small record per file pointing at a shared folder record, about 150 bytes each.
 */
import { errorCode, isConnectionLost } from '../core/errors.ts';
import { Fifo } from '../core/fifo.ts';
import type { ConnectionSlots } from './connections.ts';
import type { DeviceFile } from './layout.ts';
import { count, limitError, type BackupLimits } from './limits.ts';
import { unsafeNameReason } from './safe-path.ts';
import type { PhotoAfc, PhotoFileInfo } from './source.ts';

/** Something under /DCIM that will not be copied, and why. */
export interface Rejected {
  remote: string;
  /**
   * Stable reason code: unsafe-name | symlink | not-a-file | vanished | unreadable | too-deep | bad-entry (the
   * device's reply about this entry was malformed: ERR_AFC_BAD_REPLY, or it has no known file type) | limit (a
   * cap of limits.ts: a folder too big to list, or the walk stopped; code ERR_PHOTOS_LIMIT).
   */
  reason: 'unsafe-name' | 'symlink' | 'not-a-file' | 'vanished' | 'unreadable' | 'too-deep' | 'bad-entry' | 'limit';
  detail: string;
  code?: string;
}

/** A folder found on the device (shared by the records of its files). */
export interface WalkedFolder {
  /** Absolute device path without a trailing slash ('/DCIM/100APPLE'). */
  readonly remote: string;
  /** Components below the walk root ([] for the root itself). */
  readonly rel: readonly string[];
}

const NS_PER_S = 1_000_000_000n;

/**
 * A regular file as the walk keeps it: a compact record; the DeviceFile strings are derived on access. The
 * times are held as small integers (whole seconds + the rest in ns or ms), not as a bigint and a boxed double
 * per file: a library walk keeps 100k+ of these, and each boxed value is another heap object to promote.
 */
export class WalkedFile implements DeviceFile {
  readonly folder: WalkedFolder;
  readonly name: string;
  readonly size: number;
  readonly #mtimeS: number;
  readonly #mtimeNsRest: number;
  readonly #birthS: number;
  readonly #birthMsRest: number;

  constructor(folder: WalkedFolder, name: string, size: number, mtimeNs: bigint, birthMs: number) {
    this.folder = folder;
    this.name = name;
    this.size = size;
    const s = mtimeNs / NS_PER_S;
    const rest = mtimeNs - s * NS_PER_S; // same sign as mtimeNs (a time before 1970)
    this.#mtimeS = Number(s);
    this.#mtimeNsRest = Number(rest);
    const bs = Math.trunc(birthMs / 1000);
    this.#birthS = bs;
    this.#birthMsRest = birthMs - bs * 1000;
  }
  get remote(): string {
    return this.folder.remote === '/' ? `/${this.name}` : `${this.folder.remote}/${this.name}`;
  }
  get rel(): string[] {
    return [...this.folder.rel, this.name];
  }
  get relPath(): string {
    return this.folder.rel.length === 0 ? this.name : `${this.folder.rel.join('/')}/${this.name}`;
  }
  /** Exact device mtime in ns. */
  get mtimeNs(): bigint {
    return BigInt(this.#mtimeS) * NS_PER_S + BigInt(this.#mtimeNsRest);
  }
  get mtime(): Date {
    return new Date(this.#mtimeS * 1000 + Math.trunc(this.#mtimeNsRest / 1_000_000));
  }
  get birthtime(): Date {
    return new Date(this.#birthS * 1000 + this.#birthMsRest);
  }
}

/** What the walk found. */
export interface WalkResult {
  /** Regular files, grouped by folder (folders in path order), by name within a folder. */
  files: WalkedFile[];
  rejected: Rejected[];
  /** True when a cap stopped the walk before it saw everything. */
  truncated: boolean;
}

/** Options of {@link walkDevice}. */
export interface WalkOptions {
  /** Requests (listings + stats) in flight at once. */
  inFlight: number;
  /** Per-request bound, ms. */
  timeoutMs?: number;
  limits: BackupLimits;
  signal?: AbortSignal;
}

interface Listed {
  folder: WalkedFolder;
  depth: number;
  names: string[];
  next: number;
}

interface ToList {
  folder: WalkedFolder;
  depth: number;
}

const byName = (a: WalkedFile, b: WalkedFile): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Lists every regular file below `root`.
 * @throws PhotosError ERR_PHOTOS_DISCONNECTED when the device is gone (reconnect budget spent); ERR_ABORTED
 */
export async function walkDevice(slots: ConnectionSlots, root: string, o: WalkOptions): Promise<WalkResult> {
  const { limits } = o;
  const co = { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.signal ? { signal: o.signal } : {}) };
  const rejected: Rejected[] = [];
  const byFolder = new Map<WalkedFolder, WalkedFile[]>();
  const toList = new Fifo<ToList>();
  const toStat = new Fifo<Listed>();
  let entries = 0;
  let folders = 0;
  let truncated = false;
  let active = 0;
  let slot = 0;
  let failure: unknown;

  const stop = (remote: string, limit: 'maxEntries' | 'maxFolders', what: string): void => {
    if (truncated) return;
    truncated = true;
    const e = limitError(limit, limits[limit], what);
    rejected.push({ remote, reason: 'limit', detail: `${e.message}: the walk stopped here; the files found so far are backed up`, code: e.code });
  };

  /** One request on the next slot; a dropped connection is retried on a fresh one (the slots bound this). */
  const call = async <T>(fn: (c: PhotoAfc) => Promise<T>): Promise<T> => {
    for (;;) {
      const i = slot++ % slots.count;
      const c = await slots.get(i);
      try {
        const r = await fn(c);
        slots.ok();
        return r;
      } catch (e) {
        if (!isConnectionLost(e) || o.signal?.aborted) throw e;
        slots.broken(i, c, e);
      }
    }
  };

  const perItem = (remote: string, e: unknown): void => {
    const code = errorCode(e);
    if (code === 'ERR_PHOTOS_DISCONNECTED' || code === 'ERR_ABORTED' || isConnectionLost(e)) throw e;
    const detail = e instanceof Error ? e.message : String(e);
    if (code === 'ERR_AFC_OBJECT_NOT_FOUND') rejected.push({ remote, reason: 'vanished', detail: 'disappeared during the walk', code });
    else if (code === 'ERR_AFC_BAD_REPLY') rejected.push({ remote, reason: 'bad-entry', detail, code });
    else rejected.push({ remote, reason: 'unreadable', detail, ...(code ? { code } : {}) });
  };

  const list = async (t: ToList): Promise<void> => {
    const dir = t.folder.remote;
    let names: string[];
    try {
      names = await call((c) => c.readdir(dir, { ...co, maxEntries: limits.maxFolderEntries }));
    } catch (e) {
      if (errorCode(e) === 'ERR_AFC_TOO_MANY_ENTRIES') {
        const le = limitError('maxFolderEntries', limits.maxFolderEntries, `the folder lists more than ${count(limits.maxFolderEntries)} entries`);
        rejected.push({ remote: dir, reason: 'limit', detail: `${le.message}; it was skipped`, code: le.code });
        return;
      }
      if (t.depth === 0 && errorCode(e) === 'ERR_AFC_OBJECT_NOT_FOUND') {
        rejected.push({ remote: dir, reason: 'vanished', detail: 'the device has no such folder (no photos yet?)', code: errorCode(e) });
        return;
      }
      return perItem(dir, e);
    }
    // a name listed twice is one file: copied once, deleted at most once
    names = [...new Set(names)].sort();
    const kept: string[] = [];
    for (const name of names) {
      const remote = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const why = unsafeNameReason(name);
      if (why) rejected.push({ remote, reason: 'unsafe-name', detail: why, code: 'ERR_PHOTOS_UNSAFE_PATH' });
      else kept.push(name);
    }
    if (entries + kept.length > limits.maxEntries) {
      kept.length = Math.max(0, limits.maxEntries - entries);
      stop(dir, 'maxEntries', `the device lists more than ${count(limits.maxEntries)} entries`);
    }
    entries += kept.length;
    if (kept.length > 0) toStat.push({ folder: t.folder, depth: t.depth, names: kept, next: 0 });
  };

  const statOne = async (l: Listed, name: string): Promise<void> => {
    const remote = l.folder.remote === '/' ? `/${name}` : `${l.folder.remote}/${name}`;
    let info: PhotoFileInfo;
    try {
      info = await call((c) => c.stat(remote, co));
    } catch (e) {
      return perItem(remote, e);
    }
    switch (info.type) {
      case 'file': {
        const f = new WalkedFile(l.folder, name, info.size, info.mtimeNs ?? BigInt(info.mtime.getTime()) * 1_000_000n, info.birthtime.getTime());
        const list = byFolder.get(l.folder);
        if (list) list.push(f);
        else byFolder.set(l.folder, [f]);
        return;
      }
      case 'dir':
        if (l.depth + 1 > limits.maxDepth) {
          rejected.push({ remote, reason: 'too-deep', detail: `more than ${limits.maxDepth} folder levels` });
          return;
        }
        if (++folders > limits.maxFolders) return stop(remote, 'maxFolders', `the device has more than ${count(limits.maxFolders)} folders`);
        toList.push({ folder: { remote, rel: [...l.folder.rel, name] }, depth: l.depth + 1 });
        return;
      case 'symlink':
        rejected.push({ remote, reason: 'symlink', detail: `symlink${info.linkTarget ? ` to ${info.linkTarget}` : ''} not followed` });
        return;
      case 'unknown':
        rejected.push({ remote, reason: 'bad-entry', detail: 'the device sent no known file type (st_ifmt)', code: 'ERR_AFC_BAD_REPLY' });
        return;
      default:
        rejected.push({ remote, reason: 'not-a-file', detail: `${info.type} skipped` });
    }
  };

  /** The next request to issue: a stat of a listed folder first (keeps the queues short), else a listing. */
  const nextTask = (): (() => Promise<void>) | undefined => {
    if (truncated) return undefined;
    const l = toStat.peek();
    if (l) {
      const name = l.names[l.next++]!;
      if (l.next >= l.names.length) toStat.shift();
      return () => statOne(l, name);
    }
    const t = toList.shift();
    return t ? () => list(t) : undefined;
  };

  const rootPath = root.replace(/\/+$/, '') || '/';
  toList.push({ folder: { remote: rootPath, rel: [] }, depth: 0 });
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (failure !== undefined) {
        if (active === 0) reject(failure);
        return;
      }
      for (let task = active < o.inFlight ? nextTask() : undefined; task; task = active < o.inFlight ? nextTask() : undefined) {
        active++;
        task().then(
          () => {
            active--;
            pump();
          },
          (e: unknown) => {
            active--;
            failure ??= e;
            pump();
          },
        );
      }
      if (active === 0) resolve();
    };
    pump();
  });

  const all = [...byFolder.entries()].sort(([a], [b]) => (a.remote < b.remote ? -1 : a.remote > b.remote ? 1 : 0));
  const files: WalkedFile[] = [];
  for (const [, list] of all) {
    list.sort(byName);
    for (const f of list) files.push(f);
  }
  return { files, rejected, truncated };
}
