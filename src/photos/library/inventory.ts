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
import { groupKeyOf, groupStemOf, sortMembers, splitExt, type DeviceFile, type FileGroup } from '../layout.ts';
import { runPool } from '../limit.ts';
import type { BackupLimits } from '../limits.ts';
import { walkDevice, WalkedFile, type Rejected, type WalkedFolder } from '../walk.ts';
import { AssetsByPath } from './by-path.ts';
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
/** The file's name (a walk record has it; `rel` would build an array). */
const nameOf = (f: DeviceFile): string => (f instanceof WalkedFile ? f.name : f.rel[f.rel.length - 1]!);

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

/** A device file under a new DEST rel (an iCloud original, an edit, a shared-album file): the rest is the walk's record. */
class MovedFile implements DeviceFile {
  constructor(
    readonly base: DeviceFile,
    readonly rel: string[],
  ) {}
  get remote(): string {
    return this.base.remote;
  }
  get relPath(): string {
    return this.rel.join('/');
  }
  get size(): number {
    return this.base.size;
  }
  get mtime(): Date {
    return this.base.mtime;
  }
  get mtimeNs(): bigint {
    return this.base.mtimeNs;
  }
  get birthtime(): Date {
    return this.base.birthtime;
  }
}

/**
 * An asset group of the inventory. Its key (FileGroup.key: folder + stem, for messages) is derived from the
 * primary member when asked for instead of being held: a library has 100k+ groups.
 */
class AssetGroup implements FileGroup {
  constructor(readonly members: DeviceFile[]) {}
  get key(): string {
    return groupKeyOf(this.members[0]!);
  }
}

/**
 * Files by group key (folder + stem: FileGroup.key), held as folder → stem → members so that no key string is
 * built per file (a library has 100k+); `lists` are the member lists in order of first appearance.
 */
class GroupsByKey {
  #byDir = new Map<string, Map<string, DeviceFile[]>>();
  #walkDirs = new Map<WalkedFolder, string>();
  lists: DeviceFile[][] = [];

  /** The group-key folder part of a walk folder ('100APPLE'), one string per folder. */
  dirOf(folder: WalkedFolder): string {
    let d = this.#walkDirs.get(folder);
    if (d === undefined) this.#walkDirs.set(folder, (d = folder.rel.join('/')));
    return d;
  }

  add(dir: string, stem: string, f: DeviceFile): void {
    let stems = this.#byDir.get(dir);
    if (!stems) this.#byDir.set(dir, (stems = new Map()));
    const list = stems.get(stem);
    if (list) list.push(f);
    else {
      const l = [f];
      stems.set(stem, l);
      this.lists.push(l);
    }
  }

  clear(): void {
    this.#byDir = new Map();
    this.#walkDirs = new Map();
    this.lists = [];
  }
}

/** `f` under a new DEST rel (a moved file is moved again from its walk record). */
function remap(f: DeviceFile, rel: string[]): DeviceFile {
  return new MovedFile(f instanceof MovedFile ? f.base : f, rel.slice()); // slice: exactly its length (a spread leaves spare slots)
}

/**
 * Builds the inventory from the /DCIM walk (rel below /DCIM) and the library folders it walks itself.
 * @throws connection errors the slots could not recover from (ERR_PHOTOS_DISCONNECTED); ERR_ABORTED
 */
