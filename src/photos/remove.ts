/**
 * The question iPhoto asks after an import, as two engine calls: {@link verifyImported} (how many of the
 * imported files are verified: recorded in the manifest and their local copy re-hashes to the recorded
 * SHA-256) and {@link removeImported} (remove those from the phone). Removal goes through the same delete
 * stage as --delete-after-import (delete.ts): a device file is removed only when its manifest line is on
 * disk, its local copy verifies, and the device still holds the file that was copied (same size and
 * mtime, and by default the same bytes: recheck.ts); everything else stays on the phone and is reported. DEST is locked for the whole removal.
 */
import { promises as fsp, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode } from '../core/errors.ts';
import { ConnectionSlots } from './connections.ts';
import { hashIfSize } from './copy.ts';
import { deleteImported } from './delete.ts';
import { asDestError } from './dest.ts';
import type { BackupEvent, BackupSummary, FailedFile } from './events.ts';
import type { DeviceFile } from './layout.ts';
import { acquireLock } from './lock.ts';
import { Manifest, STATE_DIR } from './manifest.ts';
import { resolveLimits } from './limits.ts';
import type { RunContext } from './run-context.ts';
import type { PhotoDevice } from './source.ts';
import { DEFAULT_WATCH } from './watch.ts';

/** A file that is not (or no longer) eligible for removal, and why. */
export interface NotRemovable {
  remote: string;
  /**
   * 'not-recorded' (no manifest entry), 'copy-mismatch' (local copy missing or different), 'changed-on-device'
   * (size, mtime or type differ from the copy), 'content-changed' (same size and mtime, other bytes: marked
   * stale so the next import copies it), 'vanished' (no longer on the phone).
   */
  reason: 'not-recorded' | 'copy-mismatch' | 'changed-on-device' | 'content-changed' | 'vanished';
}

/** What {@link verifyImported} found. */
export interface VerifyResult {
  /** Device paths whose local copy matches the manifest (size and SHA-256). */
  verified: string[];
  notVerified: NotRemovable[];
}

/** Files hashed at once by {@link verifyImported}. */
const VERIFY_IN_FLIGHT = 4;

/**
 * Re-hashes the local copies of `remotes` (device paths of device `udid`) against DEST's manifest. Reads only
 * DEST; never touches the device.
 * @throws PhotosError ERR_PHOTOS_MANIFEST when the manifest cannot be read
 */
export async function verifyImported(dest: string, udid: string, remotes: readonly string[], signal?: AbortSignal): Promise<VerifyResult> {
  const m = await Manifest.open(dest, { readOnly: true });
  try {
    const out: VerifyResult = { verified: [], notVerified: [] };
    const queue = [...new Set(remotes)];
    const worker = async (): Promise<void> => {
      for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
        signal?.throwIfAborted();
        const e = m.get(udid, r);
        if (!e) out.notVerified.push({ remote: r, reason: 'not-recorded' });
        else if (e.stale) out.notVerified.push({ remote: r, reason: 'content-changed' });
        else if ((await hashIfSize(join(dest, ...e.local.split('/')), e.size)) === e.sha256) out.verified.push(r);
        else out.notVerified.push({ remote: r, reason: 'copy-mismatch' });
      }
    };
    await Promise.all(Array.from({ length: VERIFY_IN_FLIGHT }, worker));
    return out;
  } finally {
    await m.close();
  }
}

/** Options of {@link removeImported}. */
export interface RemoveOptions {
  dest: string;
  device: PhotoDevice;
  /** Device paths to remove (those imported into DEST). */
  remotes: readonly string[];
  signal?: AbortSignal;
  /** Per-request bound, ms (default 30000). */
  idleTimeoutMs?: number;
  /** Events of the delete stage ('deleted', 'delete-skipped', …). */
  onEvent?: (e: BackupEvent) => void;
}

/** What {@link removeImported} did. */
export interface RemoveSummary {
  udid: string;
  dest: string;
  /** Device paths removed from the phone (each recorded as deleted in the manifest first). */
  deleted: string[];
  /** Removals that were attempted and failed (the file is still on the phone). */
  failed: FailedFile[];
  /** Files left on the phone without an attempt, and why. */
  kept: NotRemovable[];
  elapsedMs: number;
}

