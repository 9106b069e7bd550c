/**
 * `iosdevice emulator`: runs a virtual iPhone behind a usbmuxd-compatible socket in the foreground, for the real
 * libimobiledevice tools, ifuse and our own commands.
 */
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command, CliIO } from '../command.ts';
import { parseCommonArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { describeDevice, startEmulator, type EmulatorOptions } from '../../virtual-iphone/emulator.ts';
import { LINK_PROFILES, type LinkProfile } from '../../virtual-iphone/link.ts';
import type { TrustPolicy } from '../../virtual-iphone/lockdown-device.ts';
import { DB_LAYOUTS, type DbLayout } from '../../virtual-iphone/photos-db.ts';

const usage = `usage: iosdevice emulator [options]

Runs a virtual iPhone behind a usbmuxd-compatible socket until SIGINT/SIGTERM (also when started with
\`npx iosdevice emulator … &\` and npx is killed). Point tools at it with the printed
USBMUXD_SOCKET_ADDRESS line (libimobiledevice, ifuse, iosdevice --socket). A socket left behind by an
emulator that died (kill -9) is taken over; one a live daemon answers on is refused (exit 2).

options:
  --socket ADDR       listen on UNIX:/path, /path or host:port (default: a socket in a new temp dir)
  -u, --udid UDID     device UDID (24 hex digits are published dashed; default: random)
  --name NAME         DeviceName (default "Virtual iPhone")
  --ios VERSION       ProductVersion, ≥ 10 (default 17.5)
  --dcim COUNT        generate COUNT camera-roll assets (default 20)
  --scale F           size factor of generated files, 0 < F ≤ 10 (default 1: photos ~1-5 MB, videos larger)
  --seed N            generator seed (default 1)
  --dcim-dir PATH     serve an existing folder that contains DCIM/ instead of generating one
  --library           generate a whole photo library: DCIM plus PhotoData (iCloud originals in CPLAssets, edits
                      in Mutations, a shared album, cloud-only assets) and PhotoData/Photos.sqlite (+ -wal) with
                      albums, favourites, hidden and captions
  --library-layout L  the Photos.sqlite schema: ios17 (default) | ios18 | ios13 | future (an unknown layout)
  --trust MODE        auto | prompt | deny: how the virtual user answers "Trust this computer?" (default auto)
  --trust-delay MS    with auto: tap Trust after MS milliseconds (default 0)
  --locked            start locked with a passcode (Pair answers PasswordProtected until unlocked)
  --link PROFILE      usb2 (40 MB/s shared, +0.5 ms round trip) | real (usb2 + a real iPhone's AFC service
                      times, calibrated on ifuse and published figures; see docs/emulator-real.md) | none (default none)
  --hostile           add hostile names and symlinks to the media folder (backup safety tests)
  --manifest FILE     write what was generated (path, size, captureDate, sha256 per file) as JSON

keys on stdin while running: t = tap Trust, d = tap Don't Trust, u = unlock, l = lock,
x = unplug, a = plug back in, q = quit.
`;

function intOption(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}…${max}, got "${v}"`);
  return n;
}

/** Builds the emulator options from the command line. @throws InvalidArgumentError (ERR_INVALID_ARG). */
export function emulatorOptions(args: string[]): EmulatorOptions {
  const p = parseCommonArgs(args, {
    flags: ['--locked', '--hostile', '--library'],
    options: ['--name', '--ios', '--dcim', '--dcim-dir', '--trust', '--trust-delay', '--link', '--scale', '--seed', '--manifest', '--library-layout'],
  });
  if (p.positionals.length) throw new InvalidArgumentError(`unexpected argument "${p.positionals[0]}"`);
  const o = p.options;
  const trust = o.get('--trust') ?? 'auto';
  if (!['auto', 'prompt', 'deny'].includes(trust)) throw new InvalidArgumentError('--trust must be auto, prompt or deny');
  const link = o.get('--link') ?? 'none';
  if (!(LINK_PROFILES as readonly string[]).includes(link)) throw new InvalidArgumentError(`--link must be ${LINK_PROFILES.join(', ')}`);
  if (o.has('--dcim') && o.has('--dcim-dir')) throw new InvalidArgumentError('--dcim and --dcim-dir exclude each other');
  const scaleText = o.get('--scale');
  const scale = scaleText === undefined ? 1 : Number(scaleText);
  if (!(scale > 0 && scale <= 10)) throw new InvalidArgumentError('--scale must be in (0, 10]');
  const opts: EmulatorOptions = {
    trust: trust as TrustPolicy,
    link: link as LinkProfile,
    dcim: { scale, seed: intOption(o.get('--seed'), '--seed', 0, 2 ** 31) ?? 1 },
    dcimCount: intOption(o.get('--dcim'), '--dcim', 0, 100_000) ?? 20,
  };
  if (p.common.socket !== undefined) opts.socket = p.common.socket;
  if (p.common.udid !== undefined) opts.udid = p.common.udid;
  if (o.has('--name')) opts.name = o.get('--name')!;
  if (o.has('--ios')) opts.iosVersion = o.get('--ios')!;
  if (o.has('--dcim-dir')) opts.mediaDir = o.get('--dcim-dir')!;
  const delay = intOption(o.get('--trust-delay'), '--trust-delay', 0, 3_600_000);
  if (delay !== undefined) opts.trustDelayMs = delay;
  if (p.flags.has('--locked')) opts.locked = true;
  if (p.flags.has('--hostile')) opts.hostile = true;
  const layout = o.get('--library-layout');
  if (layout !== undefined && !(DB_LAYOUTS as readonly string[]).includes(layout)) throw new InvalidArgumentError(`--library-layout must be ${DB_LAYOUTS.join(', ')}`);
  if (layout !== undefined && !p.flags.has('--library')) throw new InvalidArgumentError('--library-layout needs --library');
  if (p.flags.has('--library')) {
    if (o.has('--dcim-dir')) throw new InvalidArgumentError('--library and --dcim-dir exclude each other');
    opts.library = { layout: (layout ?? 'ios17') as DbLayout };
  }
  return opts;
}

/** The `--manifest FILE` value, if given. */
function manifestPath(args: string[]): string | undefined {
  const i = args.findIndex((a) => a === '--manifest' || a.startsWith('--manifest='));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice('--manifest='.length) : args[i + 1];
}

const command: Command = {
  name: 'emulator',
  summary: 'run a virtual iPhone behind a usbmuxd socket (for libimobiledevice, ifuse, tests)',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const opts = emulatorOptions(args);
    if (io.signal.aborted) return 130;
    const emu = await startEmulator(opts);
    const dev = emu.devices[0]!;
    const lockdown = dev.iphone.lockdown;
    const say = (s: string): void => void io.stdout.write(s + '\n');
    say(`emulator: listening on ${emu.address}`);
    say(`device: ${describeDevice(dev)}`);
    say(`media: ${dev.mediaDir}`);
    say(`crash reports: ${dev.crashDir}`);
    say(`pid: ${process.pid} (stop with kill ${process.pid}, Ctrl-C, or q on stdin)`);
    const mf = manifestPath(args);
    if (mf !== undefined) {
      await writeFile(mf, JSON.stringify(dev.library ?? dev.manifest ?? { files: [] }, null, 1) + '\n');
      say(`manifest: ${mf}`);
    }
    say(`export USBMUXD_SOCKET_ADDRESS=${emu.address}`);
    lockdown.on('dialog', (hostId: string) => say(`trust dialog: host ${hostId} asks "Trust this computer?" (t = Trust, d = Don't Trust)`));
    lockdown.on('paired', (hostId: string) => say(`paired with host ${hostId}`));
    lockdown.on('denied', (hostId: string) => say(`denied host ${hostId}`));
    lockdown.on('unpaired', (hostId: string) => say(`unpaired host ${hostId}`));

    let quit!: () => void;
    const stopped = new Promise<void>((resolve) => (quit = resolve));
    io.signal.addEventListener('abort', () => quit(), { once: true });
    const stdin = (io as CliIO & { stdin?: Readable }).stdin ?? process.stdin;
    const rl = createInterface({ input: stdin, terminal: false });
    rl.on('line', (line) => {
      const k = line.trim().toLowerCase();
      if (k === 't') say(lockdown.tapTrust() ? 'tapped Trust' : 'no trust dialog on screen');
      else if (k === 'd') say(lockdown.deny() ? "tapped Don't Trust" : 'no trust dialog on screen');
      else if (k === 'u') {
        lockdown.unlock();
        say('unlocked');
      } else if (k === 'l') {
        lockdown.lock();
        say('locked');
      } else if (k === 'x') {
        emu.detach();
        say('unplugged');
      } else if (k === 'a') say(`plugged in as DeviceID ${emu.attach().deviceId}`);
      else if (k === 'q') quit();
      else if (k !== '') say('keys: t d u l x a q');
    });
    try {
      await stopped;
    } finally {
      rl.close();
      await emu.close();
      say('emulator: stopped');
    }
    return 0;
  },
};

export default command;