export async function inventoryLibrary(ctx: InventoryContext, dcim: readonly DeviceFile[]): Promise<LibraryInventory> {
  const t0 = performance.now();
  const s: LibrarySummary = { source: 'files', assets: 0, files: { dcim: dcim.length, icloud: 0, edits: 0, shared: 0 }, livePairedById: 0, cloudOnly: [], albums: [], databaseBytes: 0, inventoryMs: 0 };
  // The library folders are walked before the database is read: a walk's request garbage is then collected
  // while little is live, instead of piling up on top of the asset index until the end of the run.
  const rejected: Rejected[] = [];
  const walks = new Map<string, DeviceFile[]>();
  for (const root of [CPL_ROOT, MUTATIONS_ROOT, SHARED_ROOT]) {
    const w = await walkRoot(ctx, root);
    walks.set(root, w.files);
    rejected.push(...w.rejected);
  }
  const { index, has } = await readDb(ctx, s);
  const byPath = new AssetsByPath(index?.assets ?? []);

  const files: DeviceFile[] = [...dcim];
  const edits = new Map<DeviceFile, { dir: string; stem: string }>(); // edit files: the group of their original
  // only a DCIM .AAE can take an edit recipe's plain name (a small set, not one entry per file)
  const dcimAae = new Set<string>();
  for (const f of dcim) if (/\.aae$/i.test(nameOf(f))) dcimAae.add(f.relPath.toUpperCase());
  // iCloud originals: named after the asset's original file name when the database knows it
  const cplStem = new Map<string, string>(); // 'groupN/<UUID>' → DEST stem
  for (const f of walks.get(CPL_ROOT)!) {
    const asset = byPath.get(f.remote);
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
      rel = dcimAae.has(plain.join('/').toUpperCase()) ? [...dir, `${editedStem(stem)}.AAE`] : plain;
    } else rel = [...dir, `${stem}.mutations`, ...m.rest!];
    const g = remap(f, rel);
    edits.set(g, { dir: dir.join('/'), stem: stem.toUpperCase() });
    files.push(g);
    s.files.edits++;
  }
  for (const f of walks.get(SHARED_ROOT)!) {
    const rel = sharedRel(f.rel);
    if (!rel) continue; // the album's Info.plist, caches: not photos
    files.push(remap(f, rel));
    s.files.shared++;
  }
  walks.clear();
  cplStem.clear();

  // one grouping pass: files by group key (order of first appearance), then Live videos moved by content id
  const byKey = new GroupsByKey();
  for (const f of files) {
    const e = edits.get(f);
    if (e) byKey.add(e.dir, e.stem, f);
    else byKey.add(f instanceof WalkedFile ? byKey.dirOf(f.folder) : f.rel.slice(0, -1).join('/'), groupStemOf(nameOf(f)), f);
  }
  const renamed = await pairLiveById(ctx, byKey.lists, edits, byPath, s);
  edits.clear();
  if (renamed.size > 0) for (let i = 0; i < files.length; i++) files[i] = renamed.get(files[i]!) ?? files[i]!;
  const groups: FileGroup[] = [];
  for (const members of byKey.lists) if (members.length > 0) groups.push(new AssetGroup(sortMembers(members)));
  byKey.clear();

  const assetOf = new Map<FileGroup, LibraryAsset>();
  const assets = index?.assets ?? [];
  const present = new Uint8Array(assets.length); // by position in `assets`
  for (const g of groups) {
    for (const f of g.members) {
      const i = byPath.positionOf(f.remote);
      if (i < 0) continue;
      present[i] = 1;
      if (!assetOf.has(g)) assetOf.set(g, assets[i]!);
    }
  }
  for (const [i, a] of assets.entries()) {
    if (a.trashed) continue;
    s.assets++;
    if (present[i]) continue;
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
async function readIds<T extends { f: DeviceFile }>(ctx: InventoryContext, list: T[], video: boolean): Promise<Map<T, string>> {
  const out = new Map<T, string>();
  let slot = 0;
  await runPool(list, Math.min(16, ctx.walkInFlight), async (item) => {
    const f = item.f;
    const read = blockReader(deviceReader(ctx.slots, slot++ % ctx.slots.count, f.remote, ctx.idleMs), f.size);
    try {
      const id = video ? await readMovieContentId(read, f.size) : await readStillContentId(read, f.size);
      if (id) out.set(item, id);
    } catch (e) {
      const c = errorCode(e);
      if (c === 'ERR_PHOTOS_DISCONNECTED' || c === 'ERR_ABORTED' || ctx.signal?.aborted) throw e;
      // ERR_PHOTOS_MEDIA, a vanished or unreadable file: no identifier, the name rule stays
    }
  });
  return out;
}

/** A still without a video, or a video without a still, in its group's member list. */
interface Lonely {
  f: DeviceFile;
  members: DeviceFile[];
}

/**
 * Moves each unpaired Live video into the group of the still with the same content identifier (the member
 * lists are changed in place: a video's own list that empties is dropped by the caller) and gives a renamed CPL video the still's
 * stem. Returns the renamed files (old → new) for the caller's file list.
 */
async function pairLiveById(
  ctx: InventoryContext, lists: readonly DeviceFile[][], edits: ReadonlyMap<DeviceFile, unknown>, byPath: AssetsByPath, s: LibrarySummary,
): Promise<Map<DeviceFile, DeviceFile>> {
  const renamed = new Map<DeviceFile, DeviceFile>();
  const lonelyStills: Lonely[] = [];
  const lonelyVideos: Lonely[] = [];
  const haveDb = byPath.size > 0;
  for (const members of lists) {
    let still: DeviceFile | undefined;
    let video: DeviceFile | undefined;
    let stills = 0;
    let videos = 0;
    for (const f of members) {
      if (edits.has(f)) continue; // an edit render, not an original
      const n = nameOf(f);
      if (isStillName(n)) {
        stills++;
        still = f;
      } else if (isVideoName(n)) {
        videos++;
        video = f;
      }
    }
    if (stills === 1 && videos === 0) {
      if (!haveDb || byPath.get(still!.remote)?.live) lonelyStills.push({ f: still!, members });
    } else if (videos === 1 && stills === 0 && !byPath.get(video!.remote)) {
      lonelyVideos.push({ f: video!, members }); // not a video asset of its own: maybe the other half of a Live Photo
    }
  }
  if (lonelyVideos.length === 0 || lonelyStills.length === 0) return renamed;
  const vids = await readIds(ctx, lonelyVideos, true);
  if (vids.size === 0) return renamed;
  const stillIds = new Map<string, Lonely>();
  const toRead: Lonely[] = [];
  // without an identifier from the database, only stills in a folder that has an identified video are read
  const dirOf = (f: DeviceFile): string => f.remote.slice(0, f.remote.lastIndexOf('/'));
  const videoDirs = new Set([...vids.keys()].map((v) => dirOf(v.f)));
  for (const st of lonelyStills) {
    const id = byPath.get(st.f.remote)?.contentId;
    if (id) stillIds.set(id, st);
    else if (videoDirs.has(dirOf(st.f))) toRead.push(st);
  }
  for (const [st, id] of await readIds(ctx, toRead, false)) stillIds.set(id, st);
  for (const [v, id] of vids) {
    const still = stillIds.get(id);
    if (!still || still.members === v.members) continue;
    v.members.splice(v.members.indexOf(v.f), 1); // a group emptied here is dropped by the caller
    let moved = v.f;
    // an iCloud video named by its own UUID takes the still's (DEST) stem, as Image Capture would name the pair
    if (v.f.rel[0] === ICLOUD_DIR) {
      moved = remap(v.f, [...v.f.rel.slice(0, -1), `${splitExt(nameOf(still.f)).stem}${splitExt(nameOf(v.f)).ext}`]);
      renamed.set(v.f, moved);
    }
    still.members.push(moved);
    s.livePairedById++;
  }
  return renamed;
}

/** DEST/.iosdevice/library: where the database copy is staged. */
export function stagingDirOf(stateDir: string): string {
  return join(stateDir, 'library');
}
