/**
 * Copy stage, one group at a time (a Live Photo pair, its .AAE, edited variants travel together): for each
 * member that the plan marked, receive → verify (byte count; SHA-256 computed while streaming) → place
 * (never overwriting) → record in the manifest. A dropped connection retries the file on a fresh one (the
 * run's reconnect budget bounds this); a DEST problem (disk full, read-only, no permission: dest.ts) stops the
 * whole run (ctx.stopForDest); any other failure is that file's, reported, and the group goes on. A received
 * .part that is not placed (any failure after the receive) is removed at once.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import { isDestProblem } from './dest.ts';
import { place, receive, withLocalReader } from './copy.ts';
import type { FailedFile } from './events.ts';
import { probeCaptureDate, type DateProbe } from './exif.ts';
import { chooseCaptureDate, mayHaveExif, needsCaptureDate, suffixOf, targetDirParts, type DeviceFile, type FileGroup } from './layout.ts';
import type { Manifest } from './manifest.ts';
import type { Plan, Repair } from './plan.ts';
import { pickGroupSuffix, releaseClaims, suffixMembers } from './group-suffix.ts';
import { replaceInPlace } from './repair.ts';
import { tick, type RunContext } from './run-context.ts';
import type { PhotoAfc } from './source.ts';

/** What the members of a group share once the first is placed: the capture date and the clash suffix. */
interface GroupState {
  captured?: string;
  suffix?: number;
  /** Names this group claimed in ctx.claims (group-suffix.ts), released when the group is done. */
  claimed?: string[];
}

/**
 * Copies the planned members of `g` over connection slot `slot`. Never rejects: failures go to the summary.
 * Once the signal fires, the rest is left alone (neither failed nor counted as done).
 */
export async function copyGroup(ctx: RunContext, plan: Plan, g: FileGroup, slot: number): Promise<void> {
  const st = initGroupState(g, ctx.manifest, ctx.udid);
  try {
    await copyMembers(ctx, plan, g, slot, st);
  } finally {
    if (st.claimed) releaseClaims(ctx.claims, st.claimed);
  }
}

async function copyMembers(ctx: RunContext, plan: Plan, g: FileGroup, slot: number, st: GroupState): Promise<void> {
  for (const f of g.members) {
    if (!plan.todo.has(f)) {
      ctx.summary.skipped++;
      ctx.emit({ type: 'file', status: 'skipped', remote: f.remote, local: ctx.manifest.lookup(ctx.udid, f.remote)?.local, bytes: f.size });
      continue;
    }
    if (ctx.signal?.aborted) return; // interrupted: not failed, not done; the next run copies it
    if (ctx.slots.dead) {
      fail(ctx, f, ctx.slots.dead);
      continue;
    }
    await copyFile(ctx, plan, g, f, st, slot);
  }
}

function fail(ctx: RunContext, f: DeviceFile, e: unknown): void {
  const ff: FailedFile = { remote: f.remote, code: errorCode(e) ?? 'ERR_INTERNAL', reason: e instanceof Error ? e.message : String(e) };
  ctx.summary.failed.push(ff);
  if (!ctx.slots.dead) ctx.progress.filesDone++; // a file the lost device left is not done
  ctx.emit({ type: 'file', status: 'failed', remote: f.remote, bytes: f.size, code: ff.code, reason: ff.reason });
  tick(ctx);
}

