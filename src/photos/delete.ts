/**
 * Delete stage (--delete-after-import): a device file is removed only when its manifest line is on disk
 * and its local copy re-hashes to the recorded SHA-256, and nothing is removed when any file failed.
 * Each removal is recorded (`op: deleted`) before it is reported.
 */
import { join } from 'node:path';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import { hashIfSize } from './copy.ts';
import type { DeviceFile } from './layout.ts';
import { Limiter } from './limit.ts';
import type { RunContext } from './run-context.ts';
import type { PhotoAfc } from './source.ts';

/** Removals in flight at once. */
const DELETE_IN_FLIGHT = 8;

/** Removes the verified copies among `selected` from the device. Never rejects: failures go to the summary. */
export async function deleteImported(ctx: RunContext, selected: readonly DeviceFile[]): Promise<void> {
  const { summary, manifest: m, udid } = ctx;
  if (summary.failed.length > 0) {
    summary.deleteSkipped = `${summary.failed.length} file(s) failed: nothing was removed from the device`;
    ctx.emit({ type: 'delete-skipped', reason: summary.deleteSkipped });
    return;
  }
  const limit = new Limiter(DELETE_IN_FLIGHT);
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
        const slot = i++ % ctx.slots.count;
        let conn: PhotoAfc | undefined;
        try {
          conn = await ctx.slots.get(slot);
          await conn.remove(f.remote, { signal: ctx.signal, timeoutMs: ctx.idleMs });
          await m.recordDeleted(udid, f.remote);
          summary.deleted.push(f.remote);
          ctx.emit({ type: 'deleted', remote: f.remote });
        } catch (err) {
          if (conn && isConnectionLost(err)) ctx.slots.broken(slot, conn);
          summary.failed.push({ remote: f.remote, code: errorCode(err) ?? 'ERR_INTERNAL', reason: `not removed from the device: ${err instanceof Error ? err.message : String(err)}` });
        }
      }),
    ),
  );
}
