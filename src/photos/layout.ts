/**
 * Where files go under DEST, and which files belong together.
 *
 * Layouts:
 * - 'device' (default): the device folders are kept below DEST without the DCIM level:
 *   /DCIM/100APPLE/IMG_0001.HEIC → DEST/100APPLE/IMG_0001.HEIC.
 * - 'date' (--split-by-date): DEST/YYYY/YYYY-MM-DD/IMG_0001.HEIC by capture date (EXIF
 *   DateTimeOriginal of the group's image, else the birth time in the local time zone). Only usable dates
 *   (capture-date.ts: real, 1970-01-01 .. now + 1 day) name a folder; a refused metadata date falls back to the
 *   file's time and a file time out of range is clamped, both with a reason ({@link chooseCaptureDate}).
 * - an event name (--event NAME) puts either layout one level down: DEST/NAME/100APPLE/…, DEST/NAME/YYYY/….
 * Below DEST (and below the event folder) each device has its own folder first (device-folder.ts): the paths
 * here are relative to it, and copy-group.ts puts [event, device folder, …these] together.
 *
 * Groups: files in the same device folder with the same stem (case-insensitive) travel together,
 * so a Live Photo (IMG_0001.HEIC + IMG_0001.MOV), its .AAE sidecar and Apple's edited/original
 * variants (IMG_E0001.HEIC, IMG_O0001.AAE) share one date folder and one clash suffix.
 */

import { InvalidArgumentError } from '../core/errors.ts';
import { avoidReserved, isReservedTopLevel } from './reserved.ts';
import { unsafeNameReason } from './safe-path.ts';
import { checkWallTime, clampWallTime, usableWallTime, wallTimeOf, type DateProbe } from './capture-date.ts';

/** A regular file found on the device. */
export interface DeviceFile {
  /** Absolute device path (/DCIM/100APPLE/IMG_0001.HEIC). */
  remote: string;
  /** Path components below the walk root (['100APPLE', 'IMG_0001.HEIC']), each checked safe. */
  rel: string[];
  /** rel joined with '/', for globs and messages. */
  relPath: string;
  /** Bytes. */
  size: number;
  mtime: Date;
  /** Exact device mtime in ns (manifest key part). */
  mtimeNs: bigint;
  birthtime: Date;
}

/** Files that travel together; `members[0]` is the primary (the image whose EXIF date counts). */
export interface FileGroup {
  key: string;
  members: DeviceFile[];
}

/** The built-in layouts: 'device' keeps the device folders, 'date' is YYYY/YYYY-MM-DD by capture date. */
export type Layout = 'device' | 'date';

/**
 * A destination layout of your own (the engine's destination seam): which folder below DEST each file goes to.
 * Everything else stays the engine's: streaming to a .part, SHA-256, never overwriting, the manifest, resume.
 */
export interface CustomLayout {
  /**
   * Folder components below DEST for `file` (e.g. `['2024', 'March']`; `[]` = DEST itself). Each must be a plain name
   * (no '/', '\\', '..', NUL, control characters): a file whose folder is refused fails with ERR_PHOTOS_UNSAFE_PATH.
   * Members of one group (a Live Photo pair, its .AAE) get the same `captured` and should get the same folder.
   * A top-level folder that spells the tool's state folder is renamed, as in the built-in layouts.
   */
  folderFor(file: Readonly<DeviceFile>, captured: string | undefined): string[];
  /**
   * Pass each group's capture date as `captured` ("YYYY-MM-DDTHH:MM:SS" local wall time: EXIF / QuickTime of its
   * image, else the file's time), at the cost of reading the head of each image. Default false (`undefined`).
   */
  needsCaptureDate?: boolean;
}

/** True when the layout places files by capture date (the copy stage then reads it). */
export function needsCaptureDate(layout: Layout | CustomLayout): boolean {
  return layout === 'date' || (typeof layout === 'object' && layout.needsCaptureDate === true);
}

