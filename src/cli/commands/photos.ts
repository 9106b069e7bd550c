/**
 * `iosdevice photos backup DEST`: incremental, resumable backup of the camera roll (/DCIM).
 * The engine is src/photos/backup.ts; this file parses options, runs the trust flow on first use and
 * renders progress. `runPhotoBackup()` is shared with `iosdevice demo`.
 */
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { connectAfc, openDevice, openLockdownSession } from '../../connect.ts';
import type { TrustEvent } from '../../pairing/trust.ts';
import { runBackup, type BackupOptions, type BackupSummary } from '../../photos/backup.ts';
import { ProgressRenderer, type ProgressMode } from '../../photos/progress.ts';
import { makeSelection } from '../../photos/selection.ts';
import type { PhotoDevice } from '../../photos/source.ts';

const usage = `usage: iosdevice photos backup DEST [options]

Copies the photos and videos of the device's camera roll (/DCIM) into DEST. Runs are incremental
(a rerun copies only new or changed files) and resumable (an interrupted run continues where it
stopped). Files are written as DEST/.iosdevice/parts/*.part, flushed, verified (size; SHA-256
recorded) and only then moved into place; DEST/.iosdevice/manifest.jsonl records what was imported.
Layout: DEST/100APPLE/IMG_0001.HEIC (device folders), or with --split-by-date
DEST/YYYY/YYYY-MM-DD/IMG_0001.HEIC by EXIF capture date (else the file date); Live Photo pairs and
.AAE sidecars stay together; a name clash never overwrites (IMG_0001-1.HEIC).

options:
  --since DATE           only files created on/after DATE (YYYY-MM-DD or ISO date-time)
  --until DATE           only files created on/before DATE (a bare date includes that whole day)
  --include GLOB         only files matching GLOB (repeatable; *.heic, 100APPLE/*, **/*.mov; case-insensitive)
  --exclude GLOB         leave out files matching GLOB (repeatable)
  --dry-run              list what would be copied and the total size; change nothing
  --split-by-date        DEST/YYYY/YYYY-MM-DD/ layout by capture date
  --delete-after-import  remove each file from the device once its copy is verified and recorded;
                         nothing is removed when any file failed
  --connections N        AFC connections to use (1-4, default 2)
${COMMON_OPTIONS_USAGE}

exit status: 0 everything selected is backed up; 1 something failed or was refused (see the summary);
2 bad arguments`;

/** Options of {@link runPhotoBackup} beyond the engine's. */
export interface PhotoRunOptions extends Omit<BackupOptions, 'device' | 'onEvent' | 'signal'> {
  json: boolean;
}

/** Prints the trust-flow prompts (stderr, or JSON lines on stdout with --json). */
export function trustPrinter(io: CliIO, json: boolean): (e: TrustEvent) => void {
  return (e) => {
    if (json) {
      io.stdout.write(JSON.stringify({ type: 'trust', event: e }) + '\n');
      return;
    }
    if (e.type === 'waiting-for-trust') io.stderr.write('Tap "Trust" on your iPhone and enter its passcode to allow this computer…\n');
    else if (e.type === 'device-locked') io.stderr.write('Unlock your iPhone so it can ask whether to trust this computer…\n');
    else if (e.type === 'paired') io.stderr.write('Paired: this computer is now trusted.\n');
    else if (e.type === 'denied') io.stderr.write('The iPhone answered "Don\'t Trust".\n');
  };
}

/** Bounds of {@link openPhotoDevice}, ms. */
export interface OpenPhotoDeviceTimeouts {
  /** Each usbmuxd or lockdown request (default 30 s): a daemon or device that stops answering fails, never hangs. */
  requestMs?: number;
  /** The whole trust flow incl. the person's answer on the device (default 120 s, as `iosdevice pair`). */
  pairMs?: number;
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
    autoPair: true,
    onTrustEvent: trustPrinter(io, json),
    signal: io.signal,
    timeoutMs,
    pairTimeoutMs: t.pairMs ?? 120_000,
  });
  session.lockdown.close();
  return {
    udid: dev.udid,
    openAfc: (o) => connectAfc(dev, { autoPair: false, signal: o?.signal ?? io.signal, ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
  };
}

/** Runs a backup with progress output; resolves with the summary and the exit code. */
export async function runPhotoBackup(device: PhotoDevice, o: PhotoRunOptions, io: CliIO): Promise<{ summary: BackupSummary; exitCode: number }> {
  const mode: ProgressMode = o.json ? 'json' : io.stdout.isTTY ? 'tty' : 'plain';
  const r = new ProgressRenderer(io.stdout, mode);
  const summary = await runBackup({ ...o, device, signal: io.signal, onEvent: (e) => r.onEvent(e) });
  r.finish(summary);
  const refused = summary.rejected.filter((x) => x.reason !== 'vanished').length;
  return { summary, exitCode: summary.failed.length > 0 || refused > 0 ? 1 : 0 };
}

/** Pulls every `--include`/`--exclude` (repeatable) out of args. */
function takeRepeated(args: string[], name: string): { values: string[]; rest: string[] } {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (a === name) {
      const v = args[++i];
      if (v === undefined || v === '') throw new InvalidArgumentError(`option ${name} needs a value`);
      values.push(v);
    } else if (a.startsWith(`${name}=`)) values.push(a.slice(name.length + 1));
    else rest.push(a);
  }
  return { values, rest };
}

const command: Command = {
  name: 'photos',
  summary: 'back up the camera roll (incremental, resumable): photos backup DEST',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const [sub, ...rest0] = args;
    if (sub !== 'backup') throw new InvalidArgumentError(sub ? `unknown photos sub-command "${sub}" (try: photos backup DEST)` : 'missing sub-command (try: photos backup DEST)');
    const inc = takeRepeated(rest0, '--include');
    const exc = takeRepeated(inc.rest, '--exclude');
    const p = parseCommonArgs(exc.rest, {
      flags: ['--dry-run', '--split-by-date', '--delete-after-import'],
      options: ['--since', '--until', '--connections'],
    });
    if (p.positionals.length !== 1) throw new InvalidArgumentError('expected exactly one DEST folder');
    const selection = makeSelection({ since: p.options.get('--since'), until: p.options.get('--until'), include: inc.values, exclude: exc.values });
    const conns = p.options.has('--connections') ? Number(p.options.get('--connections')) : 2;
    if (!Number.isInteger(conns) || conns < 1 || conns > 4) throw new InvalidArgumentError('--connections must be 1-4');
    const device = await openPhotoDevice(deviceSelector(p.common), io, p.common.json);
    const { exitCode } = await runPhotoBackup(device, {
      dest: p.positionals[0]!,
      selection,
      layout: p.flags.has('--split-by-date') ? 'date' : 'device',
      dryRun: p.flags.has('--dry-run'),
      deleteAfterImport: p.flags.has('--delete-after-import'),
      connections: conns,
      json: p.common.json,
    }, io);
    return exitCode;
  },
};

export default command;
