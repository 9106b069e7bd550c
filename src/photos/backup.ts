/**
 * The photo backup engine: walk /DCIM (pipelined), decide per file against the manifest, copy
 * (several files in flight over several AFC connections), verify, record, optionally delete.
 *
 * Crash safety: data goes to DEST/.iosdevice/parts/*.part (fsync'ed), is linked into place (never
 * overwriting), the folder is fsync'ed, and only then is the manifest line appended (fdatasync).
 * A crash at any point leaves either nothing, a stale .part (removed by the next run), or a placed
 * file without manifest line (the next run finds byte-identical content there and records it: no
 * duplicate). Deletion from the device (--delete-after-import) happens only for files whose
 * manifest line is on disk and whose local copy is verified, and only when nothing failed.
 */
import { promises as fsp, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfAborted } from '../core/abort.ts';
import { ConnectionSlots } from './connections.ts';
import { hashIfSize, place, receive, withLocalReader } from './copy.ts';
import { readCaptureDate } from './exif.ts';
import { groupFiles, localDateString, fileDate, mayHaveExif, suffixOf, targetDirParts, type DeviceFile, type FileGroup, type Layout } from './layout.ts';
import { Limiter } from './limit.ts';
import { ensureSafeDir } from './safe-path.ts';
import { acquireLock } from './lock.ts';
import { Manifest, STATE_DIR, type ManifestEntry } from './manifest.ts';
import { isSelected, type Selection } from './selection.ts';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import type { PhotoDevice } from './source.ts';
import { walkDevice, type Rejected } from './walk.ts';
import type { BackupEvent, BackupSummary, FailedFile } from './events.ts';

export type { BackupEvent, BackupSummary, FailedFile } from './events.ts';

export interface BackupOptions {
  /** Destination folder (created if missing). */
  dest: string;
  device: PhotoDevice;
  /** Device folder to back up. Default '/DCIM'. */
  root?: string;
  selection?: Selection;
  /** 'device' (default) keeps device folders; 'date' = --split-by-date. */
  layout?: Layout;
  /** List what would be copied; touch neither DEST nor the device. */
  dryRun?: boolean;
  /** Remove verified files from the device afterwards (never in dry-run, never when anything failed). */
  deleteAfterImport?: boolean;
  /** AFC connections. Default 2. */
  connections?: number;
  /** Files in flight per connection. Default 4. */
  filesPerConnection?: number;
  /** Listing/stat requests in flight during the walk. Default 32. */
  walkInFlight?: number;
  /** Reconnects allowed per run after a dropped connection. Default 3. */
  maxReconnects?: number;
  /**
   * A request (stat, listing, remove) or a file read that makes no progress for this long fails with
   * ERR_TIMEOUT and its connection is replaced (a stalled link must not hang the backup). Default 30000 ms.
   */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: BackupEvent) => void;
}

interface GroupState {
  captured?: string;
  suffix?: number;
}

/**
 * Runs one backup. Per-file problems never reject: they are in the summary (`failed`, `rejected`).
 * @throws PhotosError ERR_PHOTOS_BUSY (DEST locked), ERR_PHOTOS_MANIFEST, ERR_PHOTOS_DISCONNECTED
 *   (the walk could not complete); ERR_ABORTED when the signal fires
 */
