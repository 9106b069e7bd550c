/**
 * The photo backup engine, as a pipeline of stages, each in its own module:
 *
 *   prepare DEST (lock, clear stale parts) → walk (walk.ts) → select (selection.ts) → plan (plan.ts)
 *   → copy group by group: receive → verify → place → record (copy-group.ts, copy.ts, manifest.ts)
 *   → delete what is verified (delete.ts, --delete-after-import only)
 *
 * Crash safety: data goes to DEST/.iosdevice/parts/*.part (fsync'ed), is linked into place (never
 * overwriting), the folder is fsync'ed, and only then is the manifest line appended (fdatasync).
 * A crash at any point leaves either nothing, a stale .part (removed by the next run), or a placed
 * file without manifest line (the next run finds byte-identical content there and records it: no
 * duplicate). Deletion from the device (--delete-after-import) happens only for files whose
 * manifest line is on disk and whose local copy is verified, and only when nothing failed.
 *
 * DEST problems (dest.ts): DEST is checked before anything is written (a folder, writable, not full); a write
 * that fails for a DEST reason mid-run (ENOSPC, EDQUOT, EROFS, EACCES/EPERM) stops the whole run, like an
 * abort (the files in flight are neither failed nor done), and the run rejects with one DestError. On every
 * exit path the .part files of the run are removed and the lock is released.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { throwIfAborted } from '../core/abort.ts';
import { asDestError, isDestProblem, openDest } from './dest.ts';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import { ConnectionSlots } from './connections.ts';
import { convertHeicStage, type ConvertTarget, type HeicOriginal } from './convert.ts';
import { copyGroup } from './copy-group.ts';
import { resolveDeviceFolder } from './device-folder.ts';
import { libraryDeleteStage, libraryInventoryStage, librarySelect, librarySidecarsStage } from './library/stage.ts';
import type { BackupEvent, BackupStatus, BackupSummary } from './events.ts';
import { checkEventName, groupFiles, type CustomLayout, type DeviceFile, type FileGroup, type Layout } from './layout.ts';
import { AdaptiveWindow, runWindowed } from '../core/window.ts';
import { resolveLimits, type BackupLimits } from './limits.ts';
import { acquireLock } from './lock.ts';
import { Manifest, STATE_DIR } from './manifest.ts';
import type { DeleteCheck } from './recheck.ts';
import { dryRunReport, planCopies } from './plan.ts';
import type { RunContext } from './run-context.ts';
import { ensureSafeDir } from './safe-path.ts';
import { isSelected, type Selection } from './selection.ts';
import type { PhotoDevice } from './source.ts';
import { walkDevice, type WalkedFile } from './walk.ts';
import { DEFAULT_WATCH, type WatchOptions } from './watch.ts';

export type { BackupEvent, BackupStatus, BackupSummary, FailedFile } from './events.ts';

export interface BackupOptions {
  /** Destination folder (created if missing). */
  dest: string;
  device: PhotoDevice;
  /** Device folder to back up. Default '/DCIM'. */
  root?: string;
  selection?: Selection;
  /** 'device' (default) keeps device folders; 'date' = --split-by-date; or your own {@link CustomLayout}. */
  layout?: Layout | CustomLayout;
  /** Event name (`--event`): files go under DEST/<event>/… in either layout. Checked with checkEventName. */
  event?: string;
  /** List what would be copied; touch neither DEST nor the device. */
  dryRun?: boolean;
  /** Remove verified files from the device afterwards (never in dry-run, never when anything failed). */
  deleteAfterImport?: boolean;
  /**
   * With deleteAfterImport on a phone that has a Photos library: delete over AFC anyway, although the Photos app
   * then shows the deleted photos as broken (library/safe-delete.ts). Without it nothing is removed there and a
   * safe-to-delete report is written instead.
   */
  deleteEvenIfPhotosBreaks?: boolean;
  /**
   * The whole photo library (library/inventory.ts): /DCIM plus iCloud originals, edits (copied as IMG_E…) and
   * shared albums, described by Photos.sqlite; cloud-only assets listed. The CLI's default (`--dcim-only` turns it
   * off); off by default here, and whenever `root` is given.
   */
  library?: boolean;
  /** Library mode: only the assets of this album (title, or "Folder / Title"). */
  album?: string;
  /** Library mode: write XMP sidecars, album sidecars and library.json (library/sidecars.ts). */
  albums?: boolean;
  /**
   * Write a JPEG beside each HEIC backed up (convert.ts): IMG_1234.JPG next to IMG_1234.HEIC, with the HEIC's
   * Exif, written and recorded like every file; a rerun does not convert again.
   */
  convertHeic?: ConvertTarget;
  /** With convertHeic: 'keep' the HEIC (default) or 'drop' it from DEST once its JPEG is written (the device copy is never removed). */
  heicOriginal?: HeicOriginal;
  /**
   * How each device file is re-checked right before its removal (recheck.ts): 'hash' (default) re-reads it and
   * compares its SHA-256 with the copy; 'stat' trusts a matching size + ns mtime for files over 1 MiB.
   */
  deleteCheck?: DeleteCheck;
  /** AFC connections. Default 2. */
  connections?: number;
  /** Files in flight per connection. Default 4. */
  filesPerConnection?: number;
  /** Listing/stat requests in flight during the walk. Default 32. */
  walkInFlight?: number;
  /** Reconnects allowed per run after a dropped connection. Default 3. */
  maxReconnects?: number;
  /**
   * A request (stat, listing, remove) that gets no answer for this long, or a transfer that delivers no byte for
   * this long, fails with ERR_TIMEOUT and its connection is replaced once; a second timeout with no successful
   * request in between ends the run ('device-lost', "the device stopped answering: … timed out"). Default
   * 15000 ms, so a device that stops answering is given up on after about 30 s.
   */
  idleTimeoutMs?: number;
  /**
   * A transfer slower than this over `rateWindowMs` of waiting for the device fails with ERR_TIMEOUT naming the
   * file and the rate (a trickling device), bytes/s; 0 disables. Default 65536 (64 KiB/s; USB 2 gives 20–40 MB/s).
   */
  minBytesPerSec?: number;
  /** Window of the rate check, ms. Default 15000. */
  rateWindowMs?: number;
  /** Resource caps (limits.ts); each default is set from what real libraries need, with a wide margin. */
  limits?: Partial<BackupLimits>;
  signal?: AbortSignal;
  onEvent?: (e: BackupEvent) => void;
}

