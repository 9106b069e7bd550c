/**
 * The library stages of a backup run (backup.ts calls them; they keep the engine's own stages unchanged):
 * inventory after the /DCIM walk, group selection (--album), sidecars after the copy (--albums), and the
 * delete gate (safe-delete.ts) in front of delete.ts.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '../../core/errors.ts';
import { deleteImported } from '../delete.ts';
import type { DeviceFile, FileGroup } from '../layout.ts';
import { STATE_DIR } from '../manifest.ts';
import type { DeleteCheck } from '../recheck.ts';
import type { RunContext } from '../run-context.ts';
import type { Selection } from '../selection.ts';
import { DB_PATH } from './device-read.ts';
import { inventoryLibrary, stagingDirOf, type LibraryInventory } from './inventory.ts';
import { PHOTOS_DB_WARNING, writeSafeToDelete } from './safe-delete.ts';
import { albumMembers, selectGroups, wholeGroupFiles } from './select.ts';
import { writeLibrarySidecars } from './sidecars.ts';

/** Runs the inventory (the database copy is staged in DEST/.iosdevice/library, or a temp folder in a dry run) and reports it. */
export async function libraryInventoryStage(ctx: RunContext, dcim: readonly DeviceFile[], o: { walkInFlight: number; dryRun: boolean }): Promise<LibraryInventory> {
  const stagingDir = o.dryRun ? join(tmpdir(), `iosdevice-library-${process.pid}-${Date.now()}`) : stagingDirOf(join(ctx.dest, STATE_DIR));
  try {
    const inv = await inventoryLibrary({ slots: ctx.slots, stagingDir, walkInFlight: o.walkInFlight, idleMs: ctx.idleMs, limits: ctx.limits, ...(ctx.signal ? { signal: ctx.signal } : {}) }, dcim);
    ctx.summary.library = inv.summary;
    ctx.emit({ type: 'library', ...inv.summary });
    return inv;
  } finally {
    await fsp.rm(stagingDir, { recursive: true, force: true }).catch(() => undefined); // the copy is read; never kept
  }
}

/**
 * The selected groups of the inventory (sidecars never alone; `album` keeps one album's assets). An album that
 * does not exist selects nothing and says so in the library warning.
 */
export function librarySelect(ctx: RunContext, inv: LibraryInventory, sel: Selection | undefined, album: string | undefined): FileGroup[] {
  let members: Set<number> | undefined;
  if (album !== undefined) {
    members = albumMembers(inv.index, album);
    if (!members) {
      const known = (inv.index?.albums ?? []).map((a) => a.title);
      inv.summary.warning = inv.index
        ? `no album named ${JSON.stringify(album)} (albums: ${known.map((t) => JSON.stringify(t)).join(', ') || 'none'}): nothing selected`
        : `--album needs the phone's Photos.sqlite, which could not be read: nothing selected`;
      ctx.summary.albumNotFound = album;
      return [];
    }
  }
  return selectGroups(inv.groups, sel, inv.assetOf, members);
}

/** --albums: XMP sidecars, album sidecars and library.json for what was backed up. */
export async function librarySidecarsStage(ctx: RunContext, inv: LibraryInventory, groups: readonly FileGroup[]): Promise<void> {
  ctx.summary.sidecars = await writeLibrarySidecars(ctx.dest, ctx.deviceDir, inv, groups, ctx.manifest, ctx.udid);
}

async function deviceHasDatabase(ctx: RunContext): Promise<boolean> {
  try {
    await (await ctx.slots.get(0)).stat(DB_PATH, { timeoutMs: ctx.idleMs });
    return true;
  } catch (e) {
    return errorCode(e) !== 'ERR_AFC_OBJECT_NOT_FOUND'; // unknown: assume there is one (the safe side)
  }
}

/**
 * --delete-after-import: only whole verified groups; on a phone with a Photos library, nothing unless
 * `evenIfPhotosBreaks`, and a safe-to-delete report instead.
 */
export async function libraryDeleteStage(
  ctx: RunContext, groups: readonly FileGroup[], inv: LibraryInventory | undefined, o: { check?: DeleteCheck; evenIfPhotosBreaks?: boolean },
): Promise<void> {
  const whole = wholeGroupFiles(groups, ctx.manifest, ctx.udid);
  const hasDb = inv ? inv.hasDatabase : await deviceHasDatabase(ctx);
  if (hasDb && !o.evenIfPhotosBreaks) {
    const wholeSet = new Set(whole);
    const verified = groups.filter((g) => g.members.every((f) => wholeSet.has(f)));
    ctx.summary.safeToDelete = await writeSafeToDelete(ctx.dest, ctx.deviceDir, verified, inv, ctx.manifest, ctx.udid);
    ctx.summary.deleteSkipped = PHOTOS_DB_WARNING;
    ctx.emit({ type: 'delete-skipped', reason: PHOTOS_DB_WARNING });
    return;
  }
  await deleteImported(ctx, whole, o.check);
}