export async function runBackup(o: BackupOptions): Promise<BackupSummary> {
  const t0 = performance.now();
  const emit = o.onEvent ?? (() => undefined);
  const layout = o.layout ?? 'device';
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const udid = o.device.udid;
  if (!o.dryRun) await fsp.mkdir(o.dest, { recursive: true });
  const dest = o.dryRun ? o.dest : realpathSync(o.dest);
  const stateDir = join(dest, STATE_DIR);
  const partsDir = join(stateDir, 'parts');
  let release: (() => Promise<void>) | undefined;
  let manifest: Manifest | undefined;
  const slots = new ConnectionSlots(o.device, o.connections ?? 2, o.maxReconnects ?? 3, { signal: o.signal, timeoutMs: idleMs });
  slots.onReconnect = (slot) => emit({ type: 'reconnect', slot });
  const summary: BackupSummary = {
    udid, dest, dryRun: !!o.dryRun, found: 0, selected: 0, copied: 0, copiedBytes: 0, skipped: 0,
    failed: [], rejected: [], deleted: [], wouldCopy: [], wouldCopyBytes: 0, elapsedMs: 0,
  };
  try {
    if (!o.dryRun) {
      await ensureSafeDir(dest, [STATE_DIR]); // a symlink planted there is refused
      release = await acquireLock(stateDir);
      await fsp.rm(partsDir, { recursive: true, force: true }); // stale .part files of an interrupted run
      await ensureSafeDir(dest, [STATE_DIR, 'parts']);
    }
    manifest = await Manifest.open(dest, { readOnly: !!o.dryRun });

    // 1. Walk (restarted after a dropped connection, within the reconnect budget).
    let walked: { files: DeviceFile[]; rejected: Rejected[] };
    for (;;) {
      throwIfAborted('photo backup', o.signal);
      try {
        walked = await walkDevice(slots, o.root ?? '/DCIM', o.walkInFlight ?? 32, idleMs);
        break;
      } catch (e) {
        if (!isConnectionLost(e)) throw e;
      }
    }
    summary.found = walked.files.length;
    summary.rejected = walked.rejected;
    for (const r of walked.rejected) emit({ type: 'rejected', ...r });

    // 2. Plan.
    const selected = walked.files.filter((f) => isSelected(o.selection, f));
    summary.selected = selected.length;
    const todo = new Set<DeviceFile>();
    for (const f of selected) {
      if (!(await isUpToDate(dest, manifest.get(udid, f.remote), f))) todo.add(f);
    }
    const todoBytes = [...todo].reduce((s, f) => s + f.size, 0);
    emit({ type: 'plan', found: summary.found, selected: selected.length, toCopy: todo.size, toCopyBytes: todoBytes });
    if (o.dryRun) {
      for (const f of todo) {
        summary.wouldCopy.push({ remote: f.remote, size: f.size });
        emit({ type: 'file', status: 'would-copy', remote: f.remote, bytes: f.size });
      }
      summary.wouldCopyBytes = todoBytes;
      summary.skipped = selected.length - todo.size;
      return summary;
    }

    // 3. Copy, group by group, several groups in flight.
    const progress = { filesDone: 0, filesTotal: todo.size, bytesDone: 0, bytesTotal: todoBytes };
    const tick = (): void => emit({ type: 'progress', ...progress });
    const groups = groupFiles(selected);
    const limit = new Limiter(slots.count * (o.filesPerConnection ?? 4));
    let next = 0;
    const m = manifest;
    await Promise.all(
      groups.map((g) =>
        limit.run(async () => {
          const slot = next++ % slots.count;
          const st: GroupState = initGroupState(g, m, udid);
          for (const f of g.members) {
            if (!todo.has(f)) {
              summary.skipped++;
              emit({ type: 'file', status: 'skipped', remote: f.remote, local: m.get(udid, f.remote)?.local, bytes: f.size });
              continue;
            }
            const fail = (e: unknown): void => {
              const ff: FailedFile = { remote: f.remote, code: errorCode(e) ?? 'ERR_INTERNAL', reason: e instanceof Error ? e.message : String(e) };
              summary.failed.push(ff);
              progress.filesDone++;
              emit({ type: 'file', status: 'failed', remote: f.remote, bytes: f.size, code: ff.code, reason: ff.reason });
              tick();
            };
            if (o.signal?.aborted || slots.dead) {
              fail(slots.dead ?? new PhotosAbort());
              continue;
            }
            for (;;) {
              let partial = 0;
              let conn;
              try {
                conn = await slots.get(slot);
                const r = await receive(conn, f, partsDir, (n) => {
                  partial += n;
                  progress.bytesDone += n;
                }, o.signal, idleMs);
                if (layout === 'date' && st.captured === undefined) st.captured = await groupDate(dest, g, f, r.part, m, udid);
                const dirParts = targetDirParts(layout, f, st.captured);
                const placed = await place(dest, dirParts, f.rel[f.rel.length - 1]!, r, st.suffix ?? 0);
                st.suffix ??= placed.suffix;
                await m.record({
                  udid, remote: f.remote, size: f.size, mtimeNs: f.mtimeNs.toString(), sha256: r.sha256, local: placed.local,
                  ...(f === g.members[0] && st.captured ? { captured: st.captured } : {}),
                });
                summary.copied++;
                summary.copiedBytes += f.size;
                progress.filesDone++;
                emit({ type: 'file', status: 'copied', remote: f.remote, local: placed.local, bytes: f.size });
                tick();
                break;
              } catch (e) {
                progress.bytesDone -= partial;
                if (conn && isConnectionLost(e)) slots.broken(slot, conn);
                // A dropped connection: retry on a fresh one (the run's reconnect budget bounds this).
                if (isConnectionLost(e) && !o.signal?.aborted) continue;
                fail(e);
                break;
              }
            }
          }
        }),
      ),
    );
    throwIfAborted('photo backup', o.signal);

    // 4. Delete from the device what is verified here.
    if (o.deleteAfterImport) await deleteImported(o, slots, m, selected, summary, emit);
    return summary;
  } finally {
    slots.closeAll();
    await manifest?.close().catch(() => undefined);
    await release?.();
    summary.elapsedMs = Math.round(performance.now() - t0);
  }
}

