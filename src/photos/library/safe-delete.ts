/**
 * Safe deletion: what `--delete-after-import` does on a phone that has a Photos library.
 *
 * Deleting a DCIM file over AFC removes its bytes but not its row in Photos.sqlite, so the Photos app keeps
 * showing the photo as a broken, grey tile (ifuse issue 38; the virtual iPhone models it:
 * virtual-iphone/photos-app.ts). So on such a phone the backup removes nothing unless the user also passes
 * `--delete-even-if-photos-breaks`; instead it warns once and writes `safe-to-delete.txt` (+ `.json`) in the
 * device's folder below DEST (device-folder.ts): the
 * date ranges in which every photo of the library is backed up — a selection one drags across in the Photos app
 * (Library → All Photos → Select), whose delete keeps the database right — and the item list.
 */
import type { FileGroup } from '../layout.ts';
import { fileDate } from '../layout.ts';
import type { Manifest } from '../manifest.ts';
import type { LibraryInventory } from './inventory.ts';
import { resolveInside } from '../safe-path.ts';
import { writeOwned } from './sidecars.ts';

/** The warning, printed once and kept in the summary. */
export const PHOTOS_DB_WARNING =
  'Deleting photos over USB removes the files but not their entries in the phone\'s Photos database: the Photos app then ' +
  'shows them as broken grey tiles. Nothing was deleted. Delete them in the Photos app instead (safe-to-delete.txt in the backup folder lists, ' +
  'by date range, what is backed up and verified), or add --delete-even-if-photos-breaks to delete over USB anyway.';

interface Item {
  ms: number;
  name: string;
  files: string[];
}

const stamp = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** What the report holds. */
export interface SafeToDelete {
  items: number;
  ranges: { from: string; to: string; count: number }[];
  /** The report's text file (absolute path); the JSON one is beside it. */
  path: string;
}

/**
 * Writes safe-to-delete.txt and .json in `root` (the device's folder below DEST; [] = DEST) for the `verified` groups (every member copied and recorded).
 * Ranges are runs of the library's assets in date order that are all backed up; without a database, each
 * backed-up day is one range. @throws fs errors (DEST problems)
 */
export async function writeSafeToDelete(dest: string, root: readonly string[], verified: readonly FileGroup[], inv: LibraryInventory | undefined, m: Manifest, udid: string): Promise<SafeToDelete> {
  const backed = new Map<number, Item>();
  const items: Item[] = [];
  for (const g of verified) {
    const a = inv?.assetOf.get(g);
    const p = g.members[0]!;
    const it = { ms: a?.createdMs ?? fileDate(p).getTime(), name: a?.originalFilename ?? p.rel[p.rel.length - 1]!, files: g.members.map((f) => m.get(udid, f.remote)?.local ?? f.remote) };
    items.push(it);
    if (a) backed.set(a.pk, it);
  }
  items.sort((x, y) => x.ms - y.ms);
  const ranges: SafeToDelete['ranges'] = [];
  const push = (run: Item[]): void => {
    if (run.length) ranges.push({ from: stamp(run[0]!.ms), to: stamp(run[run.length - 1]!.ms), count: run.length });
  };
  if (inv?.index) {
    const all = inv.index.assets.filter((a) => !a.trashed && !a.hidden).sort((x, y) => (x.createdMs ?? 0) - (y.createdMs ?? 0));
    let run: Item[] = [];
    for (const a of all) {
      const it = backed.get(a.pk);
      if (it) run.push(it);
      else {
        push(run);
        run = [];
      }
    }
    push(run);
  } else {
    const byDay = new Map<string, Item[]>();
    for (const it of items) (byDay.get(stamp(it.ms).slice(0, 10)) ?? byDay.set(stamp(it.ms).slice(0, 10), []).get(stamp(it.ms).slice(0, 10))!).push(it);
    for (const run of byDay.values()) push(run);
  }
  const lines = [
    `Safe to delete — written by iosdevice at ${new Date().toISOString()}`,
    '',
    'Every photo and video listed here is backed up in this folder and verified (SHA-256).',
    'Delete them in the Photos app, not over USB: Library → All Photos → Select, then drag across a date range below.',
    inv?.index ? 'In each range, every item of the library is backed up (hidden and recently deleted items are not counted).' : 'The phone\'s library could not be read: the ranges are the days with backed-up items only.',
    '',
    'Date ranges (UTC):',
    ...ranges.map((r) => `  ${r.from}  →  ${r.to}   ${r.count} item${r.count === 1 ? '' : 's'}`),
    '',
    'Items:',
    ...items.map((it) => `  ${stamp(it.ms)}  ${it.name}  (${it.files.join(', ')})`),
    '',
  ];
  const mine = (old: string): boolean => old.startsWith('Safe to delete — written by iosdevice') || old.includes('"writtenBy":"iosdevice"');
  await writeOwned(dest, [...root, 'safe-to-delete.txt'], lines.join('\n'), mine);
  await writeOwned(dest, [...root, 'safe-to-delete.json'], JSON.stringify({ writtenBy: 'iosdevice', ranges, items }) + '\n', mine);
  return { items: items.length, ranges, path: resolveInside(dest, [...root, 'safe-to-delete.txt']) };
}
