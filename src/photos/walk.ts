/**
 * Pipelined walk of the device's /DCIM: directory listings and per-entry stats are issued with a
 * bounded number in flight, so per-item round trips overlap. Unsafe names, symlinks and items that
 * cannot be read (permission denied, vanished between listing and stat) are reported, not fatal.
 */
import { ConnectionSlots } from './connections.ts';
import type { DeviceFile } from './layout.ts';
import { Limiter } from './limit.ts';
import { unsafeNameReason } from './safe-path.ts';
import { errorCode, isConnectionLost } from '../core/errors.ts';

/** Something under /DCIM that will not be copied, and why. */
export interface Rejected {
  remote: string;
  /**
   * Stable reason code: unsafe-name | symlink | not-a-file | vanished | unreadable | too-deep | bad-entry (the
   * device's reply about this entry was malformed: ERR_AFC_BAD_REPLY, or it has no known file type).
   */
  reason: 'unsafe-name' | 'symlink' | 'not-a-file' | 'vanished' | 'unreadable' | 'too-deep' | 'bad-entry';
  detail: string;
  code?: string;
}

const MAX_DEPTH = 16;

/**
 * Lists every regular file below `root` (each request bounded by `timeoutMs`). Connection-level
 * errors (ERR_CLOSED, ERR_TIMEOUT…) are thrown so the caller can reconnect and start over; per-item errors become {@link Rejected}.
 */
export async function walkDevice(slots: ConnectionSlots, root: string, inFlight: number, timeoutMs?: number): Promise<{ files: DeviceFile[]; rejected: Rejected[] }> {
  const co = timeoutMs !== undefined ? { timeoutMs } : undefined;
  const files: DeviceFile[] = [];
  const rejected: Rejected[] = [];
  const limit = new Limiter(inFlight);
  let slot = 0;
  const conn = (): number => slot++ % slots.count;

  const perItem = (remote: string, e: unknown): void => {
    if (isConnectionLost(e) || errorCode(e) === 'ERR_PHOTOS_DISCONNECTED' || errorCode(e) === 'ERR_ABORTED') throw e;
    if (errorCode(e) === 'ERR_AFC_OBJECT_NOT_FOUND') rejected.push({ remote, reason: 'vanished', detail: 'disappeared during the walk', code: errorCode(e) });
    else if (errorCode(e) === 'ERR_AFC_BAD_REPLY') rejected.push({ remote, reason: 'bad-entry', detail: e instanceof Error ? e.message : String(e), code: errorCode(e) });
    else rejected.push({ remote, reason: 'unreadable', detail: e instanceof Error ? e.message : String(e), code: errorCode(e) });
  };

  const call = async <T>(fn: (c: Awaited<ReturnType<ConnectionSlots['get']>>) => Promise<T>): Promise<T> => {
    const i = conn();
    const c = await slots.get(i);
    try {
      return await fn(c);
    } catch (e) {
      if (isConnectionLost(e)) slots.broken(i, c);
      throw e;
    }
  };

  const visit = async (dir: string, rel: string[]): Promise<void> => {
    if (rel.length > MAX_DEPTH) {
      rejected.push({ remote: dir, reason: 'too-deep', detail: `more than ${MAX_DEPTH} folder levels` });
      return;
    }
    let names: string[];
    try {
      names = await limit.run(() => call((c) => c.readdir(dir, co)));
    } catch (e) {
      if (rel.length === 0 && errorCode(e) === 'ERR_AFC_OBJECT_NOT_FOUND') {
        rejected.push({ remote: dir, reason: 'vanished', detail: 'the device has no such folder (no photos yet?)', code: errorCode(e) });
        return;
      }
      perItem(dir, e);
      return;
    }
    names = [...new Set(names)].sort(); // a name listed twice is one file: copied once, deleted at most once
    await Promise.all(
      names.map(async (name) => {
        const remote = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const why = unsafeNameReason(name);
        if (why) {
          rejected.push({ remote, reason: 'unsafe-name', detail: why, code: 'ERR_PHOTOS_UNSAFE_PATH' });
          return;
        }
        let info;
        try {
          info = await limit.run(() => call((c) => c.stat(remote, co)));
        } catch (e) {
          perItem(remote, e);
          return;
        }
        if (info.type === 'dir') return visit(remote, [...rel, name]);
        if (info.type === 'symlink') {
          rejected.push({ remote, reason: 'symlink', detail: `symlink${info.linkTarget ? ` to ${info.linkTarget}` : ''} not followed` });
          return;
        }
        if (info.type === 'unknown') {
          rejected.push({ remote, reason: 'bad-entry', detail: 'the device sent no known file type (st_ifmt)', code: 'ERR_AFC_BAD_REPLY' });
          return;
        }
        if (info.type !== 'file') {
          rejected.push({ remote, reason: 'not-a-file', detail: `${info.type} skipped` });
          return;
        }
        const r = [...rel, name];
        files.push({
          remote, rel: r, relPath: r.join('/'), size: info.size, mtime: info.mtime, birthtime: info.birthtime,
          mtimeNs: info.mtimeNs ?? BigInt(info.mtime.getTime()) * 1_000_000n,
        });
      }),
    );
  };

  await visit(root.replace(/\/+$/, '') || '/', []);
  files.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return { files, rejected };
}