/**
 * Runs one backup. Once DEST is locked the run resolves with a summary whose `status` says how it ended
 * ('complete' | 'partial' | 'interrupted' | 'device-lost', see {@link BackupStatus}); per-file problems are
 * in `failed` and `rejected`. An abort (the signal) ends in 'interrupted' with the counts so far (files not
 * copied yet are not reported as failed); a device that is gone, or cannot be reconnected within the budget,
 * ends in 'device-lost'.
 * @throws DestError ERR_PHOTOS_DEST_READONLY, ERR_PHOTOS_DEST_NOT_DIR, ERR_PHOTOS_DEST_DENIED, ERR_PHOTOS_DEST_FULL
 *   (DEST unusable, at the start or mid-run: the run stops there; what was copied is kept and recorded);
 *   PhotosError ERR_PHOTOS_BUSY (DEST locked by another run), ERR_PHOTOS_MANIFEST, ERR_PHOTOS_UNSAFE_PATH
 *   (DEST/.iosdevice is a symlink) — the run could not start or DEST became unusable
 */
export async function runBackup(o: BackupOptions): Promise<BackupSummary> {
  const t0 = performance.now();
  const emit = o.onEvent ?? (() => undefined);
  const idleMs = o.idleTimeoutMs ?? DEFAULT_WATCH.idleMs;
  const watch: WatchOptions = { idleMs, minBytesPerSec: o.minBytesPerSec ?? DEFAULT_WATCH.minBytesPerSec, windowMs: o.rateWindowMs ?? DEFAULT_WATCH.windowMs };
  const limits = resolveLimits(o.limits);
  const event = o.event === undefined ? undefined : checkEventName(o.event);
  const dest = o.dryRun ? o.dest : await openDest(o.dest);
  const stateDir = join(dest, STATE_DIR);
  // aborted by the caller's signal, or by the run itself when DEST becomes unusable (ctx.stopForDest)
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const slots = new ConnectionSlots(o.device, o.connections ?? 2, o.maxReconnects ?? 3, { signal, timeoutMs: idleMs });
  slots.onReconnect = (slot) => emit({ type: 'reconnect', slot });
  const summary: BackupSummary = {
    status: 'complete', udid: o.device.udid, dest, dryRun: !!o.dryRun, found: 0, selected: 0, toCopy: 0, toCopyBytes: 0,
    copied: 0, copiedBytes: 0, skipped: 0, failed: [], rejected: [], dateFallbacks: [], repaired: [], deleted: [], keptOnDevice: [],
    wouldCopy: [], wouldCopyBytes: 0, elapsedMs: 0,
  };
  let release: (() => Promise<void>) | undefined;
  let manifest: Manifest | undefined;
  let destFailure: { e: unknown } | undefined;
  const progressOf = (): { copied: number; toCopy: number; copiedBytes: number; toCopyBytes: number } =>
    ({ copied: summary.copied, toCopy: summary.toCopy, copiedBytes: summary.copiedBytes, toCopyBytes: summary.toCopyBytes });
  try {
    if (!o.dryRun) release = await prepareDest(dest, stateDir);
    manifest = await Manifest.open(dest, { readOnly: !!o.dryRun, maxEntries: limits.maxManifestEntries });
    const device = resolveDeviceFolder(manifest, o.device);
    if (device.isNew && !o.dryRun) await manifest.recordDevice(o.device.udid, o.device.name, device.folder);
    summary.deviceFolder = device.folder;
    const ctx: RunContext = {
      dest, partsDir: join(stateDir, 'parts'), udid: o.device.udid, deviceDir: device.parts, claims: new Set(), layout: o.layout ?? 'device', ...(event !== undefined ? { event } : {}), idleMs, watch, limits, signal,
      slots, manifest, summary, emit, progress: { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 },
      stopForDest: (e) => {
        destFailure ??= { e };
        stop.abort(e);
      },
    };
    try {
      await runStages(o, ctx);
    } catch (e) {
      // The walk (or a stage) stopped because of the signal or because the device is gone: the run ends with
      // what it has; a DEST problem ends it with that; anything else (manifest, DEST) rejects.
      if (!destFailure && isDestProblem(e)) destFailure = { e };
      const code = errorCode(e);
      const stopped = code === 'ERR_PHOTOS_DISCONNECTED' || (signal.aborted && (code === 'ERR_ABORTED' || isConnectionLost(e)));
      if (!destFailure && !stopped) throw e;
    }
    if (destFailure) throw destFailure.e;
    summary.status = endStatus(summary, o.signal, slots);
    if (summary.status === 'device-lost' && slots.dead) summary.stopped = { code: slots.dead.code, message: slots.dead.message };
    return summary;
  } catch (e) {
    throw (o.dryRun ? undefined : await asDestError(e, dest, progressOf())) ?? e;
  } finally {
    slots.closeAll();
    await manifest?.close().catch(() => undefined);
    // every .part of this run is gone (a receive or a placement that failed removes its own; this sweeps up
    // whatever an exit path left), then the lock goes
    if (release) await removeStaleParts(join(stateDir, 'parts')).catch(() => undefined);
    await release?.();
    summary.elapsedMs = Math.round(performance.now() - t0);
  }
}

