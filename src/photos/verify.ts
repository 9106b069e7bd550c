/**
 * `photos verify DEST`: re-hashes every file the manifest records (every version ever placed, including files
 * since removed from the device) and reports
 * - missing: recorded, but nothing (or a folder, a symlink) at its path;
 * - changed: there, but its size or its SHA-256 differs from the record (a same-size corruption is found only here:
 *   a backup run compares sizes, it does not re-hash DEST);
 * - extra: files in DEST (outside DEST/.iosdevice) that no manifest line records.
 * With `repair` and the device connected, each missing or changed file of that device is fetched again, checked
 * against the recorded SHA-256 and put back under its original name atomically (repair.ts: never a partial file,
 * never over a file other than the one found damaged; the damaged one is kept in DEST/.iosdevice/damaged/).
 * Extra files are only reported, never touched.
 *
 * Without `repair` nothing is written (a read-only DEST can be verified). A backup running on DEST is refused
 * (ERR_PHOTOS_BUSY): it would show its newest files as extra. With `repair`, a DEST that cannot be written (full,
 * read-only, no permission: dest.ts) stops the repair at the first such write with one DestError; the .part files
 * of the repair are removed and the lock released on every exit path.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { throwIfAborted } from '../core/abort.ts';
import { InvalidArgumentError, errorCode, isConnectionLost } from '../core/errors.ts';
import { ConnectionSlots } from './connections.ts';
import { hashIfSize, receive } from './copy.ts';
import { asDestError, isDestProblem } from './dest.ts';
import { PhotosError } from './errors.ts';
import type { DeviceFile } from './layout.ts';
import { Limiter } from './limit.ts';
import { acquireLock, lockHolder } from './lock.ts';
import { Manifest, STATE_DIR, type RecordedFile } from './manifest.ts';
import { localState, replaceInPlace, type LocalState } from './repair.ts';
import { ensureSafeDir } from './safe-path.ts';
import type { PhotoDevice } from './source.ts';
import { DEFAULT_WATCH } from './watch.ts';

/** A recorded file that is not as recorded. */
export interface VerifyProblem {
  /** Path relative to DEST ('/'-separated). */
  local: string;
  udid: string;
  remote: string;
  /** Recorded size (bytes) and SHA-256 (hex). */
  size: number;
  sha256: string;
  kind: 'missing' | 'changed';
  detail: string;
}

/** The outcome of {@link verifyDest} (also the `--json` summary). */
export interface VerifyReport {
  dest: string;
  /** Files the manifest records. */
  files: number;
  /** Of those, present with the recorded size and SHA-256. */
  ok: number;
  bytesHashed: number;
  missing: VerifyProblem[];
  changed: VerifyProblem[];
  /** DEST-relative paths of files no manifest line records (sorted). */
  extra: string[];
  /** Problems fixed by `repair`; `keptAside` is where the damaged file went (relative to DEST). */
  repaired: (VerifyProblem & { keptAside?: string })[];
  /** Problems `repair` could not fix (or all of them without a device), with why. */
  unrepaired: (VerifyProblem & { code: string; reason: string })[];
  /** True when every recorded file is as recorded (after repairs) and there is no extra file. */
  clean: boolean;
  elapsedMs: number;
}

export type VerifyEvent =
  | { type: 'verify-plan'; files: number; bytes: number }
  | { type: 'progress'; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }
  | { type: 'verify-file'; status: 'missing' | 'changed' | 'extra' | 'repaired' | 'unrepaired'; local: string; remote?: string; detail: string; code?: string };

