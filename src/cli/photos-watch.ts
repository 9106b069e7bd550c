/**
 * `iosdevice photos watch DEST`: a backup every time a trusted device is plugged in, as cloud apps do it,
 * without anyone remembering. It subscribes to usbmuxd's device events (Listen) and runs the photo engine once
 * per attach:
 * - one run at a time (DEST is locked by a run), one queued run per device at most: a device that attaches
 *   again while its run is going (or waiting) is coalesced into one more run after it;
 * - a device this computer is not paired with is skipped with a line saying to pair first (`iosdevice pair`):
 *   nobody is at the screen of a service, so it never prompts unless `--pair` says so;
 * - when usbmuxd goes away (restart, upgrade), the watch reconnects with a backoff (0.5 s doubling to 30 s) and
 *   the devices present then are backed up again (incremental: only what is new is copied);
 * - one line per run (time, device, status, counts), or one JSON object per line with --json;
 * - SIGINT / SIGTERM stop it: a run in flight ends as in `photos backup` (what was copied is kept and
 *   recorded; the next run resumes), then the watch exits 130 / 143.
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode, IDeviceError, InvalidArgumentError } from '../core/errors.ts';
import { sameUdid } from '../core/udid.ts';
import { runBackup, type BackupSummary } from '../photos/backup.ts';
import { checkEventName, type Layout } from '../photos/layout.ts';
import { makeSelection, type Selection } from '../photos/selection.ts';
import { formatMuxAddress, resolveUsbmuxAddress } from '../usbmux/address.ts';
import { UsbmuxClient } from '../usbmux/client.ts';
import { interruptedExitCode, type CliIO } from './command.ts';
import { COMMON_OPTIONS_USAGE, parseCommonArgs } from './common.ts';
import { formatBytes } from './photos-progress.ts';
import { openPhotoDevice } from './photos-run.ts';

/** Options of {@link runWatch}. */
export interface PhotoWatchOptions {
  dest: string;
  /** usbmuxd address (default: USBMUXD_SOCKET_ADDRESS, else the platform default). */
  socket?: string;
  /** Only this device. */
  udid?: string;
  json: boolean;
  /** Run the trust flow for an unpaired device (someone is there to tap Trust); default: skip it. */
  pair: boolean;
  layout: Layout;
  event?: string;
  library: boolean;
  connections: number;
  selection?: Selection;
  /** Reconnect backoff, ms (default 500 doubling to 30000). */
  backoff?: { initialMs: number; maxMs: number };
}

/** Codes meaning "this computer is not (or no longer) trusted by the device". */
const NOT_TRUSTED = new Set(['ERR_DEVICE_NOT_PAIRED', 'ERR_LOCKDOWN_INVALID_HOST_ID', 'ERR_LOCKDOWN_USER_DENIED_PAIRING']);

function stamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The one line a run ends with (text mode). */
export function runLine(name: string, s: BackupSummary): string {
  const took = `${(s.elapsedMs / 1000).toFixed(1)} s`;
  const what = s.copied > 0 ? `copied ${s.copied} file(s), ${formatBytes(s.copiedBytes)}` : 'nothing new';
  const left = s.status === 'interrupted' || s.status === 'device-lost' ? `; ${Math.max(0, s.toCopy - s.copied - s.failed.length)} left for the next run` : '';
  return `${stamp()} ${name}: ${s.status}: ${what} in ${took}; ${s.skipped} already backed up; ${s.failed.length} failed${left}`;
}

