/**
 * The whole-library inventory (`photos backup`, unless --dcim-only): /DCIM plus /PhotoData/CPLAssets (iCloud
 * originals), /PhotoData/Mutations (edits) and /PhotoData/PhotoCloudSharingData (shared albums), described by
 * Photos.sqlite when its layout is known. It yields the files to copy with their DEST names (map.ts), their asset
 * groups (an original, its Live Photo video, its edits and .AAE travel together), and what is only in iCloud.
 *
 * Live Photos are paired by their content identifier: a still whose group has no video and a video whose group
 * has no still (and that the database does not list as a video of its own) are matched by the identifier in the
 * still's MakerNote (or ZMEDIAGROUPUUID) and in the video's QuickTime metadata, read with a few ranged reads.
 * When both halves share a folder and a stem, the name rule pairs them (the fallback; it is how iOS names them).
 *
 * Without a readable Photos.sqlite (absent, damaged, or a layout this version does not know) the inventory is
 * file-only: the same folders, the same groups and Live pairing from the files, and a warning; nothing is lost.
 */
import { join } from 'node:path';
import { errorCode, isConnectionLost } from '../../core/errors.ts';
import type { ConnectionSlots } from '../connections.ts';
import { isDestProblem } from '../dest.ts';
import { groupFiles, groupKeyOf, splitExt, type DeviceFile, type FileGroup } from '../layout.ts';
import { runPool } from '../limit.ts';
import type { BackupLimits } from '../limits.ts';
import { walkDevice, type Rejected } from '../walk.ts';
import { blockReader } from './bytes.ts';
import { deviceReader, stageDatabase } from './device-read.ts';
import { readStillContentId } from './makernote.ts';
import { classifyMutation, cplName, CPL_ROOT, destDirOf, editedStem, ICLOUD_DIR, MUTATIONS_ROOT, SHARED_ROOT, sharedRel } from './map.ts';
import { readMovieContentId } from './quicktime.ts';
import { readLibrary, type LibraryAsset, type LibraryIndex } from './read-db.ts';

/** An asset whose original is not on the phone. */
export interface CloudOnlyAsset {
  /** Path below the AFC root the database gives (`DCIM/100APPLE/IMG_0042.HEIC`). */
  path: string;
  uuid?: string;
  /** The name Photos shows (original file name), else the device name. */
  filename: string;
  createdMs?: number;
  /** 'icloud': the database says the original is only in iCloud; 'missing': it says local, but there is no file. */
  reason: 'icloud' | 'missing';
}

/** What the summary says about the library (BackupSummary.library). */
export interface LibrarySummary {
  /** Where the asset list came from. */
  source: 'photos.sqlite' | 'files';
  /** The layout found ("iOS 16–17.5 (ZASSET, Z_28ASSETS)"). */
  schema?: string;
  /** Why the inventory is file-only, or that the database copy did not settle. */
  warning?: string;
  /** Assets in the database (not in Recently Deleted). */
  assets: number;
  /** Files found: DCIM, iCloud originals (CPLAssets), edit files (Mutations), shared-album files. */
  files: { dcim: number; icloud: number; edits: number; shared: number };
  /** Live Photos paired by content identifier because their names differ. */
  livePairedById: number;
  cloudOnly: CloudOnlyAsset[];
  albums: { title: string; count: number; shared: boolean }[];
  /** Bytes of Photos.sqlite + -wal copied. */
  databaseBytes: number;
  inventoryMs: number;
}

/** The inventory: files with DEST names, asset groups, and the asset of each group where known. */
export interface LibraryInventory {
  files: DeviceFile[];
  groups: FileGroup[];
  assetOf: Map<FileGroup, LibraryAsset>;
  index?: LibraryIndex;
  /** True when the device has a Photos.sqlite at all (then AFC deletion leaves it stale). */
  hasDatabase: boolean;
  rejected: Rejected[];
  summary: LibrarySummary;
}