export interface VerifyOptions {
  dest: string;
  /** Fetch missing and changed files of `device` again (needs `device`; takes the DEST lock). */
  repair?: boolean;
  device?: PhotoDevice;
  /** Files hashed at once. Default 4. */
  inFlight?: number;
  /** Per request / per read idle bound for the device, ms. Default 30000. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: VerifyEvent) => void;
}

/**
 * Verifies DEST against its manifest (see the module comment).
 * @throws PhotosError ERR_PHOTOS_MANIFEST (no readable manifest: not a backup folder), ERR_PHOTOS_BUSY (a backup
 *   is running on DEST), ERR_INVALID_ARG (`repair` without a device); ERR_ABORTED; with `repair`, DestError
 *   ERR_PHOTOS_DEST_READONLY, ERR_PHOTOS_DEST_DENIED, ERR_PHOTOS_DEST_FULL (DEST cannot be written)
 */
export async function verifyDest(o: VerifyOptions): Promise<VerifyReport> {
  const t0 = performance.now();
  const emit = o.onEvent ?? (() => undefined);
  const dest = await fsp.realpath(o.dest).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PhotosError('ERR_PHOTOS_MANIFEST', `${o.dest} does not exist: nothing to verify`);
    throw new PhotosError('ERR_PHOTOS_MANIFEST', `${o.dest} cannot be read`, { cause: e });
  });
  const stateDir = join(dest, STATE_DIR);
  if (o.repair && !o.device) throw new InvalidArgumentError('repairing needs the device the files came from');
  let release: (() => Promise<void>) | undefined;
  if (o.repair) {
    try {
      await ensureSafeDir(dest, [STATE_DIR]);
      release = await acquireLock(stateDir);
    } catch (e) {
      throw (await asDestError(e, dest, 'nothing was changed')) ?? e;
    }
  } else {
    const pid = await lockHolder(stateDir);
    if (pid !== undefined) throw new PhotosError('ERR_PHOTOS_BUSY', `a backup (pid ${pid}) is writing to this folder; verify it once that is done`);
  }
  let manifest: Manifest | undefined;
  let repaired = 0;
  try {
    const mstat = await fsp.lstat(join(stateDir, 'manifest.jsonl')).catch(() => undefined);
    if (!mstat?.isFile()) throw new PhotosError('ERR_PHOTOS_MANIFEST', `${dest} is not a backup folder (no ${STATE_DIR}/manifest.jsonl)`);
    manifest = await Manifest.open(dest, { readOnly: true });
    const records = manifest.recorded().sort((a, b) => (a.local < b.local ? -1 : a.local > b.local ? 1 : 0));
    const report: VerifyReport = {
      dest, files: records.length, ok: 0, bytesHashed: 0, missing: [], changed: [], extra: [], repaired: [], unrepaired: [], clean: false, elapsedMs: 0,
    };
    const found = await checkAll(dest, records, report, o, emit);
    report.extra = await extraFiles(dest, new Set(records.map((r) => r.local)));
    for (const x of report.extra) emit({ type: 'verify-file', status: 'extra', local: x, detail: 'not recorded in the manifest' });
    const problems = [...report.missing, ...report.changed].sort((a, b) => (a.local < b.local ? -1 : 1));
    if (o.repair && o.device) {
      try {
        await repairAll(dest, o.device, problems, found, report, o, emit);
      } finally {
        repaired = report.repaired.length;
      }
    }
    else for (const p of problems) report.unrepaired.push({ ...p, code: 'ERR_PHOTOS_VERIFY', reason: 'not repaired (run with --repair and the device connected)' });
    report.clean = report.extra.length === 0 && report.unrepaired.length === 0;
    report.elapsedMs = Math.round(performance.now() - t0);
    return report;
  } catch (e) {
    throw (o.repair ? await asDestError(e, dest, `${repaired} file(s) repaired before that are in place, the others left as they were`) : undefined) ?? e;
  } finally {
    await manifest?.close().catch(() => undefined);
    if (release) {
      await removeOwnParts(join(stateDir, 'parts'));
      await release();
    }
  }
}

/** Checks each record; fills missing/changed/ok; returns what was found at each problem's path. */
async function checkAll(
  dest: string, records: RecordedFile[], report: VerifyReport, o: VerifyOptions, emit: (e: VerifyEvent) => void,
): Promise<Map<string, LocalState>> {
  const found = new Map<string, LocalState>();
  const progress = { filesDone: 0, filesTotal: records.length, bytesDone: 0, bytesTotal: records.reduce((a, r) => a + r.size, 0) };
  emit({ type: 'verify-plan', files: records.length, bytes: progress.bytesTotal });
  const limit = new Limiter(o.inFlight ?? 4);
  await Promise.all(records.map((r) => limit.run(async () => {
    throwIfAborted('verify', o.signal);
    const problem = (kind: VerifyProblem['kind'], detail: string): void => {
      const p: VerifyProblem = { local: r.local, udid: r.udid, remote: r.remote, size: r.size, sha256: r.sha256, kind, detail };
      (kind === 'missing' ? report.missing : report.changed).push(p);
      emit({ type: 'verify-file', status: kind, local: r.local, remote: r.remote, detail });
    };
    const st = await localState(dest, r.local).catch((e: unknown): LocalState => ({ kind: 'other', what: `unreadable (${(e as Error).message})` }));
    found.set(r.local, st);
    if (st.kind === 'missing') problem('missing', 'not in DEST');
    else if (st.kind === 'other') problem('missing', `${st.what} stands where the file should be`);
    else if (st.size !== BigInt(r.size)) problem('changed', `size ${st.size} bytes, recorded ${r.size}`);
    else {
      const sha = await hashIfSize(join(dest, ...r.local.split('/')), r.size).catch(() => undefined);
      report.bytesHashed += r.size;
      if (sha === r.sha256) report.ok++;
      else problem('changed', sha === undefined ? 'cannot be read' : 'same size, but its SHA-256 differs from the record');
    }
    progress.filesDone++;
    progress.bytesDone += r.size;
    emit({ type: 'progress', ...progress });
  })));
  report.missing.sort((a, b) => (a.local < b.local ? -1 : 1));
  report.changed.sort((a, b) => (a.local < b.local ? -1 : 1));
  return found;
}

