/**
 * `iosdevice demo` (`npm run demo`): the whole job on the built-in virtual iPhone, in seconds. Starts the
 * emulator in-process with a generated photo library (camera roll with photos, Live Photos, videos,
 * screenshots, .AAE sidecars; iCloud originals, edits, a shared album, photos only in iCloud, three albums,
 * favourites and captions in Photos.sqlite), pairs (the virtual user taps Trust after a moment), backs up the
 * whole library into ./demo-backup with the progress bar and --albums, checks every file against the device,
 * runs again to show nothing new is copied, and says where the photos, edits, iCloud originals and albums are.
 */
import { join, resolve } from 'node:path';
import type { Command, CliIO } from '../command.ts';
import { parseCommonArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { Manifest } from '../../photos/manifest.ts';
import { hashIfSize } from '../../photos/copy.ts';
import { formatBytes } from '../photos-progress.ts';
import { startEmulator } from '../../virtual-iphone/emulator.ts';
import type { LibraryManifest } from '../../virtual-iphone/library-generator.ts';
import { openPhotoDevice, runPhotoBackup } from '../photos-run.ts';

const usage = `usage: iosdevice demo [--dest DIR] [--count N] [--split-by-date]

Runs a photo backup against the built-in virtual iPhone: pairing ("Trust this computer"), a first
backup of its whole library with progress (camera roll, iCloud originals, edits as IMG_E…, Live Photos
paired by content identifier, the photos only in iCloud listed, albums as sidecars), a check of every
file against the device, and a second run that copies nothing.

options:
  --dest DIR        backup folder (default ./demo-backup)
  --count N         camera-roll assets to generate, 1-5000 (default 300)
  --split-by-date   YYYY/YYYY-MM-DD/ layout instead of the device folders
`;

/** A fixed UDID, so that rerunning the demo into the same folder is incremental too. */
const DEMO_UDID = '00008110-000D3E0A0A0DE40E';

const command: Command = {
  name: 'demo',
  summary: 'back up the photos of a built-in virtual iPhone (shows pairing, progress, incremental rerun)',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { maxPositionals: 0, flags: ['--split-by-date'], options: ['--dest', '--count'] });
    const c = p.common;
    if (c.socket !== undefined || c.udid !== undefined || c.usb || c.json) throw new InvalidArgumentError('demo runs its own virtual iPhone: --socket, -u, --usb and --json do not apply');
    const count = Number(p.options.get('--count') ?? 300);
    if (!Number.isInteger(count) || count < 1 || count > 5000) throw new InvalidArgumentError('--count must be 1-5000');
    const dest = resolve(p.options.get('--dest') ?? 'demo-backup');
    const say = (s: string): void => void io.stdout.write(s + '\n');

    say(`Starting a virtual iPhone with ${count} camera-roll items and an iCloud Photos library…`);
    const emu = await startEmulator({ udid: DEMO_UDID, name: 'Demo iPhone', dcimCount: count, dcim: { scale: 0.02, seed: 2024 }, library: true, trust: 'auto', trustDelayMs: 1500 });
    try {
      const dev = emu.devices[0]!;
      const gen = dev.manifest!;
      const lib = dev.library!;
      const inICloud = gen.files.filter((f) => f.path.startsWith('PhotoData/CPLAssets/')).length;
      say(`The virtual iPhone is plugged in: ${gen.files.length} files, ${formatBytes(gen.totalBytes)} in /DCIM and /PhotoData`);
      say(`  (${inICloud} iCloud original(s), ${Object.keys(lib.edits).length} edited photo(s), ${Object.keys(lib.livePairs).length} Live Photo(s), ` +
        `${lib.cloudOnly.length} photo(s) only in iCloud, albums ${lib.albums.map((a) => JSON.stringify(a.title)).join(', ')}).`);
      say('(Its virtual user taps "Trust" about 1.5 s after the dialog appears.)\n');
      const device = await openPhotoDevice({ socket: emu.address }, io, false);
      const opts = { dest, layout: p.flags.has('--split-by-date') ? ('date' as const) : ('device' as const), library: true, albums: true, json: false };

      say(`\nBacking up into ${dest}`);
      const first = await runPhotoBackup(device, opts, io);
      if (first.exitCode !== 0) return first.exitCode;

      // Check every file against what the virtual iPhone holds.
      const m = await Manifest.open(dest, { readOnly: true });
      let identical = 0;
      try {
        for (const f of gen.files) {
          const e = m.get(device.udid, `/${f.path}`);
          if (e && (await hashIfSize(resolve(dest, ...e.local.split('/')), f.size)) === f.sha256) identical++;
        }
      } finally {
        await m.close();
      }
      say(`Verified: ${identical} of ${gen.files.length} files are byte-identical to the device (SHA-256).`);
      if (identical !== gen.files.length) return 1;

      say('\nRunning the backup again: only new or changed files would be copied.');
      const second = await runPhotoBackup(device, opts, io);
      if (second.exitCode !== 0) return second.exitCode;

      say(`\nDone. Your photos are in ${dest}`);
      const ex = await examples(dest, device.udid, lib, first.summary.sidecars?.dir);
      for (const [what, local] of ex) say(`  ${what.padEnd(16)} ${resolve(dest, local)}`);
      say(`Back up a real iPhone the same way: iosdevice photos backup ~/Pictures/iPhone`);
      return 0;
    } finally {
      await emu.close();
    }
  },
};

/** One example path (relative to DEST) per kind of thing the library backup wrote. */
async function examples(dest: string, udid: string, lib: LibraryManifest, sidecars: string | undefined): Promise<[string, string][]> {
  const m = await Manifest.open(dest, { readOnly: true });
  try {
    const local = (p: string | undefined): string | undefined => (p === undefined ? undefined : m.get(udid, `/${p}`)?.local);
    const firstEdit = Object.entries(lib.edits)[0];
    const live = Object.entries(lib.livePairs).find(([s, v]) => s.startsWith('DCIM/') && s.replace(/\.\w+$/, '') !== v.replace(/\.\w+$/, ''));
    const cpl = lib.files.find((f) => f.path.startsWith('PhotoData/CPLAssets/'))?.path;
    const all = m.entries(udid).map((e) => e.local).sort();
    const out: [string, string | undefined][] = [
      ['a photo:', all.find((l) => /\/IMG_\d{4}\.(HEIC|JPG)$/.test(l))],
      ['its edit:', firstEdit ? local(firstEdit[1].find((p) => p.includes('FullSizeRender'))) : undefined],
      ['a Live Photo:', live ? `${local(live[0])} + ${local(live[1])?.split('/').pop()}` : undefined],
      ['iCloud original:', local(cpl)],
      ['albums:', sidecars !== undefined ? join(sidecars, 'Albums') : undefined],
    ];
    return out.filter((x): x is [string, string] => x[1] !== undefined);
  } finally {
    await m.close();
  }
}

export default command;