/** What the inventory needs from the run. */
export interface InventoryContext {
  slots: ConnectionSlots;
  /** Staging folder for the database copy (inside DEST/.iosdevice). */
  stagingDir: string;
  walkInFlight: number;
  idleMs: number;
  limits: BackupLimits;
  signal?: AbortSignal;
}

const isVideoName = (n: string): boolean => /\.(mov|mp4|m4v)$/i.test(n);
const isStillName = (n: string): boolean => /\.(heic|heif|jpe?g)$/i.test(n);
const nameOf = (f: DeviceFile): string => f.rel[f.rel.length - 1]!;

async function walkRoot(ctx: InventoryContext, root: string): Promise<{ files: DeviceFile[]; rejected: Rejected[] }> {
  const w = await walkDevice(ctx.slots, root, { inFlight: ctx.walkInFlight, timeoutMs: ctx.idleMs, limits: ctx.limits, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  // a library folder the phone does not have (no iCloud Photos, no edits) is normal, not a problem
  return { files: w.files, rejected: w.rejected.filter((r) => !(r.remote === root && r.reason === 'vanished')) };
}

async function readDb(ctx: InventoryContext, s: LibrarySummary): Promise<{ index?: LibraryIndex; has: boolean }> {
  let staged;
  for (;;) {
    const c = await ctx.slots.get(0);
    try {
      staged = await stageDatabase(c, ctx.stagingDir, ctx.idleMs);
      break;
    } catch (e) {
      if (isDestProblem(e)) throw e; // DEST full, read-only, refused: the run stops with it (dest.ts)
      if (!isConnectionLost(e)) {
        s.warning = `Photos.sqlite could not be copied (${errorCode(e) ?? 'error'}: ${e instanceof Error ? e.message : String(e)}): file-only inventory`;
        return { has: true };
      }
      ctx.slots.broken(0, c);
    }
  }
  if (!staged) {
    s.warning = 'the device has no /PhotoData/Photos.sqlite: file-only inventory (no albums, favourites or iCloud status)';
    return { has: false };
  }
  s.databaseBytes = staged.bytes + staged.walBytes;
  try {
    const r = readLibrary(staged.db);
    if ('unknown' in r) {
      s.warning = `Photos.sqlite has a layout this version does not know (${r.reason}): file-only inventory, every file is still copied`;
      return { has: true };
    }
    s.source = 'photos.sqlite';
    s.schema = r.index.schema.label;
    if (!staged.settled) s.warning = 'Photos.sqlite kept changing while it was copied (the phone is in use): albums and flags may be a moment old';
    return { index: r.index, has: true };
  } catch (e) {
    s.warning = `Photos.sqlite could not be read (${errorCode(e) ?? 'error'}): file-only inventory`;
    return { has: true };
  }
}

/** A DeviceFile under a new DEST rel. */
function remap(f: DeviceFile, rel: string[]): DeviceFile {
  return { remote: f.remote, rel, relPath: rel.join('/'), size: f.size, mtime: f.mtime, mtimeNs: f.mtimeNs, birthtime: f.birthtime };
}

/**
 * Builds the inventory from the /DCIM walk (rel below /DCIM) and the library folders it walks itself.
 * @throws connection errors the slots could not recover from (ERR_PHOTOS_DISCONNECTED); ERR_ABORTED
 */
export async function inventoryLibrary(ctx: InventoryContext, dcim: readonly DeviceFile[]): Promise<LibraryInventory> {
  const t0 = performance.now();
  const s: LibrarySummary = { source: 'files', assets: 0, files: { dcim: dcim.length, icloud: 0, edits: 0, shared: 0 }, livePairedById: 0, cloudOnly: [], albums: [], databaseBytes: 0, inventoryMs: 0 };
  const { index, has } = await readDb(ctx, s);
  const rejected: Rejected[] = [];
  const walks = new Map<string, DeviceFile[]>();
  for (const root of [CPL_ROOT, MUTATIONS_ROOT, SHARED_ROOT]) {
    const w = await walkRoot(ctx, root);
    walks.set(root, w.files);
    rejected.push(...w.rejected);
  }
  const byPath = new Map<string, LibraryAsset>();
  for (const a of index?.assets ?? []) byPath.set(a.path, a);

  const files: DeviceFile[] = [...dcim];
  const keys = new Map<DeviceFile, string>();
  const dcimNames = new Set(dcim.map((f) => f.relPath.toUpperCase()));
  // iCloud originals: named after the asset's original file name when the database knows it
  const cplStem = new Map<string, string>(); // 'groupN/<UUID>' → DEST stem
  for (const f of walks.get(CPL_ROOT)!) {
    const asset = byPath.get(f.remote.slice(1));
    const name = cplName(nameOf(f), asset?.originalFilename);
    cplStem.set(`${f.rel.slice(0, -1).join('/')}/${splitExt(nameOf(f)).stem}`, splitExt(name).stem);
    files.push(remap(f, [ICLOUD_DIR, ...f.rel.slice(0, -1), name]));
    s.files.icloud++;
  }
  for (const f of walks.get(MUTATIONS_ROOT)!) {
    const m = classifyMutation(f.rel);
    if (!m) {
      files.push(remap(f, ['Mutations', ...f.rel])); // not below an original's folder: kept, mirrored
      s.files.edits++;
      continue;
    }
    const dir = destDirOf(m.originalDir)!;
    const stem = m.originalDir[0] === 'PhotoData' ? cplStem.get(`${m.originalDir[2]}/${m.originalStem}`) ?? m.originalStem : m.originalStem;
    let rel: string[];
    if (m.kind === 'render') rel = [...dir, `${editedStem(stem)}${m.ext}`];
    else if (m.kind === 'recipe') {
      const plain = [...dir, `${stem}.AAE`];
      rel = dcimNames.has(plain.join('/').toUpperCase()) ? [...dir, `${editedStem(stem)}.AAE`] : plain;
    } else rel = [...dir, `${stem}.mutations`, ...m.rest!];
    const g = remap(f, rel);
    keys.set(g, `${dir.join('/')}/${stem.toUpperCase()}`);
    files.push(g);
    s.files.edits++;
  }
  for (const f of walks.get(SHARED_ROOT)!) {
    const rel = sharedRel(f.rel);
    if (!rel) continue; // the album's Info.plist, caches: not photos
    files.push(remap(f, rel));
    s.files.shared++;
  }

  const keyOf = (f: DeviceFile): string => keys.get(f) ?? groupKeyOf(f);
  await pairLiveById(ctx, files, keyOf, keys, byPath, s);
  const groups = groupFiles(files, keyOf);
  const assetOf = new Map<FileGroup, LibraryAsset>();
  const present = new Set(files.map((f) => f.remote));
  for (const g of groups) {
    for (const f of g.members) {
      const a = byPath.get(f.remote.slice(1));
      if (a) {
        assetOf.set(g, a);
        break;
      }
    }
  }
  for (const a of index?.assets ?? []) {
    if (a.trashed) continue;
    s.assets++;
    if (present.has(`/${a.path}`)) continue;
    s.cloudOnly.push({
      path: a.path, filename: a.originalFilename ?? a.path.slice(a.path.lastIndexOf('/') + 1), reason: a.localOriginal === false ? 'icloud' : 'missing',
      ...(a.uuid ? { uuid: a.uuid } : {}), ...(a.createdMs !== undefined ? { createdMs: a.createdMs } : {}),
    });
  }
  s.albums = (index?.albums ?? []).map((al) => ({ title: [...al.folders, al.title].join(' / '), count: al.assets.length, shared: al.shared }));
  s.inventoryMs = Math.round(performance.now() - t0);
  return { files, groups, assetOf, ...(index ? { index } : {}), hasDatabase: has, rejected, summary: s };
}

/** Reads content ids in parallel over the slots; a file that cannot be parsed or read simply has none. */
async function readIds(ctx: InventoryContext, list: DeviceFile[], video: boolean): Promise<Map<DeviceFile, string>> {
  const out = new Map<DeviceFile, string>();
  let slot = 0;
  await runPool(list, Math.min(16, ctx.walkInFlight), async (f) => {
    const read = blockReader(deviceReader(ctx.slots, slot++ % ctx.slots.count, f.remote, ctx.idleMs), f.size);
    try {
      const id = video ? await readMovieContentId(read, f.size) : await readStillContentId(read, f.size);
      if (id) out.set(f, id);
    } catch (e) {
      const c = errorCode(e);
      if (c === 'ERR_PHOTOS_DISCONNECTED' || c === 'ERR_ABORTED' || ctx.signal?.aborted) throw e;
      // ERR_PHOTOS_MEDIA, a vanished or unreadable file: no identifier, the name rule stays
    }
  });
  return out;
}

/**
 * Moves each unpaired Live video into the group of the still with the same content identifier (keys map), and
 * gives a renamed CPL video the still's stem.
 */
async function pairLiveById(
  ctx: InventoryContext, files: DeviceFile[], keyOf: (f: DeviceFile) => string, keys: Map<DeviceFile, string>,
  byPath: Map<string, LibraryAsset>, s: LibrarySummary,
): Promise<void> {
  const groups = new Map<string, DeviceFile[]>();
  for (const f of files) {
    const k = keyOf(f);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(f);
  }
  const lonelyStills: DeviceFile[] = [];
  const lonelyVideos: DeviceFile[] = [];
  const haveDb = byPath.size > 0;
  for (const members of groups.values()) {
    const originals = members.filter((f) => !keys.has(f)); // not edit renders
    const stills = originals.filter((f) => isStillName(nameOf(f)));
    const videos = originals.filter((f) => isVideoName(nameOf(f)));
    if (stills.length === 1 && videos.length === 0) {
      const a = byPath.get(stills[0]!.remote.slice(1));
      if (!haveDb || a?.live) lonelyStills.push(stills[0]!);
    } else if (videos.length === 1 && stills.length === 0 && !byPath.get(videos[0]!.remote.slice(1))) {
      lonelyVideos.push(videos[0]!); // not a video asset of its own: maybe the other half of a Live Photo
    }
  }
  if (lonelyVideos.length === 0 || lonelyStills.length === 0) return;
  const vids = await readIds(ctx, lonelyVideos, true);
  if (vids.size === 0) return;
  const stillIds = new Map<string, DeviceFile>();
  const toRead: DeviceFile[] = [];
  // without an identifier from the database, only stills in a folder that has an identified video are read
  const dirOf = (f: DeviceFile): string => f.remote.slice(0, f.remote.lastIndexOf('/'));
  const videoDirs = new Set([...vids.keys()].map(dirOf));
  for (const f of lonelyStills) {
    const id = byPath.get(f.remote.slice(1))?.contentId;
    if (id) stillIds.set(id, f);
    else if (videoDirs.has(dirOf(f))) toRead.push(f);
  }
  for (const [f, id] of await readIds(ctx, toRead, false)) stillIds.set(id, f);
  for (const [v, id] of vids) {
    const still = stillIds.get(id);
    if (!still) continue;
    keys.set(v, keyOf(still));
    s.livePairedById++;
    // an iCloud video named by its own UUID takes the still's (DEST) stem, as Image Capture would name the pair
    if (v.rel[0] === ICLOUD_DIR) {
      const i = files.indexOf(v);
      const renamed = remap(v, [...v.rel.slice(0, -1), `${splitExt(nameOf(still)).stem}${splitExt(nameOf(v)).ext}`]);
      keys.set(renamed, keyOf(still));
      keys.delete(v);
      files[i] = renamed;
    }
  }
}

/** DEST/.iosdevice/library: where the database copy is staged. */
export function stagingDirOf(stateDir: string): string {
  return join(stateDir, 'library');
}
