/**
 * Plan stage: which selected files need copying (not recorded yet, changed on the device since, or
 * their local copy is gone or has the wrong size), and what a --dry-run reports.
 *
 * A recorded file whose device file is unchanged (same size and mtime) but whose local copy is missing or has
 * another size is a repair: it is fetched again into its original name (repair.ts), never as a `-1` copy.
 * A same-size corruption of a local copy is not seen here (that would mean re-hashing DEST on every run):
 * `photos verify` finds it.
 */
import type { BackupSummary } from './events.ts';
import type { DeviceFile } from './layout.ts';
import { runPool } from './limit.ts';
import type { Manifest, ManifestEntry } from './manifest.ts';
import { localState, type LocalState } from './repair.ts';

/** A recorded file to fetch again into its original name, and what stands there now. */
export interface Repair {
  entry: ManifestEntry;
  found: LocalState;
}

/** Files to copy, and their total size in bytes. */
export interface Plan {
  todo: Set<DeviceFile>;
  todoBytes: number;
  /** Of `todo`: the ones to restore under their recorded name. */
  repairs: Map<DeviceFile, Repair>;
}

/** Same size and mtime as recorded, and not marked stale: the device still holds the recorded version. */
function deviceUnchanged(e: ManifestEntry | undefined, f: DeviceFile): e is ManifestEntry {
  return !!e && !e.stale && e.size === f.size && e.mtimeNs === f.mtimeNs.toString();
}

/**
 * What to do with one selected file: nothing (up to date: device file unchanged, local copy there with the
 * recorded size), a repair (device unchanged, local copy missing or of the wrong size), or a copy.
 */
async function decide(dest: string, e: ManifestEntry | undefined, f: DeviceFile): Promise<'skip' | 'copy' | Repair> {
  if (!deviceUnchanged(e, f)) return 'copy';
  if (e.dropped) return 'skip'; // --heic-original drop removed the copy on purpose: its JPEG stands in for it
  const found = await localState(dest, e.local).catch((): LocalState => ({ kind: 'other', what: 'unreadable' }));
  if (found.kind === 'file' && found.size === BigInt(e.size)) return 'skip';
  if (found.kind === 'other') return 'copy'; // a folder or symlink took the name: back it up under another one
  return { entry: e, found };
}

/** Local copies checked (lstat) at once. */
const CHECKS_IN_FLIGHT = 16;

/** Decides per selected file against the manifest and DEST (the plan keeps the order of `selected`). */
export async function planCopies(dest: string, manifest: Manifest, udid: string, selected: readonly DeviceFile[]): Promise<Plan> {
  const decided: ('skip' | 'copy' | Repair)[] = new Array(selected.length);
  await runPool(selected.keys(), CHECKS_IN_FLIGHT, async (i) => {
    const f = selected[i]!;
    decided[i] = await decide(dest, manifest.get(udid, f.remote), f);
  });
  const todo = new Set<DeviceFile>();
  const repairs = new Map<DeviceFile, Repair>();
  let todoBytes = 0;
  for (const [i, f] of selected.entries()) {
    const d = decided[i]!;
    if (d === 'skip') continue;
    if (d !== 'copy') repairs.set(f, d);
    todo.add(f);
    todoBytes += f.size;
  }
  return { todo, todoBytes, repairs };
}

/** Fills the dry-run part of the summary; returns the would-copy list in walk order. */
export function dryRunReport(plan: Plan, selectedCount: number, summary: BackupSummary): { remote: string; size: number }[] {
  for (const f of plan.todo) summary.wouldCopy.push({ remote: f.remote, size: f.size });
  summary.wouldCopyBytes = plan.todoBytes;
  summary.skipped = selectedCount - plan.todo.size;
  return summary.wouldCopy;
}