async function copyFile(ctx: RunContext, plan: Plan, g: FileGroup, f: DeviceFile, st: GroupState, slot: number): Promise<void> {
  for (;;) {
    let partial = 0;
    let conn: PhotoAfc | undefined;
    let part: string | undefined;
    try {
      conn = await ctx.slots.get(slot);
      const r = await receive(conn, f, ctx.partsDir, (n) => {
        partial += n;
        ctx.progress.bytesDone += n;
      }, ctx.signal, ctx.watch);
      part = r.part;
      ctx.slots.ok();
      const repair = plan.repairs.get(f);
      if (repair && r.sha256 === repair.entry.sha256) {
        part = undefined; // restore() removes it, whatever happens
        await restore(ctx, f, repair, r.part);
        return;
      }
      // (a repair whose device bytes differ from the record is a new version: placed like any new file)
      if (needsCaptureDate(ctx.layout) && st.captured === undefined) st.captured = await groupDate(ctx, g, f, r.part);
      const dirParts = destDirParts(ctx, f, st.captured);
      if (st.suffix === undefined) {
        // one suffix for the whole group, free for every member, before the first one is placed
        const pick = await pickGroupSuffix(ctx.dest, dirParts, suffixMembers(g.members, (m) => ctx.manifest.lookup(ctx.udid, m.remote)?.local), ctx.claims);
        st.suffix = pick.suffix;
        st.claimed = pick.claimed;
      }
      const placed = await place(ctx.dest, dirParts, f.rel[f.rel.length - 1]!, r, st.suffix);
      part = undefined; // linked into place and unlinked (or unlinked as a copy of a file already there)
      await ctx.manifest.record({
        udid: ctx.udid, remote: f.remote, size: f.size, mtimeNs: f.mtimeNs.toString(), sha256: r.sha256, local: placed.local,
        ...(f === g.members[0] && st.captured ? { captured: st.captured } : {}),
      });
      ctx.summary.copied++;
      ctx.summary.copiedBytes += f.size;
      ctx.progress.filesDone++;
      ctx.emit({ type: 'file', status: 'copied', remote: f.remote, local: placed.local, bytes: f.size });
      tick(ctx);
      return;
    } catch (e) {
      ctx.progress.bytesDone -= partial;
      if (isDestProblem(e)) {
        // DEST is full, read-only or refuses us: every other file would fail the same way; the run stops with it
        ctx.stopForDest(e);
        tick(ctx);
        return;
      }
      if (conn && isConnectionLost(e)) ctx.slots.broken(slot, conn, e);
      if (ctx.signal?.aborted) {
        tick(ctx); // the aborted file's bytes leave the bar; it is neither failed nor done
        return;
      }
      // a dropped or stalled connection: retry on a fresh one, unless the device is now given up on; then this
      // file fails with what happened to it (e.g. ERR_TIMEOUT naming the file and the rate)
      if (isConnectionLost(e) && !ctx.slots.dead) continue;
      // a file whose connection was closed because another request on it timed out fails with why
      fail(ctx, f, errorCode(e) === 'ERR_CLOSED' && ctx.slots.dead ? ctx.slots.dead : e);
      return;
    } finally {
      // not placed or restored: never left behind looking complete
      if (part) await fsp.unlink(part).catch(() => undefined);
    }
  }
}

/**
 * DEST-relative folder of a file: [--event NAME], then the device's folder (device-folder.ts), then the layout's.
 * A CustomLayout says the whole path below DEST itself (it decides how devices are kept apart).
 */
function destDirParts(ctx: RunContext, f: DeviceFile, captured: string | undefined): string[] {
  const device = typeof ctx.layout === 'object' ? [] : ctx.deviceDir;
  return [...(ctx.event !== undefined ? [ctx.event] : []), ...device, ...targetDirParts(ctx.layout, f, captured)];
}

/** Puts the re-fetched, verified bytes of a recorded file back under its recorded name (repair.ts). */
async function restore(ctx: RunContext, f: DeviceFile, repair: Repair, part: string): Promise<void> {
  try {
    const { keptAside } = await replaceInPlace(ctx.dest, repair.entry.local, part, repair.found);
    ctx.summary.repaired.push({ remote: f.remote, local: repair.entry.local, ...(keptAside ? { keptAside } : {}) });
  } finally {
    await fsp.unlink(part).catch(() => undefined); // gone already when it was placed
  }
  ctx.summary.copied++;
  ctx.summary.copiedBytes += f.size;
  ctx.progress.filesDone++;
  ctx.emit({ type: 'file', status: 'repaired', remote: f.remote, local: repair.entry.local, bytes: f.size });
  tick(ctx);
}

/** Picks up the date and suffix a group got in an earlier run, so its new members join the same place. */
function initGroupState(g: FileGroup, m: Manifest, udid: string): GroupState {
  const st: GroupState = {};
  for (const f of g.members) {
    const e = m.lookup(udid, f.remote);
    if (!e) continue;
    if (f === g.members[0] && e.captured) st.captured = e.captured;
    const s = suffixOf(f.rel[f.rel.length - 1]!, e.local.slice(e.local.lastIndexOf('/') + 1));
    if (s !== undefined && st.suffix === undefined) st.suffix = s;
  }
  return st;
}

/**
 * The capture date of a group: EXIF/QuickTime date of its primary (from the file just received or the local copy) when
 * usable, else its file's time; a refused date is reported (summary.dateFallbacks and a 'date-fallback' event).
 */
async function groupDate(ctx: RunContext, g: FileGroup, f: DeviceFile, part: string): Promise<string> {
  const primary = g.members[0]!;
  let path: string | undefined;
  if (f === primary) path = part;
  else {
    const e = ctx.manifest.lookup(ctx.udid, primary.remote);
    if (e) path = join(ctx.dest, ...e.local.split('/'));
  }
  let probe: DateProbe | undefined;
  if (path && mayHaveExif(primary.relPath)) {
    const size = f === primary ? f.size : primary.size;
    probe = await withLocalReader(path, (r) => probeCaptureDate(r, size)).catch(() => undefined);
  }
  const c = chooseCaptureDate(primary, probe);
  if (c.fallback) {
    ctx.summary.dateFallbacks.push({ remote: primary.remote, reason: c.fallback });
    ctx.emit({ type: 'date-fallback', remote: primary.remote, reason: c.fallback });
  }
  return c.date;
}
