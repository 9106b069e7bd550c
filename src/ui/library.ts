/**
 * The grid's contents: the device's whole library as tiles, one per asset group (a Live Photo's still and video,
 * an edit and its .AAE are one tile, as Photos shows them), newest first, with the capture time Photos.sqlite
 * records (else the file's time: the earlier of birth and modification). Read with the engine's own walk and inventory, so the tiles are exactly the
 * groups an import copies. The database copy is staged in a private temp folder and removed at once.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionSlots } from '../photos/connections.ts';
import type { DeviceFile } from '../photos/layout.ts';
import { inventoryLibrary } from '../photos/library/inventory.ts';
import { resolveLimits } from '../photos/limits.ts';
import { Manifest } from '../photos/manifest.ts';
import type { PhotoDevice } from '../photos/source.ts';
import { walkDevice } from '../photos/walk.ts';

/** One tile of the grid. */
export interface Tile {
  /** Index in the listing (stable for this listing's generation). */
  id: number;
  /** The file whose thumbnail the tile shows. */
  primary: DeviceFile;
  /** Every file of the group (what importing the tile copies). */
  members: DeviceFile[];
  /** Capture time, ms since the epoch. */
  t: number;
  /** Bytes of all members. */
  size: number;
  video: boolean;
  live: boolean;
}

/** A device's library as listed once. */
export interface Listing {
  udid: string;
  /** Changes with every new listing: ids of an older one are refused. */
  gen: number;
  tiles: Tile[];
  /** Where the asset list came from. */
  source: 'photos.sqlite' | 'files';
  warning?: string;
  /** Files the walk could not list or refused (unsafe names, symlinks…). */
  rejected: number;
}

const isVideo = (f: DeviceFile): boolean => /\.(mov|mp4|m4v)$/i.test(f.relPath);
const isSidecar = (f: DeviceFile): boolean => /\.aae$/i.test(f.relPath) || /\/Adjustments\/Adjustments\.plist$/.test(f.remote);
let generation = 0;

/** A file's time when the library has none: the earlier of birth and modification (a copy keeps the mtime). */
function fileTime(f: DeviceFile): number {
  const b = f.birthtime.getTime();
  const m = f.mtime.getTime();
  return Number.isFinite(b) && b > 0 && b < m ? b : m;
}

/**
 * Lists the library of `device`.
 * @throws ERR_PHOTOS_DISCONNECTED (device gone), ERR_ABORTED, ERR_PHOTOS_LIMIT
 */
export async function loadListing(device: PhotoDevice, o: { signal?: AbortSignal; idleMs?: number } = {}): Promise<Listing> {
  const idleMs = o.idleMs ?? 15_000;
  const limits = resolveLimits(undefined);
  const slots = new ConnectionSlots(device, 2, 3, { signal: o.signal, timeoutMs: idleMs });
  const stagingDir = await fsp.mkdtemp(join(tmpdir(), 'iosdevice-ui-library-'));
  try {
    const walked = await walkDevice(slots, '/DCIM', { inFlight: 32, timeoutMs: idleMs, limits, ...(o.signal ? { signal: o.signal } : {}) });
    const inv = await inventoryLibrary({ slots, stagingDir, walkInFlight: 32, idleMs, limits, ...(o.signal ? { signal: o.signal } : {}) }, walked.files);
    const tiles: Tile[] = [];
    for (const g of inv.groups) {
      const shown = g.members.filter((f) => !isSidecar(f));
      const primary = shown[0];
      if (!primary) continue; // a lone sidecar is never imported alone
      const asset = inv.assetOf.get(g);
      const video = isVideo(primary);
      tiles.push({
        id: 0, primary, members: g.members, t: asset?.createdMs ?? fileTime(primary),
        size: g.members.reduce((n, f) => n + f.size, 0), video, live: !video && shown.some(isVideo),
      });
    }
    tiles.sort((a, b) => b.t - a.t || (a.primary.remote < b.primary.remote ? -1 : 1));
    tiles.forEach((t, i) => (t.id = i));
    return {
      udid: device.udid, gen: ++generation, tiles, source: inv.summary.source,
      ...(inv.summary.warning !== undefined ? { warning: inv.summary.warning } : {}),
      rejected: walked.rejected.length + inv.rejected.length,
    };
  } finally {
    slots.closeAll();
    await fsp.rm(stagingDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Which tiles DEST already holds: every member recorded in DEST's manifest for this device, unchanged since (same
 * size and mtime, not marked stale). A DEST without a manifest (or none at all) holds nothing.
 */
export async function backedUp(dest: string, listing: Listing): Promise<Uint8Array> {
  const out = new Uint8Array(listing.tiles.length);
  let m: Manifest;
  try {
    m = await Manifest.open(dest, { readOnly: true });
  } catch {
    return out;
  }
  try {
    for (const t of listing.tiles) {
      out[t.id] = t.members.every((f) => {
        const e = m.get(listing.udid, f.remote);
        return e !== undefined && !e.stale && e.size === f.size && e.mtimeNs === f.mtimeNs.toString();
      }) ? 1 : 0;
    }
  } finally {
    await m.close();
  }
  return out;
}