/** Files below DEST (not following symlinks, skipping DEST/.iosdevice) whose path is not in `recorded`. */
async function extraFiles(dest: string, recorded: Set<string>): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > 64) return;
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (rel === '' && e.name === STATE_DIR) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(join(dir, e.name), r, depth + 1);
      else if (!recorded.has(r)) out.push(r);
    }
  };
  await walk(dest, '', 0);
  return out.sort();
}

/** Fetches each problem file of `device` again and puts it back under its name; fills repaired/unrepaired. */
async function repairAll(
  dest: string, device: PhotoDevice, problems: VerifyProblem[], found: Map<string, LocalState>, report: VerifyReport,
  o: VerifyOptions, emit: (e: VerifyEvent) => void,
): Promise<void> {
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const partsDir = await ensureSafeDir(dest, [STATE_DIR, 'parts']);
  // aborted by the caller, or at the first DEST problem (every other repair would fail the same way)
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  let destFailure: { e: unknown } | undefined;
  const slots = new ConnectionSlots(device, 2, 3, { signal, timeoutMs: idleMs });
  const unrepaired = (p: VerifyProblem, code: string, reason: string): void => {
    report.unrepaired.push({ ...p, code, reason });
    emit({ type: 'verify-file', status: 'unrepaired', local: p.local, remote: p.remote, detail: reason, code });
  };
  const limit = new Limiter(4);
  let next = 0;
  try {
    await Promise.all(problems.map((p) => limit.run(async () => {
      if (p.udid !== device.udid) return unrepaired(p, 'ERR_PHOTOS_REPAIR', `it came from another device (${p.udid})`);
      if (destFailure) return;
      const slot = next++ % slots.count;
      for (;;) {
        let conn;
        try {
          conn = await slots.get(slot);
          const info = await conn.stat(p.remote, { signal, timeoutMs: idleMs });
          if (info.type !== 'file' || info.size !== p.size) {
            return unrepaired(p, 'ERR_PHOTOS_REPAIR', `the device file is no longer the recorded version (${info.type}, ${info.size} bytes)`);
          }
          const f = asDeviceFile(p.remote, info.size);
          const r = await receive(conn, f, partsDir, () => undefined, signal, { ...DEFAULT_WATCH, idleMs });
          try {
            if (r.sha256 !== p.sha256) {
              return unrepaired(p, 'ERR_PHOTOS_REPAIR', 'the device file is no longer the recorded version (SHA-256 differs)');
            }
            const { keptAside } = await replaceInPlace(dest, p.local, r.part, found.get(p.local) ?? { kind: 'missing' });
            report.repaired.push({ ...p, ...(keptAside ? { keptAside } : {}) });
            emit({ type: 'verify-file', status: 'repaired', local: p.local, remote: p.remote, detail: keptAside ? `damaged file kept as ${keptAside}` : 'restored' });
            return;
          } finally {
            await fsp.unlink(r.part).catch(() => undefined);
          }
        } catch (e) {
          if (isDestProblem(e)) {
            destFailure ??= { e };
            stop.abort(e);
            return;
          }
          if (destFailure) return; // stopped by another repair's DEST problem
          if (conn && isConnectionLost(e)) {
            slots.broken(slot, conn);
            if (!signal.aborted) continue;
          }
          const code = errorCode(e) ?? 'ERR_INTERNAL';
          return unrepaired(p, code, code === 'ERR_AFC_OBJECT_NOT_FOUND' ? 'no longer on the device' : (e as Error).message);
        }
      }
    })));
  } finally {
    slots.closeAll();
  }
  if (destFailure) throw destFailure.e;
}

function asDeviceFile(remote: string, size: number): DeviceFile {
  const rel = remote.split('/').filter(Boolean);
  return { remote, rel, relPath: rel.join('/'), size, mtime: new Date(0), mtimeNs: 0n, birthtime: new Date(0) };
}

/** Removes what a repair left in the parts folder (we hold the lock: anything there is ours or stale). */
async function removeOwnParts(partsDir: string): Promise<void> {
  const names = await fsp.readdir(partsDir).catch(() => [] as string[]);
  for (const n of names) if (n.endsWith('.part')) await fsp.unlink(join(partsDir, n)).catch(() => undefined);
}