/** What one file's read stream can have outstanding (4 READs of 1 MiB), and the byte budget of the copy window. */
const READ_BYTES_PER_FILE = 4 * 1024 * 1024;
const GROUP_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/** walk → select → plan → copy → delete, filling `ctx.summary`. */
async function runStages(o: BackupOptions, ctx: RunContext): Promise<void> {
  const { summary, slots, emit } = ctx;
  throwIfAborted('photo backup', ctx.signal);
  const walked = await walkDevice(slots, o.root ?? '/DCIM', { inFlight: o.walkInFlight ?? 32, timeoutMs: ctx.idleMs, limits: ctx.limits, signal: ctx.signal });
  const inv = o.library && o.root === undefined ? await libraryInventoryStage(ctx, walked.files, { walkInFlight: o.walkInFlight ?? 32, dryRun: !!o.dryRun }) : undefined;
  summary.found = (inv?.files ?? walked.files).length;
  summary.rejected = [...walked.rejected, ...(inv?.rejected ?? [])];
  for (const r of summary.rejected) emit({ type: 'rejected', ...r });

  const groups = inv ? librarySelect(ctx, inv, o.selection, o.album) : undefined;
  const picked = groups ? [] : walked.files.filter((f) => isSelected(o.selection, f));
  const selected: readonly DeviceFile[] = groups ? groups.flatMap((g) => g.members) : picked;
  summary.selected = selected.length;
  const plan = await planCopies(ctx.dest, ctx.manifest, ctx.udid, selected);
  summary.toCopy = plan.todo.size;
  summary.toCopyBytes = plan.todoBytes;
  emit({ type: 'plan', found: summary.found, selected: selected.length, toCopy: plan.todo.size, toCopyBytes: plan.todoBytes });
  if (o.dryRun) {
    for (const f of dryRunReport(plan, selected.length, summary)) emit({ type: 'file', status: 'would-copy', remote: f.remote, bytes: f.size });
    return;
  }

  ctx.progress.filesTotal = plan.todo.size;
  ctx.progress.bytesTotal = plan.todoBytes;
  // Groups never cross folders: they are formed one folder at a time and pulled by a fixed pool of workers,
  // so no promise or queue slot exists for work not started yet.
  // Admission through an adaptive window (core/window.ts): count × filesPerConnection groups at first, growing while
  // the connections run dry, up to twice that; a group is charged what its planned members can have outstanding.
  let next = 0;
  const initial = slots.count * (o.filesPerConnection ?? 4);
  const window = new AdaptiveWindow({ initialFiles: initial, maxFiles: 2 * initial, maxBytes: GROUP_BYTES_IN_FLIGHT, starved: () => slots.starved() });
  const charge = (g: FileGroup): number => g.members.reduce((n, f) => n + (plan.todo.has(f) ? Math.min(f.size + 1, READ_BYTES_PER_FILE) : 0), 0);
  await runWindowed(groups ?? groupsByFolder(picked), window, charge, (g) => copyGroup(ctx, plan, g, next++ % slots.count));
  if (ctx.signal?.aborted) return; // interrupted (or DEST unusable): nothing is removed from the device
  if (o.convertHeic) await convertHeicStage(ctx, selected, o.convertHeic, o.heicOriginal ?? 'keep');
  if (ctx.signal?.aborted) return;
  if (inv && groups && o.albums) await librarySidecarsStage(ctx, inv, groups);

  if (o.deleteAfterImport) await libraryDeleteStage(ctx, groups ?? groupFiles(picked), inv, { ...(o.deleteCheck ? { check: o.deleteCheck } : {}), evenIfPhotosBreaks: !!o.deleteEvenIfPhotosBreaks });
}

