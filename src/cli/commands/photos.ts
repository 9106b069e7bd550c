/**
 * `iosdevice photos backup DEST`: incremental, resumable backup of the camera roll (/DCIM).
 * The engine is src/photos/backup.ts; this file parses options, runs the trust flow on first use and
 * renders progress (../photos-run.ts, shared with `iosdevice demo`).
 */
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { checkEventName } from '../../photos/layout.ts';
import { makeSelection } from '../../photos/selection.ts';
import { openPhotoDevice, runPhotoBackup } from '../photos-run.ts';
import { runVerifyCommand, VERIFY_USAGE } from '../photos-verify.ts';
import { runWatchCommand, WATCH_USAGE } from '../photos-watch.ts';
import { runUiCommand, UI_USAGE } from '../photos-ui.ts';

const usage = `usage: iosdevice photos backup DEST [options]

Copies the device's whole photo library into DEST: the camera roll (/DCIM), iCloud Photos originals
kept on the phone (/PhotoData/CPLAssets), edits (the rendered edit as IMG_E1234.HEIC beside
IMG_1234.HEIC, the recipe as IMG_1234.AAE) and shared albums, read from Photos.sqlite; photos that
are only in iCloud are listed in the summary. Runs are incremental (a rerun copies only new or
changed files) and resumable (an interrupted run continues where it stopped). Files are written as
DEST/.iosdevice/parts/*.part, flushed, verified (size; SHA-256 recorded) and only then moved into
place; DEST/.iosdevice/manifest.jsonl records what was imported.
Each device gets its own folder, DEST/<device>/, named by the device's name (as set on the phone),
made safe for any file system: / \\ : * ? " < > | and control characters become _, leading and
trailing dots and spaces are dropped, at most 100 bytes; when another device in DEST already has that
name (ignoring case), the UDID is added: "Anna's iPhone (00008030-001A2B3C4D5E6F70)". The folder is
chosen on the first backup and kept (renaming the phone moves nothing). A DEST made before device
folders (files at DEST/100APPLE/...) keeps its device at the top level; other devices get folders.
Layout in that folder (DEST/<device>/):
  100APPLE/IMG_0001.HEIC        the camera roll, device folders kept (edits beside: IMG_E0001.HEIC)
  iCloud/group3/IMG_7001.HEIC   iCloud originals, under the name Photos shows
  Shared/<album>/IMG_0001.JPG   shared albums
  Albums/<album>.json, library.json    with --albums; safe-to-delete.txt with --delete-after-import
or with --split-by-date YYYY/YYYY-MM-DD/IMG_0001.HEIC for all of them (iCloud and shared files too),
by EXIF/QuickTime capture date (else the file date; an impossible or out-of-range date falls back
to the file date and is listed in the summary). With --event NAME all of it is below DEST/NAME/.
Live Photo pairs (by content identifier) and .AAE sidecars stay together and share one suffix when a
name clashes (IMG_0001-1.HEIC with IMG_0001-1.MOV); a name clash never overwrites.

options:
  --since DATE           only files created on/after DATE (YYYY-MM-DD or ISO date-time)
  --until DATE           only files created on/before DATE (a bare date includes that whole day)
  --include GLOB         only files matching GLOB (repeatable; *.heic, 100APPLE/*, **/*.mov; case-insensitive)
  --exclude GLOB         leave out files matching GLOB (repeatable)
  --dry-run              list what would be copied and the total size; change nothing
  --split-by-date        DEST/<device>/YYYY/YYYY-MM-DD/ layout by capture date
  --event NAME           put this import below DEST/NAME/ (DEST/NAME/<device>/…, with --split-by-date
                         DEST/NAME/<device>/YYYY/YYYY-MM-DD/…); a file already imported under another
                         event is not copied again
  --delete-after-import  remove each file from the device once its copy is verified and recorded;
                         nothing is removed when any file failed; right before removal each file is
                         re-checked on the device and kept (and reported) when it changed since its copy
  -y, --yes              after a complete import, remove the verified imported files from the device
                         without asking (for scripts; see "keep or remove" below)
  --delete-check MODE    how: hash (default: re-read, compare SHA-256 with the copy) or stat (size and
                         ns mtime; still hashes files up to 1 MiB and whole-second mtimes)
  --connections N        AFC connections to use (1-4, default 2)
  -v, --verbose          when the device is unplugged mid-run, list every file that was not copied
                         (without it: one line with the counts; --json always has the list)
  --dcim-only            only the camera roll (/DCIM), as plain files: no Photos.sqlite, no iCloud
                         originals or edits
  --album NAME           only the assets of this album ("Title" or "Folder / Title"), with their Live
                         videos, edits and .AAE
  --albums               write what only the phone's library knows: an XMP sidecar per photo
                         (IMG_0001.HEIC.xmp: favourite = rating 5, caption, title, albums as keywords,
                         hidden), DEST/<device>/Albums/<album>.json per album, DEST/<device>/library.json
  --convert-heic jpeg    also write a JPEG beside each HEIC (IMG_0001.JPG next to IMG_0001.HEIC; IMG_0001-1.JPG
                         when that name is taken), with the HEIC's EXIF (capture dates, GPS, camera),
                         recorded and verified like every file; a rerun converts only new HEICs
  --heic-original MODE   with --convert-heic: keep (default) or drop: remove the HEIC from DEST once its
                         JPEG is written and recorded (JPEG instead of HEIC). The phone's copy is never
                         removed for it (not even by --delete-after-import); a HEIC that cannot be
                         converted is kept
  --delete-even-if-photos-breaks
                         with --delete-after-import, --yes or the question after an import: on a phone
                         with a Photos library, delete over USB anyway. Without it nothing is deleted there: AFC deletion leaves the photos in
                         the Photos database, which then shows them as broken;
                         DEST/<device>/safe-to-delete.txt lists the backed-up date ranges to delete in the Photos app instead
${COMMON_OPTIONS_USAGE}

Keep or remove: after a complete import that copied something, at a terminal (stdin and stdout both
TTYs, no --json) the command lists how many imported files verify against the backup (size and
SHA-256) and asks "Remove N imported photos from the iPhone? [y/N]"; Enter or anything but y keeps
them. Only verified files that are unchanged on the phone are removed. Without a terminal it never
asks and keeps everything, unless --yes (remove) or --delete-after-import (remove during the run).

Ctrl-C stops the run cleanly: what was copied is kept and recorded, the next run resumes
("interrupted: N of M copied, rerun to resume"). With --json the last line is the summary object;
its "status" is complete, partial, interrupted or device-lost; when the run cannot start or DEST
becomes unusable it is {"error":{"code":"ERR_…","message":…}} instead.
DEST is checked before anything is written (created if missing; it must be a folder you can write
to, with space free). When it fills up (or turns read-only) mid-run, the run stops at that write with
one error (how many files were copied, how much is still to copy and free) instead of failing every
file; no .part file is left, and after freeing space the rerun copies only the rest.

exit status:
  0    everything selected is backed up
  1    some files failed or were refused (see the summary)
  2    usage: bad arguments
  3    the device was lost or unreachable (unplugged, no such device, no usbmuxd, reconnects spent)
  4    DEST is unusable: read-only (ERR_PHOTOS_DEST_READONLY), not a folder (ERR_PHOTOS_DEST_NOT_DIR),
       no permission (ERR_PHOTOS_DEST_DENIED), no space left (ERR_PHOTOS_DEST_FULL)
  130  interrupted (Ctrl-C, SIGINT); 143: terminated (SIGTERM)

${VERIFY_USAGE}

${WATCH_USAGE}

${UI_USAGE}`;

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
  summary: 'back up the camera roll (incremental, resumable): photos backup DEST; check a backup: photos verify DEST; on every plug-in: photos watch DEST; pick and import in the browser: photos ui [DEST]',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const [sub, ...rest0] = args;
    if (sub === 'verify') return runVerifyCommand(rest0, io);
    if (sub === 'watch') return runWatchCommand(rest0, io);
    if (sub === 'ui') return runUiCommand(rest0, io);
    if (sub !== 'backup') throw new InvalidArgumentError(sub ? `unknown photos sub-command "${sub}" (try: photos backup DEST, photos verify DEST, photos watch DEST, photos ui [DEST])` : 'missing sub-command (try: photos backup DEST, photos verify DEST, photos watch DEST, photos ui [DEST])');
    const inc = takeRepeated(rest0, '--include');
    const exc = takeRepeated(inc.rest, '--exclude');
    const p = parseCommonArgs(exc.rest, {
      flags: ['--dry-run', '--split-by-date', '--delete-after-import', '--verbose', '--dcim-only', '--albums', '--delete-even-if-photos-breaks', '--yes'],
      aliases: { '-v': '--verbose', '-y': '--yes' },
      options: ['--since', '--until', '--connections', '--delete-check', '--album', '--event', '--convert-heic', '--heic-original'],
    });
    if (p.positionals.length !== 1) throw new InvalidArgumentError('expected exactly one DEST folder');
    const selection = makeSelection({ since: p.options.get('--since'), until: p.options.get('--until'), include: inc.values, exclude: exc.values });
    const conns = p.options.has('--connections') ? Number(p.options.get('--connections')) : 2;
    if (!Number.isInteger(conns) || conns < 1 || conns > 4) throw new InvalidArgumentError('--connections must be 1-4');
    const deleteCheck = p.options.get('--delete-check') ?? 'hash';
    if (deleteCheck !== 'hash' && deleteCheck !== 'stat') throw new InvalidArgumentError('--delete-check must be hash or stat');
    const dcimOnly = p.flags.has('--dcim-only');
    for (const f of ['--album', '--albums'] as const) {
      if (dcimOnly && (p.options.has(f) || p.flags.has(f))) throw new InvalidArgumentError(`${f} needs the library (drop --dcim-only)`);
    }
    const event = p.options.get('--event');
    if (event !== undefined) checkEventName(event); // a bad name is a usage error before any device is touched
    const convert = p.options.get('--convert-heic');
    if (convert !== undefined && convert.toLowerCase() !== 'jpeg' && convert.toLowerCase() !== 'jpg') throw new InvalidArgumentError(`--convert-heic: unknown format "${convert}" (the one supported: jpeg)`);
    const heicOriginal = p.options.get('--heic-original');
    if (heicOriginal !== undefined && heicOriginal !== 'keep' && heicOriginal !== 'drop') throw new InvalidArgumentError('--heic-original must be keep or drop');
    if (heicOriginal !== undefined && convert === undefined) throw new InvalidArgumentError('--heic-original goes with --convert-heic jpeg');
    const album = p.options.get('--album');
    // the keep-or-remove question: --yes answers it, --delete-after-import already removed, --json never asks
    const removeAfter = p.flags.has('--delete-after-import') ? 'never' : p.flags.has('--yes') ? 'yes' : p.common.json ? 'never' : 'ask';
    const device = await openPhotoDevice(deviceSelector(p.common), io, p.common.json);
    const { exitCode } = await runPhotoBackup(device, {
      dest: p.positionals[0]!,
      selection,
      layout: p.flags.has('--split-by-date') ? 'date' : 'device',
      dryRun: p.flags.has('--dry-run'),
      deleteAfterImport: p.flags.has('--delete-after-import'),
      deleteCheck,
      deleteEvenIfPhotosBreaks: p.flags.has('--delete-even-if-photos-breaks'),
      removeAfter,
      removeEvenIfPhotosBreaks: p.flags.has('--delete-even-if-photos-breaks'),
      ...(event !== undefined ? { event } : {}),
      library: !dcimOnly,
      ...(album !== undefined ? { album } : {}),
      albums: p.flags.has('--albums'),
      ...(convert !== undefined ? { convertHeic: 'jpeg' as const, heicOriginal: heicOriginal ?? 'keep' } : {}),
      connections: conns,
      json: p.common.json,
      verbose: p.flags.has('--verbose'),
    }, io);
    return exitCode;
  },
};

export default command;