/** Runs the watch until the signal fires; resolves with 130 (SIGINT) or 143 (SIGTERM). */
export async function runWatch(o: PhotoWatchOptions, io: CliIO): Promise<number> {
  const address = resolveUsbmuxAddress(o.socket, io.env);
  const where = formatMuxAddress(address);
  const signal = io.signal;
  const say = (text: string, json: Record<string, unknown>): void => {
    if (o.json) io.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...json }) + '\n');
    else io.stdout.write(text + '\n');
  };

  /** Attached devices by usbmux DeviceID, and which UDIDs are attached now. */
  const byId = new Map<number, string>();
  const attachedCount = new Map<string, number>();
  /** UDIDs waiting for a run, in order (a Set: one queued run per device). */
  const wanted = new Set<string>();
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const isAttached = (udid: string): boolean => (attachedCount.get(udid) ?? 0) > 0;
  let runs = 0;

  const runOne = async (udid: string): Promise<void> => {
    const n = ++runs;
    if (o.json) say('', { type: 'run-start', run: n, udid }); // text: one line per run, at its end
    let device;
    try {
      device = await openPhotoDevice({ udid, ...(o.socket !== undefined ? { socket: o.socket } : {}) }, io, o.json, { autoPair: o.pair });
    } catch (e) {
      if (signal.aborted) return;
      const code = errorCode(e) ?? 'ERR_INTERNAL';
      if (NOT_TRUSTED.has(code)) {
        say(`${stamp()} ${udid}: skipped: this computer is not trusted by the device; pair first (iosdevice pair -u ${udid}), then plug it in again`,
          { type: 'skipped', run: n, udid, reason: 'not-paired', code });
      } else if (code === 'ERR_LOCKDOWN_PASSWORD_PROTECTED') {
        say(`${stamp()} ${udid}: skipped: the device is locked; unlock it and plug it in again`, { type: 'skipped', run: n, udid, reason: 'locked', code });
      } else {
        say(`${stamp()} ${udid}: skipped: [${code}] ${e instanceof Error ? e.message : String(e)}`, { type: 'skipped', run: n, udid, reason: 'error', code });
      }
      return;
    }
    const name = device.name !== undefined ? `${device.name} (${udid})` : udid;
    try {
      const summary = await runBackup({
        dest: o.dest, device, signal, layout: o.layout, library: o.library, connections: o.connections,
        ...(o.event !== undefined ? { event: o.event } : {}), ...(o.selection ? { selection: o.selection } : {}),
      });
      say(runLine(name, summary), { type: 'run', run: n, name: device.name ?? null, ...summary });
    } catch (e) {
      const code = errorCode(e) ?? 'ERR_INTERNAL';
      const message = e instanceof Error ? e.message : String(e);
      say(`${stamp()} ${name}: failed: [${code}] ${message}`, { type: 'run-failed', run: n, udid, code, message });
    }
  };

  /** One run at a time; the next wanted device that is still attached. */
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const next = [...wanted].find(isAttached);
      for (const u of wanted) if (!isAttached(u)) wanted.delete(u); // unplugged while waiting: nothing to do
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (signal.aborted) resolve();
        });
        continue;
      }
      wanted.delete(next);
      await runOne(next);
    }
  };
  const onAbort = (): void => poke();
  signal.addEventListener('abort', onAbort, { once: true });
  const working = worker();

  const backoff = o.backoff ?? { initialMs: 500, maxMs: 30_000 };
  let delay = backoff.initialMs;
  let state = 'starting' as 'starting' | 'connected' | 'lost';
  try {
    while (!signal.aborted) {
      let client: UsbmuxClient | undefined;
      try {
        client = await UsbmuxClient.open({ address, signal, timeoutMs: 5000 });
        const events = client.listen({
          signal,
          timeoutMs: 5000,
          onReady: () => {
            const again = state === 'lost' ? ' (reconnected)' : '';
            state = 'connected';
            delay = backoff.initialMs;
            say(`${stamp()} watching ${where} for devices${again}; backups go to ${o.dest}`, { type: 'listening', address: where, dest: o.dest, reconnected: again !== '' });
          },
        });
        for await (const ev of events) {
          if (ev.type === 'attached') {
            const d = ev.device;
            if (d.connectionType !== 'USB') continue; // a phone on Wi-Fi sync is also listed over USB: back it up once
            if (o.udid !== undefined && !sameUdid(d.udid, o.udid)) continue;
            byId.set(d.deviceId, d.udid);
            attachedCount.set(d.udid, (attachedCount.get(d.udid) ?? 0) + 1);
            wanted.add(d.udid);
            poke();
          } else if (ev.type === 'detached') {
            const udid = byId.get(ev.deviceId);
            if (udid === undefined) continue;
            byId.delete(ev.deviceId);
            attachedCount.set(udid, Math.max(0, (attachedCount.get(udid) ?? 1) - 1));
            if (!isAttached(udid)) wanted.delete(udid);
          }
        }
      } catch (e) {
        if (signal.aborted) break;
        const code = e instanceof IDeviceError ? e.code : 'ERR_INTERNAL';
        // what usbmuxd knew is gone with it: the devices listed after reconnecting are backed up again
        byId.clear();
        attachedCount.clear();
        wanted.clear();
        if (state !== 'lost') {
          const was = state === 'connected' ? 'usbmuxd went away' : 'usbmuxd is not reachable';
          say(`${stamp()} ${was} at ${where} [${code}]; reconnecting (every ${backoff.initialMs / 1000}–${backoff.maxMs / 1000} s)`, { type: 'usbmuxd-lost', address: where, code });
          state = 'lost';
        }
      } finally {
        client?.close();
      }
      if (signal.aborted) break;
      await sleep(delay, undefined, { signal }).catch(() => undefined);
      delay = Math.min(backoff.maxMs, delay * 2);
    }
  } finally {
    poke();
    await working; // the run in flight ends as 'interrupted' (its line is printed) before the watch exits
    signal.removeEventListener('abort', onAbort);
  }
  say(`${stamp()} stopped`, { type: 'stopped', runs });
  return interruptedExitCode(signal);
}