const IMAGE_RANK: Record<string, number> = { heic: 0, heif: 0, jpg: 1, jpeg: 1, dng: 2, png: 3, tif: 4, tiff: 4, gif: 5, webp: 5 };
const VIDEO_RANK: Record<string, number> = { mov: 10, mp4: 11, m4v: 11, hevc: 12 };

/** Splits a file name into stem and extension (with its dot; '' when none). */
export function splitExt(name: string): { stem: string; ext: string } {
  const i = name.lastIndexOf('.');
  return i <= 0 ? { stem: name, ext: '' } : { stem: name.slice(0, i), ext: name.slice(i) };
}

function rank(name: string): number {
  const e = splitExt(name).ext.slice(1).toLowerCase();
  return IMAGE_RANK[e] ?? VIDEO_RANK[e] ?? (e === 'aae' ? 30 : 20);
}

/** True for the formats exif.ts reads a capture date from. */
export function mayHaveExif(name: string): boolean {
  return /\.(jpe?g|hei[cf]|avif|png|mov|mp4|m4v)$/i.test(name);
}

/** The stem part of a group key: the name's stem, upper case, with Apple's E (edited) / O (original) infix removed. */
export function groupStemOf(name: string): string {
  return splitExt(name).stem.toUpperCase().replace(/^IMG_[EO](\d+)$/, 'IMG_$1');
}

/** Group key: device folder + stem, upper case, with Apple's E (edited) / O (original) infix removed. */
export function groupKeyOf(f: DeviceFile): string {
  return `${f.rel.slice(0, -1).join('/')}/${groupStemOf(f.rel[f.rel.length - 1]!)}`;
}

/**
 * Groups files (order of first appearance; members sorted primary first, then by name). `keyOf` defaults to
 * {@link groupKeyOf}; the library inventory passes its own (asset groups, Live pairs by content identifier).
 */
export function groupFiles(files: readonly DeviceFile[], keyOf: (f: DeviceFile) => string = groupKeyOf): FileGroup[] {
  const map = new Map<string, DeviceFile[]>();
  for (const f of files) {
    const k = keyOf(f);
    const list = map.get(k);
    if (list) list.push(f);
    else map.set(k, [f]);
  }
  const out: FileGroup[] = [];
  for (const [key, members] of map) out.push({ key, members: sortMembers(members) });
  return out;
}

/**
 * A group's members, primary first, then by name. A one-file list is returned as it is; a longer one is sorted
 * into a new array of exactly its length (a list grown by push keeps spare capacity: 17 slots for a pair).
 */
