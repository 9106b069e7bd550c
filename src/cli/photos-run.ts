/**
 * Opening a device for the photo engine (trust flow on first use, prompting) and running a backup with
 * progress output: shared by `iosdevice photos backup` and `iosdevice demo`.
 */
import { connectAfc, openDevice, openLockdownSession } from '../connect.ts';
import { runBackup, type BackupOptions, type BackupSummary } from '../photos/backup.ts';
import type { PhotoDevice } from '../photos/source.ts';
import { EXIT, interruptedExitCode, type CliIO } from './command.ts';
import type { deviceSelector } from './common.ts';
import { ProgressRenderer, type ProgressMode } from './photos-progress.ts';
import { askKeepOrRemove, ImportedFiles, removeIntoSummary, type RemoveMode } from './photos-keep.ts';
import { trustPrinter } from './trust-prompt.ts';

/** Options of {@link runPhotoBackup} beyond the engine's. */
export interface PhotoRunOptions extends Omit<BackupOptions, 'device' | 'onEvent' | 'signal'> {
  json: boolean;
  /** List every file a lost device left uncopied (text output). */
  verbose?: boolean;
  /**
   * The keep-or-remove question after a completed import (./photos-keep.ts): 'ask' at a terminal, 'yes' removes
   * the verified files without asking, 'never' (default) keeps everything.
   */
  removeAfter?: RemoveMode;
  /** Let the question / --yes remove files from a phone with a Photos library (see --delete-even-if-photos-breaks). */
  removeEvenIfPhotosBreaks?: boolean;
}

/** Bounds of {@link openPhotoDevice}, ms. */
export interface OpenPhotoDeviceTimeouts {
  /** Each usbmuxd or lockdown request (default 30 s): a daemon or device that stops answering fails, never hangs. */
  requestMs?: number;
  /** The whole trust flow incl. the person's answer on the device (default 120 s, as `iosdevice pair`). */
  pairMs?: number;
  /** Run the trust flow when there is no pair record (default true); false fails with ERR_DEVICE_NOT_PAIRED. */
  autoPair?: boolean;
}

/**
 * Opens the device, runs the trust flow if this computer is not paired yet (prompting), and returns
 * a PhotoDevice whose AFC connections reuse the pair record.
 * @throws ERR_USBMUX_UNREACHABLE, ERR_DEVICE_NOT_FOUND, ERR_DEVICE_AMBIGUOUS, lockdown/pairing codes (see
 *   openLockdownSession), ERR_TIMEOUT when a request or the trust flow exceeds its bound, ERR_ABORTED
 */
export async function openPhotoDevice(sel: ReturnType<typeof deviceSelector>, io: CliIO, json: boolean, t: OpenPhotoDeviceTimeouts = {}): Promise<PhotoDevice> {
  const timeoutMs = t.requestMs ?? 30_000;
  const dev = await openDevice(sel, { signal: io.signal, timeoutMs });
  const session = await openLockdownSession(dev, {
    autoPair: t.autoPair ?? true,
    onTrustEvent: trustPrinter(io, json),
    signal: io.signal,
    timeoutMs,
    pairTimeoutMs: t.pairMs ?? 120_000,
  });
  // DeviceName names the device's folder in DEST (photos/device-folder.ts); without it the UDID does
  const name = await session.lockdown.getValue('DeviceName', undefined, { signal: io.signal, timeoutMs }).catch(() => undefined);
  session.lockdown.close();
  return {
    udid: dev.udid,
    ...(typeof name === 'string' ? { name } : {}),
    openAfc: (o) => connectAfc(dev, { autoPair: false, signal: o?.signal ?? io.signal, ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
  };
}

/** Runs a backup with progress output; resolves with the summary and the exit code. */
export async function runPhotoBackup(device: PhotoDevice, o: PhotoRunOptions, io: CliIO): Promise<{ summary: BackupSummary; exitCode: number }> {
  const mode: ProgressMode = o.json ? 'json' : io.stdout.isTTY ? 'tty' : 'plain';
  const r = new ProgressRenderer(io.stdout, mode, undefined, { err: io.stderr, verbose: o.verbose ?? false });
  const { json: _json, verbose: _verbose, removeAfter = 'never', removeEvenIfPhotosBreaks: _even, ...engine } = o;
  // the candidates for removal, one device path per file backed up: kept only when the run may ask or remove
  const imported = removeAfter === 'yes' || (removeAfter === 'ask' && !o.json) ? new ImportedFiles() : undefined;
  const keep = { evenIfPhotosBreaks: !!o.removeEvenIfPhotosBreaks };
  let summary: BackupSummary;
  try {
    summary = await runBackup({ ...engine, device, signal: io.signal, onEvent: (e) => {
      imported?.onEvent(e);
      r.onEvent(e);
    } });
    if (imported && removeAfter === 'yes') await removeIntoSummary(device, summary, imported, keep, io);
  } catch (e) {
    r.abandon(); // the error that main() prints must not land on the bar's line
    throw e;
  }
  r.finish(summary);
  if (imported && removeAfter === 'ask' && !o.json) {
    await askKeepOrRemove(device, summary, imported, keep, io);
    if (io.signal.aborted) return { summary, exitCode: interruptedExitCode(io.signal) }; // Ctrl-C at the question: kept
  }
  return { summary, exitCode: backupExitCode(summary, io.signal) };
}

/** The exit code for how a run ended (see EXIT in command.ts). */
export function backupExitCode(s: BackupSummary, signal: AbortSignal): number {
  switch (s.status) {
    case 'complete':
      return EXIT.ok;
    case 'partial':
      return EXIT.failed;
    case 'device-lost':
      return EXIT.device;
    case 'interrupted':
      return interruptedExitCode(signal);
  }
}