/** The run's status from what the stages left in the summary. */
function endStatus(s: BackupSummary, signal: AbortSignal | undefined, slots: ConnectionSlots): BackupStatus {
  if (signal?.aborted) return 'interrupted';
  if (slots.dead) return 'device-lost';
  return s.failed.length > 0 || s.rejected.some((r) => r.reason !== 'vanished') || s.albumNotFound !== undefined ? 'partial' : 'complete';
}

/** A .part name this tool gives a file it receives (copy.ts receive(): a random UUID). */
const PART_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.part$/;

/**
 * Removes the .part files an interrupted run left in `partsDir`: only regular files named like the ones
 * receive() creates. Anything else there (a folder, a file of another name) is not ours and is left alone.
 */
async function removeStaleParts(partsDir: string): Promise<void> {
  for (const name of await fsp.readdir(partsDir)) {
    if (!PART_NAME.test(name)) continue;
    const p = join(partsDir, name);
    const st = await fsp.lstat(p).catch(() => undefined);
    if (st?.isFile()) await fsp.unlink(p).catch(() => undefined);
  }
}

/** Locks DEST and clears the .part files of an interrupted run; returns the lock's release. */
async function prepareDest(dest: string, stateDir: string): Promise<() => Promise<void>> {
  await ensureSafeDir(dest, [STATE_DIR]); // a symlink planted there is refused
  const release = await acquireLock(stateDir);
  try {
    await ensureSafeDir(dest, [STATE_DIR, 'parts']);
    await removeStaleParts(join(stateDir, 'parts'));
  } catch (e) {
    await release();
    throw e;
  }
  return release;
}

/** The Live Photo / sidecar groups of `files` (sorted by folder, as the walk returns them), one folder at a time. */
function* groupsByFolder(files: readonly WalkedFile[]): Generator<FileGroup> {
  for (let i = 0; i < files.length; ) {
    let j = i + 1;
    while (j < files.length && files[j]!.folder === files[i]!.folder) j++;
    yield* groupFiles(files.slice(i, j));
    i = j;
  }
}