export function sortMembers(members: DeviceFile[]): DeviceFile[] {
  if (members.length < 2) return members;
  const keyed = members.map((f) => ({ f, p: f.relPath }));
  keyed.sort((a, b) => rank(a.p) - rank(b.p) || (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
  return keyed.map((k) => k.f);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Local wall time as "YYYY-MM-DDTHH:MM:SS" (the same shape the EXIF reader returns). */
export function localDateString(d: Date): string {
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The file's date when EXIF has none: its birth time, or its mtime when that is earlier or no birth
 * time was reported (a file copied onto the device keeps its original mtime but gets a new birth time).
 */
export function fileDate(f: DeviceFile): Date {
  const b = f.birthtime.getTime();
  const m = f.mtime.getTime();
  if (!(b > 0)) return f.mtime;
  return m > 0 && m < b ? f.mtime : f.birthtime;
}

/**
 * The file's time as a usable wall time (see {@link fileDate}); a time out of range (or not a time at all) is clamped
 * into 1970-01-01 .. now + 1 day and `clamped` says so.
 */
export function fileWallTime(f: DeviceFile, now = Date.now()): { date: string; clamped?: string } {
  const ms = fileDate(f).getTime();
  const wall = wallTimeOf(ms);
  const chk = wall === undefined ? { reason: 'not a time' } : checkWallTime(wall, now);
  if ('date' in chk) return { date: chk.date };
  const date = clampWallTime(wall, now);
  return { date, clamped: `the file's time (${wall ?? String(ms)}) is ${chk.reason}; clamped to ${date.slice(0, 10)}` };
}

/**
 * The date a group is filed under with --split-by-date: the metadata date when usable, else the file's time;
 * `fallback` (for the summary) says why when metadata had a date that was refused or the file's time was clamped.
 */
export function chooseCaptureDate(f: DeviceFile, probe: DateProbe | undefined, now = Date.now()): { date: string; fallback?: string } {
  const meta = usableWallTime(probe?.date, now);
  if (meta !== undefined) return { date: meta };
  const ft = fileWallTime(f, now);
  const why = [probe?.rejected, ft.clamped].filter((x): x is string => x !== undefined);
  if (why.length === 0) return { date: ft.date };
  return { date: ft.date, fallback: `${why.join('; ')}; dated ${ft.date.slice(0, 10)} by the file's time` };
}

/**
 * Destination folder components (relative to DEST) for a file. A device folder that would land on one of the
 * tool's own top-level folders (the state folder, in any case or Unicode spelling) is renamed (reserved.ts).
 * With an `event` (checked by {@link checkEventName}) the same parts go below DEST/<event>/.
 * With 'date', `captured` is used only when it is a usable date (e.g. not a bad value from an old manifest), else the
 * file's clamped time: the result is always [YYYY, YYYY-MM-DD] of a real date.
 */
export function targetDirParts(layout: Layout | CustomLayout, f: DeviceFile, captured: string | undefined, event?: string, now = Date.now()): string[] {
  if (event !== undefined) return [event, ...targetDirParts(layout, f, captured, undefined, now)];
  if (typeof layout === 'object') return avoidReserved(layout.folderFor(f, captured));
  if (layout === 'device') return avoidReserved(f.rel.slice(0, -1));
  const day = (usableWallTime(captured, now) ?? fileWallTime(f, now).date).slice(0, 10);
  return [day.slice(0, 4), day];
}

/** Longest event name accepted, in characters. */
export const MAX_EVENT_NAME = 120;

/**
 * Trims and checks an event name (`--event NAME`, the UI's "Event name"): it becomes one folder at DEST's top
 * level, so it must be a single safe path component, not hidden (no leading dot) and never any spelling of a
 * folder this tool owns there (reserved.ts), and at most {@link MAX_EVENT_NAME} characters. Returns it trimmed.
 * @throws InvalidArgumentError (ERR_INVALID_ARG)
 */
export function checkEventName(name: string): string {
  const n = name.trim();
  const why =
    n === '' ? 'it is empty'
    : n.startsWith('.') || isReservedTopLevel(n) ? 'it is hidden or reserved for the tool\'s own state folder'
    : n.length > MAX_EVENT_NAME ? `it is longer than ${MAX_EVENT_NAME} characters`
    : unsafeNameReason(n);
  if (why) throw new InvalidArgumentError(`event name ${JSON.stringify(name)} cannot be a folder name: ${why}`);
  return n;
}

/** `IMG_0001.HEIC` with suffix 2 → `IMG_0001-2.HEIC` (0 = unchanged). */
export function withSuffix(name: string, n: number): string {
  if (n === 0) return name;
  const { stem, ext } = splitExt(name);
  return `${stem}-${n}${ext}`;
}

/** The suffix a local name carries relative to the device name (inverse of withSuffix), or undefined. */
export function suffixOf(deviceName: string, localName: string): number | undefined {
  if (deviceName === localName) return 0;
  const { stem, ext } = splitExt(deviceName);
  if (!localName.startsWith(`${stem}-`) || !localName.endsWith(ext)) return undefined;
  const mid = localName.slice(stem.length + 1, localName.length - ext.length);
  return /^[1-9]\d{0,4}$/.test(mid) ? Number(mid) : undefined;
}
