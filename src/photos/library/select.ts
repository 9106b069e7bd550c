/**
 * Selection and deletion by asset group in the library inventory.
 *
 * Selection: --since/--until/--include/--exclude (and a UI's picked paths) still decide per file, but a sidecar
 * — an `.AAE` or an edit recipe — never travels alone: it is copied exactly when another member of its group
 * is. `--album NAME` keeps only the groups whose asset is in that album (title, or "Folder / Title").
 *
 * Deletion: only whole groups whose every member is recorded and unchanged (original + Live video + .AAE +
 * edits), and never an iCloud original or a shared-album file (those are the Photos library's own storage).
 */
import type { FileGroup, DeviceFile } from '../layout.ts';
import type { Manifest } from '../manifest.ts';
import { isSelected, type Selection } from '../selection.ts';
import type { LibraryAsset, LibraryIndex } from './read-db.ts';

const isSidecar = (f: DeviceFile): boolean => /\.aae$/i.test(f.rel[f.rel.length - 1]!) || /\/Adjustments\/Adjustments\.plist$/.test(f.remote);

/** The selected members of a group (sidecars only with another member), or [] when the group is not selected. */
export function selectMembers(g: FileGroup, sel: Selection | undefined): DeviceFile[] {
  const chosen = g.members.filter((f) => !isSidecar(f) && isSelected(sel, f));
  if (chosen.length === 0) return [];
  return g.members.filter((f) => chosen.includes(f) || isSidecar(f));
}

/** The full name of an album as --album matches it: its folders and title joined with " / ". */
export function albumName(folders: readonly string[], title: string): string {
  return [...folders, title].join(' / ');
}

/**
 * The asset primary keys of the album called `name` (its title, or folders + title; case-sensitive first, then
 * case-insensitive), or undefined when there is none.
 */
export function albumMembers(index: LibraryIndex | undefined, name: string): Set<number> | undefined {
  const albums = index?.albums ?? [];
  const exact = albums.filter((a) => a.title === name || albumName(a.folders, a.title) === name);
  const hits = exact.length > 0 ? exact : albums.filter((a) => a.title.toLowerCase() === name.toLowerCase() || albumName(a.folders, a.title).toLowerCase() === name.toLowerCase());
  if (hits.length === 0) return undefined;
  return new Set(hits.flatMap((a) => a.assets));
}

/** Groups → the selected groups (members filtered), honouring an album filter. */
export function selectGroups(groups: readonly FileGroup[], sel: Selection | undefined, assetOf: Map<FileGroup, LibraryAsset>, album?: Set<number>): FileGroup[] {
  const out: FileGroup[] = [];
  for (const g of groups) {
    if (album) {
      const a = assetOf.get(g);
      if (!a || !album.has(a.pk)) continue;
    }
    const members = selectMembers(g, sel);
    if (members.length === 0) continue;
    const picked = members.length === g.members.length ? g : { key: g.key, members };
    const a = assetOf.get(g);
    if (a && picked !== g) assetOf.set(picked, a);
    out.push(picked);
  }
  return out;
}

/** Files the phone's Photos library stores for itself: never removed over AFC. */
const KEEP_ON_DEVICE = /^\/PhotoData\/(CPLAssets|PhotoCloudSharingData)\//;

/**
 * The files of the groups that may be removed as a whole: every member recorded in the manifest with the size
 * and mtime it has now (so verified), and no member that the library keeps for itself.
 */
export function wholeGroupFiles(groups: readonly FileGroup[], m: Manifest, udid: string): DeviceFile[] {
  const out: DeviceFile[] = [];
  for (const g of groups) {
    const ok = g.members.every((f) => {
      const e = m.get(udid, f.remote);
      // a HEIC dropped from DEST (--heic-original drop) exists only on the phone: never removed there
      return e && !e.stale && !e.dropped && e.size === f.size && e.mtimeNs === f.mtimeNs.toString() && !KEEP_ON_DEVICE.test(f.remote);
    });
    if (ok) out.push(...g.members);
  }
  return out;
}
