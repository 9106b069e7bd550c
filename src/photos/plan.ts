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
import type { EntryInfo, Manifest, ManifestEntry } from './manifest.ts';
import { localState, localStateSync, type LocalState } from './repair.ts';

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
function deviceUnchanged(e: EntryInfo | undefined, f: DeviceFile): e is EntryInfo {
  return !!e && !e.stale && e.size === f.size && e.mtimeNs === f.mtimeNs.toString();
}

type Decision = 'skip' | 'copy' | LocalState;

/**
 * What to do with one selected file, given what stands at its recorded name (`found`, when the device file is
 * unchanged): nothing (the local copy is there with the recorded size), a repair (missing or of the wrong size:
 * the LocalState is kept for it), or a copy.
 */
function judge(size: number, found: LocalState): Decision {
  if (found.kind === 'file' && found.size === BigInt(size)) return 'skip';
  if (found.kind === 'other') return 'copy'; // a folder or symlink took the name: back it up under another one
  return found;
}

/** Local copies checked (lstat) at once through the thread pool. */
const CHECKS_IN_FLIGHT = 16;
/**
 * The local checks run in the event loop (lstatSync) while they are cheap — DEST answering from the kernel's
 * caches, a few µs each, where a thread-pool trip costs tens — in slices of at most `sliceMs`, yielding in between;
 * once they average more than `slowCheckMs` (a network or spinning disk), the rest goes through the thread pool,
 * CHECKS_IN_FLIGHT at once.
 */
/** The two bounds above (a test sets sliceMs to 0 to take the thread-pool path from the start). */
export const PLAN_CHECKS = { sliceMs: 10, slowCheckMs: 0.2 };

/** Decides per selected file against the manifest and DEST (the plan keeps the order of `selected`). */
export async function planCopies(dest: string, manifest: Manifest, udid: string, selected: readonly DeviceFile[]): Promise<Plan> {
  const decided: Decision[] = new Array(selected.length);
  // the files whose local copy is to be looked at: index, recorded local path and size (one manifest lookup per file)
  const check: number[] = [];
  const locals: string[] = [];
  const sizes: number[] = [];
  for (const [i, f] of selected.entries()) {
    const e = manifest.lookup(udid, f.remote);
    if (!deviceUnchanged(e, f)) decided[i] = 'copy';
    else if (e.dropped) decided[i] = 'skip'; // --heic-original drop removed the copy on purpose: its JPEG stands in for it
    else {
      check.push(i);
      locals.push(e.local);
      sizes.push(e.size);
    }
  }
  const unreadable = (): LocalState => ({ kind: 'other', what: 'unreadable' });
  const decide = (k: number, found: LocalState): void => {
    decided[check[k]!] = judge(sizes[k]!, found);
  };
  let k = 0;
  let spent = 0;
  for (let fast = true; fast && k < check.length; ) {
    const t0 = performance.now();
    let t = t0;
    while (k < check.length && t - t0 < PLAN_CHECKS.sliceMs) {
      let found: LocalState;
      try {
        found = localStateSync(dest, locals[k]!);
      } catch {
        found = unreadable();
      }
      decide(k++, found);
      t = performance.now();
    }
    spent += t - t0;
    fast = spent / k <= PLAN_CHECKS.slowCheckMs; // on average so far: one slice slowed by a GC or a busy CPU does not decide it
    if (k < check.length) await new Promise<void>((r) => setImmediate(r));
  }
  const rest = function* (): Generator<number> {
    for (let j = k; j < check.length; j++) yield j;
  };
  await runPool(rest(), CHECKS_IN_FLIGHT, async (j) => {
    decide(j, await localState(dest, locals[j]!).catch(unreadable));
  });
  const todo = new Set<DeviceFile>();
  const repairs = new Map<DeviceFile, Repair>();
  let todoBytes = 0;
  for (const [i, f] of selected.entries()) {
    const d = decided[i]!;
    if (d === 'skip') continue;
    if (d !== 'copy') repairs.set(f, { entry: manifest.get(udid, f.remote)!, found: d });
    todo.add(f);
    todoBytes += f.size;
  }
  return { todo, todoBytes, repairs };
}

/**
 * One entry of a dry run's would-copy list: a view of the walk's record (a library lists 100k+ of them, so the
 * path string is made when asked for, not held); JSON gives `{ remote, size }`.
 */
class WouldCopy {
  readonly #f: DeviceFile;
  constructor(f: DeviceFile) {
    this.#f = f;
  }
  get remote(): string {
    return this.#f.remote;
  }
  get size(): number {
    return this.#f.size;
  }
  toJSON(): { remote: string; size: number } {
    return { remote: this.remote, size: this.size };
  }
}

/** Fills the dry-run part of the summary; returns the would-copy list in walk order. */
export function dryRunReport(plan: Plan, selectedCount: number, summary: BackupSummary): { remote: string; size: number }[] {
  for (const f of plan.todo) summary.wouldCopy.push(new WouldCopy(f));
  summary.wouldCopyBytes = plan.todoBytes;
  summary.skipped = selectedCount - plan.todo.size;
  return summary.wouldCopy;
}
