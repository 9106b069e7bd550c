/**
 * DEST's top level is shared between the user's photos and the folders this tool owns there (the state folder
 * `.iosdevice`: manifest, lock, .part files). A name from the device must never reach such a folder, whatever
 * its case or Unicode form: on a case-insensitive or normalization-insensitive file system (macOS APFS/HFS+,
 * exFAT, SMB/NTFS shares) `.IOSDEVICE`, `.iosdevice.` or a decomposed/ignorable-character spelling of the name is
 * the same folder. Such a top-level device folder is stored under a visible, prefixed name instead
 * (`.iosdevice` → `_.iosdevice`), so its photos are backed up like any other and never mixed with the state.
 */
import { STATE_DIR } from './manifest.ts';

/** Folders at DEST's top level that belong to this tool. */
export const RESERVED_TOP_LEVEL: readonly string[] = [STATE_DIR];

/** Prefix given to a device folder whose name collides with a reserved one. */
export const RESERVED_PREFIX = '_';

/**
 * A comparison key as broad as any file system's notion of "the same name": compatibility decomposition,
 * combining marks and default-ignorable code points (zero-width joiners, BOM, bidi controls HFS+ ignores)
 * removed, case folded, and trailing dots/spaces dropped (Windows and SMB strip them).
 */
export function nameKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\p{M}\p{Default_Ignorable_Code_Point}]/gu, '')
    .toUpperCase()
    .toLowerCase()
    .replace(/ı/g, 'i')
    .replace(/[. ]+$/u, '');
}

const RESERVED_KEYS = new Set(RESERVED_TOP_LEVEL.map(nameKey));

/** True when `name` would name one of the tool's own top-level folders on some file system. */
export function isReservedTopLevel(name: string): boolean {
  return RESERVED_KEYS.has(nameKey(name));
}

/**
 * DEST-relative folder components with a reserved first component renamed (`_` prefixed, repeatedly if the
 * prefixed name is reserved too). Other components are returned as they are.
 */
export function avoidReserved(parts: readonly string[]): string[] {
  if (parts.length === 0 || !isReservedTopLevel(parts[0]!)) return [...parts];
  let first = parts[0]!;
  while (isReservedTopLevel(first)) first = RESERVED_PREFIX + first;
  return [first, ...parts.slice(1)];
}