/** The `photos watch` part of `iosdevice photos --help`. */
export const WATCH_USAGE = `usage: iosdevice photos watch DEST [options]

Backs up every time a trusted device is plugged in (usbmuxd device events): one run per attach, one
run at a time (a device plugged in again while its run is going gets one more run after it), as
incremental as photos backup (only new files are copied). A device this computer is not paired with
is skipped with a line saying to pair first (iosdevice pair); it never asks on the phone unless
--pair is given. When usbmuxd goes away (restart, upgrade) the watch reconnects (0.5 s, doubling to
30 s) and backs up the devices present then. One line per run; with --json one JSON object per line
("type": listening, run-start, run, skipped, run-failed, usbmuxd-lost, stopped; a "run" line carries
the summary of photos backup --json). Ctrl-C or SIGTERM stops it: a run in flight ends as in
photos backup (kept, recorded, resumed next time), then it exits 130 / 143. Service files to start
it at login: docs/service/ (systemd user unit, launchd agent; see docs/service/README.md).

options:
  --split-by-date, --event NAME, --dcim-only, --connections N, --since DATE, --until DATE
                         as in photos backup
  --pair                 run the trust flow ("Trust this computer?") for an unpaired device
${COMMON_OPTIONS_USAGE.split('\n').filter((l) => !l.includes('--usb')).join('\n').replace('use this device (default: the only one attached)', 'only this device (default: every device)')}`;

/** `iosdevice photos watch …` (args after "watch"). */
export async function runWatchCommand(args: string[], io: CliIO): Promise<number> {
  return runWatch(parseWatchArgs(args, io.env), io);
}

/**
 * Parses the arguments after `photos watch` (also what the service files in docs/service/ pass).
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for a usage error: unknown option, no DEST, bad event name or address.
 */
export function parseWatchArgs(args: readonly string[], env: NodeJS.ProcessEnv): PhotoWatchOptions {
  const p = parseCommonArgs(args, {
    flags: ['--split-by-date', '--dcim-only', '--pair'],
    options: ['--event', '--connections', '--since', '--until'],
  });
  if (p.common.usb) throw new InvalidArgumentError('photos watch reads usbmuxd device events; --usb is not supported here');
  if (p.positionals.length !== 1) throw new InvalidArgumentError('expected exactly one DEST folder');
  const conns = p.options.has('--connections') ? Number(p.options.get('--connections')) : 2;
  if (!Number.isInteger(conns) || conns < 1 || conns > 4) throw new InvalidArgumentError('--connections must be 1-4');
  const event = p.options.get('--event');
  if (event !== undefined) checkEventName(event);
  resolveUsbmuxAddress(p.common.socket, env); // a malformed address is a usage error now, not a retry loop
  const since = p.options.get('--since');
  const until = p.options.get('--until');
  return {
    dest: resolve(p.positionals[0]!),
    ...(p.common.socket !== undefined ? { socket: p.common.socket } : {}),
    ...(p.common.udid !== undefined ? { udid: p.common.udid } : {}),
    json: p.common.json,
    pair: p.flags.has('--pair'),
    layout: p.flags.has('--split-by-date') ? 'date' : 'device',
    ...(event !== undefined ? { event } : {}),
    library: !p.flags.has('--dcim-only'),
    connections: conns,
    ...(since !== undefined || until !== undefined ? { selection: makeSelection({ since, until }) } : {}),
  };
}