class PhotosAbort extends Error {
  readonly code = 'ERR_ABORTED';
  constructor() {
    super('the backup was interrupted');
  }
}

/** Same size and mtime as recorded, and the local copy still there with that size. */
async function isUpToDate(dest: string, e: ManifestEntry | undefined, f: DeviceFile): Promise<boolean> {
  if (!e || e.size !== f.size || e.mtimeNs !== f.mtimeNs.toString()) return false;
  try {
    const st = await fsp.lstat(join(dest, ...e.local.split('/')));
    return st.isFile() && st.size === e.size;
  } catch {
    return false;
  }
}

function initGroupState(g: FileGroup, m: Manifest, udid: string): GroupState {
  const st: GroupState = {};
  for (const f of g.members) {
    const e = m.get(udid, f.remote);
    if (!e) continue;
    if (f === g.members[0] && e.captured) st.captured = e.captured;
    const s = suffixOf(f.rel[f.rel.length - 1]!, e.local.slice(e.local.lastIndexOf('/') + 1));
    if (s !== undefined && st.suffix === undefined) st.suffix = s;
  }
  return st;
}

/** The capture date of a group: EXIF of its primary (from the file just received or the local copy), else its birth time. */
async function groupDate(dest: string, g: FileGroup, f: DeviceFile, part: string, m: Manifest, udid: string): Promise<string> {
  const primary = g.members[0]!;
  let path: string | undefined;
  if (f === primary) path = part;
  else {
    const e = m.get(udid, primary.remote);
    if (e) path = join(dest, ...e.local.split('/'));
  }
  if (path && mayHaveExif(primary.relPath)) {
    const size = f === primary ? f.size : primary.size;
    const d = await withLocalReader(path, (r) => readCaptureDate(r, size)).catch(() => undefined);
    if (d) return d;
  }
  return localDateString(fileDate(primary));
}

async function deleteImported(
  o: BackupOptions, slots: ConnectionSlots, m: Manifest, selected: DeviceFile[], summary: BackupSummary, emit: (e: BackupEvent) => void,
): Promise<void> {
  if (summary.failed.length > 0) {
    summary.deleteSkipped = `${summary.failed.length} file(s) failed: nothing was removed from the device`;
    emit({ type: 'delete-skipped', reason: summary.deleteSkipped });
    return;
  }
  const udid = o.device.udid;
  const limit = new Limiter(8);
  let i = 0;
  await Promise.all(
    selected.map((f) =>
      limit.run(async () => {
        const e = m.get(udid, f.remote);
        if (!e || e.size !== f.size || e.mtimeNs !== f.mtimeNs.toString()) return;
        // Re-verify the local copy against the flushed manifest line before removing the original.
        if ((await hashIfSize(join(summary.dest, ...e.local.split('/')), e.size)) !== e.sha256) {
          summary.failed.push({ remote: f.remote, code: 'ERR_PHOTOS_VERIFY', reason: 'local copy does not match the manifest; kept on the device' });
          return;
        }
        const slot = i++ % slots.count;
        let conn;
        try {
          conn = await slots.get(slot);
          await conn.remove(f.remote, { signal: o.signal, timeoutMs: o.idleTimeoutMs ?? 30_000 });
          await m.recordDeleted(udid, f.remote);
          summary.deleted.push(f.remote);
          emit({ type: 'deleted', remote: f.remote });
        } catch (err) {
          if (conn && isConnectionLost(err)) slots.broken(slot, conn);
          summary.failed.push({ remote: f.remote, code: errorCode(err) ?? 'ERR_INTERNAL', reason: `not removed from the device: ${err instanceof Error ? err.message : String(err)}` });
        }
      }),
    ),
  );
}
