/**
 * Delete stage (--delete-after-import). A device file is removed only when
 * 1. nothing failed in this run (else nothing at all is removed),
 * 2. its manifest line is on disk and its local copy re-hashes to the recorded SHA-256, and
 * 3. the device file is still the one that was copied: re-checked on the device right before the removal
 *    (recheck.ts: stat, and by default the SHA-256 of the device bytes). A file edited on the phone after its
 *    copy stays on the device and is reported (`keptOnDevice`, event `delete-kept`); the next run copies it.
 * Each removal is recorded (`op: deleted`) before it is reported.
 */
import { join } from 'node:path';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import { hashIfSize } from './copy.ts';
import type { DeviceFile } from './layout.ts';
import { runPool } from './limit.ts';
import { recheckDeviceFile, type DeleteCheck } from './recheck.ts';
import type { RunContext } from './run-context.ts';
import type { PhotoAfc } from './source.ts';

/** Removals (each with its re-check) in flight at once. */
const DELETE_IN_FLIGHT = 8;

/** Removes the verified copies among `selected` from the device. Never rejects: failures go to the summary. */
export async function deleteImported(ctx: RunContext, selected: readonly DeviceFile[], mode: DeleteCheck = 'hash'): Promise<void> {
  const { summary, manifest: m, udid } = ctx;
  if (summary.failed.length > 0) {
    summary.deleteSkipped = `${summary.failed.length} file(s) failed: nothing was removed from the device`;
    ctx.emit({ type: 'delete-skipped', reason: summary.deleteSkipped });
    return;
  }
  const todo = selected.filter((f) => {
    const e = m.get(udid, f.remote);
    return e && !e.stale && e.size === f.size && e.mtimeNs === f.mtimeNs.toString();
  });
  const progress = { filesDone: 0, filesTotal: todo.length, bytesDone: 0, bytesTotal: todo.reduce((a, f) => a + f.size, 0) };
  let i = 0;
  await runPool(todo, DELETE_IN_FLIGHT, async (f) => {
    if (ctx.signal?.aborted) return; // interrupted: the rest stays on the device, not counted done
    let read = 0;
    try {
      await removeOne(ctx, f, i++ % ctx.slots.count, mode, (n) => {
        read += n;
        progress.bytesDone += n;
      });
    } finally {
      progress.filesDone++;
      progress.bytesDone += f.size - read; // a file not re-read (or cut short) counts as done
      ctx.emit({ type: 'delete-progress', ...progress });
    }
  });
}

/** Checks the local copy and the device file of `f`, then removes it; every outcome goes to the summary. */
async function removeOne(ctx: RunContext, f: DeviceFile, slot: number, mode: DeleteCheck, onBytes: (n: number) => void): Promise<void> {
  const { summary, manifest: m, udid } = ctx;
  const e = m.get(udid, f.remote)!;
  let conn: PhotoAfc | undefined;
  try {
    // Re-verify the local copy against the flushed manifest line before removing the original.
    if ((await hashIfSize(join(summary.dest, ...e.local.split('/')), e.size)) !== e.sha256) {
      summary.failed.push({ remote: f.remote, code: 'ERR_PHOTOS_VERIFY', reason: 'local copy does not match the manifest; kept on the device' });
      return;
    }
    conn = await ctx.slots.get(slot);
    const kept = await recheckDeviceFile(conn, e, { mode, signal: ctx.signal, idleMs: ctx.idleMs, watch: ctx.watch, onBytes });
    if (kept) {
      // same size and mtime, other bytes: nothing but this line tells the next run to copy it again
      if (kept.reason === 'content-changed') await m.recordStale(udid, f.remote);
      summary.keptOnDevice.push(kept);
      ctx.emit({ type: 'delete-kept', ...kept });
      return;
    }
    await conn.remove(f.remote, { signal: ctx.signal, timeoutMs: ctx.idleMs });
    await m.recordDeleted(udid, f.remote);
    summary.deleted.push(f.remote);
    ctx.emit({ type: 'deleted', remote: f.remote });
  } catch (err) {
    if (conn && isConnectionLost(err)) ctx.slots.broken(slot, conn, err);
    if (ctx.signal?.aborted) return; // interrupted: not a failure, the file is still on the device
    summary.failed.push({ remote: f.remote, code: errorCode(err) ?? 'ERR_INTERNAL', reason: `not removed from the device: ${err instanceof Error ? err.message : String(err)}` });
  }
}
