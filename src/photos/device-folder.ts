/**
 * A folder per device: two phones backed up into one DEST never share a folder (no `-1` names between them, no
 * Live Photo pair split across them). Each device's files go below DEST/<device folder>/ (then the layout:
 * 100APPLE/…, or YYYY/YYYY-MM-DD/…, and --event NAME/… ahead of it).
 *
 * Naming (decided on the device's first backup into this DEST, then kept, recorded in the manifest as an
 * `op: device` line; renaming the phone later does not move anything):
 * - the device name (lockdown DeviceName, e.g. "Anna's iPhone"), made safe for any file system: NFC; `/ \ : * ? " < > |`
 *   and control characters become `_`; leading dots and spaces, trailing dots and spaces are removed (never a dot-folder,
 *   nothing Windows would strip); at most 100 bytes; Windows device names (CON, NUL, COM1…) get a trailing `_`;
 * - when no name is known, the UDID;
 * - when another device in this DEST already uses that name at DEST's top level (compared as the file systems do:
 *   case- and Unicode-insensitively) — as its folder, or as a folder of its files from before device folders
 *   (100APPLE, 2023, an event name) — the UDID is added: `Anna's iPhone (00008030-001A2B3C4D5E6F70)`.
 *   A folder of that name that no device in the manifest uses is used as it is (nothing there is ever
 *   overwritten; a byte-identical file already in place counts as the same file).
 *
 * DESTs made before device folders existed (files at DEST/100APPLE/…): a device that already has files recorded
 * there keeps using DEST's top level (its folder is ''), so a rerun copies nothing again and nothing is moved;
 * any other device gets its own folder as above.
 */
import type { Manifest } from './manifest.ts';
import { isReservedTopLevel, nameKey } from './reserved.ts';
import { unsafeNameReason } from './safe-path.ts';

/** Longest device folder name, bytes (UTF-8). */
export const MAX_DEVICE_FOLDER_BYTES = 100;

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Cuts `s` to at most `max` UTF-8 bytes without splitting a character. */
function cutBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/**
 * The device name as a folder name (see the module comment), or '' when nothing usable is left of it.
 * The result is always a single safe path component, never starts with a dot, never a reserved name.
 */
export function sanitizeDeviceName(name: string): string {
  let s = name.normalize('NFC').replace(/[/\\:*?"<>|\p{Cc}]/gu, '_');
  s = s.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
  s = cutBytes(s, MAX_DEVICE_FOLDER_BYTES).replace(/[.\s]+$/u, '');
  if (WINDOWS_DEVICE.test(s)) s += '_';
  if (s === '' || unsafeNameReason(s) || isReservedTopLevel(s)) return '';
  return s;
}

/** Where one device's files go in a DEST, and whether that was decided just now. */
export interface DeviceFolder {
  /** Folder name below DEST ('' = DEST's top level: a device from before device folders). */
  folder: string;
  /** Path components of it ([] for ''). */
  parts: string[];
  /** True when this run chose it (it is recorded once the run may write). */
  isNew: boolean;
}

/**
 * The folder of `device` in DEST: the recorded one, '' for a device from before device folders, else a new name
 * (see the module comment) that nobody in the manifest and nothing at DEST's top level has yet.
 */
export function resolveDeviceFolder(manifest: Manifest, device: { udid: string; name?: string }): DeviceFolder {
  const known = manifest.deviceFolder(device.udid);
  if (known !== undefined) return { folder: known, parts: known === '' ? [] : [known], isNew: false };
  if (manifest.knows(device.udid)) return { folder: '', parts: [], isNew: true };

  // Names other devices use at DEST's top level: their folders, and the folders of files at the top level
  // (a DEST from before device folders: 100APPLE, 2023, an event). A folder nobody in the manifest uses (yours,
  // or this device's own from a manifest that was lost) is used as it is: nothing is ever overwritten there, and
  // a byte-identical file already in place counts as the same file.
  const taken = new Set<string>();
  for (const [udid, folder] of manifest.deviceFolders()) if (udid !== device.udid && folder !== '') taken.add(nameKey(folder));
  for (const r of manifest.recorded()) {
    const i = r.local.indexOf('/');
    if (r.udid !== device.udid && i > 0) taken.add(nameKey(r.local.slice(0, i)));
  }

  const base = device.name !== undefined ? sanitizeDeviceName(device.name) : '';
  const udidName = sanitizeDeviceName(device.udid) || 'device';
  const candidates = [
    ...(base !== '' ? [base] : [udidName]),
    `${cutBytes(base || 'device', MAX_DEVICE_FOLDER_BYTES - udidName.length - 3)} (${udidName})`,
  ];
  for (const c of candidates) {
    const k = nameKey(c);
    if (!taken.has(k)) return { folder: c, parts: [c], isNew: true };
  }
  // (only a hand-edited manifest gives another device this device's UDID form)
  let c = candidates[candidates.length - 1]!;
  const tie = c;
  for (let n = 2; taken.has(nameKey(c)); n++) c = `${tie} ${n}`;
  return { folder: c, parts: [c], isNew: true };
}