/**
 * Removes the verified copies among `remotes` from the device, through the delete stage of the engine.
 * Never removes a file that is not recorded, whose copy does not verify, or that changed on the device.
 * @throws PhotosError ERR_PHOTOS_BUSY (a backup is writing to DEST), ERR_PHOTOS_MANIFEST; DestError when the
 *   manifest cannot be written for a DEST reason (full, read-only, no permission)
 */
export async function removeImported(o: RemoveOptions): Promise<RemoveSummary> {
  const t0 = performance.now();
  const dest = realpathSync(o.dest);
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const emit = o.onEvent ?? (() => undefined);
  const out: RemoveSummary = { udid: o.device.udid, dest, deleted: [], failed: [], kept: [], elapsedMs: 0 };
  const stateDir = join(dest, STATE_DIR);
  await fsp.mkdir(stateDir, { recursive: true });
  const release = await acquireLock(stateDir);
  const slots = new ConnectionSlots(o.device, 1, 3, { signal: o.signal, timeoutMs: idleMs });
  let manifest: Manifest | undefined;
  try {
    manifest = await Manifest.open(dest);
    const files: DeviceFile[] = [];
    for (const remote of new Set(o.remotes)) {
      const e = manifest.get(o.device.udid, remote);
      if (!e || e.stale) {
        out.kept.push({ remote, reason: e ? 'content-changed' : 'not-recorded' });
        continue;
      }
      let info;
      try {
        info = await (await slots.get(0)).stat(remote, { signal: o.signal, timeoutMs: idleMs });
      } catch (err) {
        if (errorCode(err) === 'ERR_AFC_OBJECT_NOT_FOUND') out.kept.push({ remote, reason: 'vanished' });
        else out.failed.push({ remote, code: errorCode(err) ?? 'ERR_INTERNAL', reason: err instanceof Error ? err.message : String(err) });
        continue;
      }
      const mtimeNs = info.mtimeNs ?? BigInt(info.mtime.getTime()) * 1_000_000n;
      if (info.type !== 'file' || info.size !== e.size || mtimeNs.toString() !== e.mtimeNs) {
        out.kept.push({ remote, reason: 'changed-on-device' });
        continue;
      }
      const rel = remote.split('/').filter((x) => x !== '');
      files.push({ remote, rel, relPath: rel.join('/'), size: info.size, mtime: info.mtime, mtimeNs, birthtime: info.birthtime });
    }
    if (out.failed.length > 0) return out; // as the delete stage: nothing is removed when anything failed
    const summary = emptySummary(o.device.udid, dest);
    const ctx: RunContext = {
      dest, partsDir: join(stateDir, 'parts'), udid: o.device.udid, deviceDir: [], claims: new Set(), layout: 'device', idleMs, watch: { ...DEFAULT_WATCH, idleMs }, limits: resolveLimits(undefined),
      signal: o.signal, slots, manifest, summary, emit,
      stopForDest: () => undefined, // only the copy stage calls it; a manifest write that fails here rejects below
      progress: { filesDone: 0, filesTotal: files.length, bytesDone: 0, bytesTotal: 0 },
    };
    await deleteImported(ctx, files);
    out.deleted = summary.deleted;
    for (const k of summary.keptOnDevice) out.kept.push({ remote: k.remote, reason: k.reason });
    for (const f of summary.failed) {
      if (f.code === 'ERR_PHOTOS_VERIFY') out.kept.push({ remote: f.remote, reason: 'copy-mismatch' });
      else out.failed.push(f);
    }
    return out;
  } catch (e) {
    throw (await asDestError(e, dest)) ?? e;
  } finally {
    slots.closeAll();
    await manifest?.close().catch(() => undefined);
    await release();
    out.elapsedMs = Math.round(performance.now() - t0);
  }
}

function emptySummary(udid: string, dest: string): BackupSummary {
  return {
    status: 'complete', udid, dest, dryRun: false, found: 0, selected: 0, toCopy: 0, toCopyBytes: 0, copied: 0, copiedBytes: 0,
    skipped: 0, failed: [], rejected: [], dateFallbacks: [], repaired: [], deleted: [], keptOnDevice: [], wouldCopy: [], wouldCopyBytes: 0,
    elapsedMs: 0,
  };
}
