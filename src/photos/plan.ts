/**
 * Plan stage: which selected files need copying (not recorded yet, changed on the device since, or
 * their local copy is gone), and what a --dry-run reports.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { BackupSummary } from './events.ts';
import type { DeviceFile } from './layout.ts';
import { runPool } from './limit.ts';
import type { Manifest, ManifestEntry } from './manifest.ts';

/** Files to copy, and their total size in bytes. */
export interface Plan {
  todo: Set<DeviceFile>;
  todoBytes: number;
}

/** Same size and mtime as recorded (and not marked stale), and the local copy still there with that size. */
export async function isUpToDate(dest: string, e: ManifestEntry | undefined, f: DeviceFile): Promise<boolean> {
  if (!e || e.stale || e.size !== f.size || e.mtimeNs !== f.mtimeNs.toString()) return false;
  try {
    const st = await fsp.lstat(join(dest, ...e.local.split('/')));
    return st.isFile() && st.size === e.size;
  } catch {
    return false;
  }
}

/** Local copies checked (lstat) at once. */
const CHECKS_IN_FLIGHT = 16;

/** Decides per selected file against the manifest and DEST (the plan keeps the order of `selected`). */
export async function planCopies(dest: string, manifest: Manifest, udid: string, selected: readonly DeviceFile[]): Promise<Plan> {
  const upToDate = new Uint8Array(selected.length);
  await runPool(selected.keys(), CHECKS_IN_FLIGHT, async (i) => {
    const f = selected[i]!;
    if (await isUpToDate(dest, manifest.get(udid, f.remote), f)) upToDate[i] = 1;
  });
  const todo = new Set<DeviceFile>();
  let todoBytes = 0;
  for (const [i, f] of selected.entries()) {
    if (upToDate[i]) continue;
    todo.add(f);
    todoBytes += f.size;
  }
  return { todo, todoBytes };
}

/** Fills the dry-run part of the summary; returns the would-copy list in walk order. */
export function dryRunReport(plan: Plan, selectedCount: number, summary: BackupSummary): { remote: string; size: number }[] {
  for (const f of plan.todo) summary.wouldCopy.push({ remote: f.remote, size: f.size });
  summary.wouldCopyBytes = plan.todoBytes;
  summary.skipped = selectedCount - plan.todo.size;
  return summary.wouldCopy;
}
