/**
 * A realistic photo library for the virtual iPhone: the DCIM camera roll of dcim-generator.ts plus what a phone
 * with iCloud Photos keeps under /PhotoData, and the Photos.sqlite (+ -wal) that describes it all:
 *
 * - `PhotoData/CPLAssets/groupN/<UUID>.<EXT>`: originals synced from the user's other devices (ZSAVEDASSETTYPE 6);
 *   a Live Photo there has a video whose name does not match the still's (`<UUID2>.MOV`);
 * - `PhotoData/Mutations/DCIM/<NNNAPPLE>/<IMG_xxxx>/Adjustments/FullSizeRender.{heic,jpg,mov}` + `Adjustments.plist`:
 *   edits (ZHASADJUSTMENTS 1), a Live Photo edit with both a still and a video render;
 * - `PhotoData/PhotoCloudSharingData/<person>/<album GUID>/100CLOUD/IMG_nnnn.JPG`: a shared album's items;
 * - cloud-only assets ("Optimize iPhone Storage"): rows whose original is not on the phone (ZINTERNALRESOURCE
 *   ZLOCALAVAILABILITY −1), in DCIM and in CPLAssets, with no file;
 * - Live Photos carry their content identifier in the still's MakerNote and the video's QuickTime metadata
 *   (ZMEDIAGROUPUUID in the database); every fourth DCIM pair has non-matching names (the video is numbered
 *   +5000) and one video has no `ftyp` — so pairing must use the identifier;
 * - three user albums (plus the shared one), favourites, hidden, captions, titles, one asset in Recently Deleted;
 * - the newest `walTail` assets exist only in the WAL.
 * Deterministic for a given seed and options.
 */
import { join } from 'node:path';
import { mulberry32 } from '../core/prng.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { planDcim, writePlannedFiles, type DcimFile, type DcimOptions, type PlannedFile } from './dcim-generator.ts';
import { writePhotosDb, type DbAlbum, type DbAsset, type DbLayout } from './photos-db.ts';

/** Options of {@link generateLibrary}. */
export interface LibraryOptions {
  /** Schema of the iOS version to imitate. Default 'ios17'. */
  layout?: DbLayout;
  /** iCloud originals downloaded to CPLAssets. Default max(2, count / 10). */
  cplCount?: number;
  /** Assets only in iCloud (no file). Default max(2, count / 20). */
  cloudOnlyCount?: number;
  /** Share of DCIM photos with an edit in Mutations. Default 0.1 (at least one, plus one Live edit). */
  editRate?: number;
  /** Newest assets left in the WAL only. Default 3. */
  walTail?: number;
  /** Extra bytes per asset row (a real blob column), to reach realistic database sizes. Default 0. */
  padBytesPerAsset?: number;
}

/** What {@link generateLibrary} wrote, for tests to compare against. */
export interface LibraryManifest {
  seed: number;
  layout: DbLayout;
  /** Every file written (DCIM and PhotoData, database excluded). */
  files: DcimFile[];
  totalBytes: number;
  assets: DbAsset[];
  albums: DbAlbum[];
  /** Media-root-relative paths of the assets that have no file (only in iCloud). */
  cloudOnly: string[];
  /** Edited assets: original path → render paths (Mutations). */
  edits: Record<string, string[]>;
  /** Live Photos: still path → video path (names may differ). */
  livePairs: Record<string, string>;
  /** Asset pks written after the last checkpoint (only in Photos.sqlite-wal). */
  walOnly: number[];
}

function uuidFrom(rand: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-A${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));
const nameOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const stemOf = (n: string): string => (n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : n);

/**
 * Generates the library under `mediaRoot` (DCIM/ and PhotoData/, including PhotoData/Photos.sqlite and its -wal).
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for bad options; fs errors as thrown by node:fs
 */
export async function generateLibrary(mediaRoot: string, dcim: DcimOptions, o: LibraryOptions = {}): Promise<LibraryManifest> {
  const seed = dcim.seed ?? 1;
  const rand = mulberry32(seed * 7919 + 16);
  const plan = planDcim(dcim);
  const count = dcim.count;
  const cplCount = o.cplCount ?? Math.max(2, Math.floor(count / 10));
  const cloudOnlyCount = o.cloudOnlyCount ?? Math.max(2, Math.floor(count / 20));
  for (const [k, v] of [['cplCount', cplCount], ['cloudOnlyCount', cloudOnlyCount]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 100_000) throw new InvalidArgumentError(`${k} must be 0…100000`);
  }
  const editRate = o.editRate ?? 0.1;
  const scale = dcim.scale ?? 1;
  const files: PlannedFile[] = [];
  const assets: DbAsset[] = [];
  const edits: Record<string, string[]> = {};
  const livePairs: Record<string, string> = {};
  const cloudOnly: string[] = [];
  let pk = 1;
  const newAsset = (path: string, kind: 'photo' | 'video', captured: Date, extra: Partial<DbAsset> = {}): DbAsset => {
    const a: DbAsset = {
      pk: pk++, uuid: uuidFrom(rand), dir: dirOf(path), file: nameOf(path), kind, live: false, captured, favorite: false, hidden: false,
      trashed: false, edited: false, savedType: 3, local: true, width: kind === 'photo' ? 4032 : 1920, height: kind === 'photo' ? 3024 : 1080, ...extra,
    };
    assets.push(a);
    return a;
  };

  // DCIM: one asset per still/video; a Live Photo's MOV and a sidecar belong to the still's asset.
  const namesIn = new Map<string, Set<string>>();
  for (const f of plan) {
    const d = dirOf(f.path);
    if (!namesIn.has(d)) namesIn.set(d, new Set());
    namesIn.get(d)!.add(nameOf(f.path).toUpperCase());
  }
  const byStem = new Map<string, PlannedFile[]>();
  for (const f of plan) {
    const k = `${dirOf(f.path)}/${stemOf(nameOf(f.path))}`;
    if (!byStem.has(k)) byStem.set(k, []);
    byStem.get(k)!.push(f);
  }
  let liveIndex = 0;
  let editsMade = 0;
  let liveEdited = false;
  let noFtypDone = false;
  const dcimCloudOnly = Math.min(Math.floor(cloudOnlyCount / 2), Math.max(0, plan.length - 2));
  const cloudOnlyStride = dcimCloudOnly > 0 ? Math.max(2, Math.floor(byStem.size / (dcimCloudOnly + 1))) : 0;
  let groupIndex = 0;
  for (const group of byStem.values()) {
    groupIndex++;
    const still = group.find((f) => f.kind === 'heic' || f.kind === 'jpg' || f.kind === 'png');
    const video = group.find((f) => f.kind === 'mov');
    const primary = still ?? video;
    if (!primary) continue;
    const isLive = !!(still && video);
    const a = newAsset(primary.path, still ? 'photo' : 'video', primary.captureDate, { live: isLive });
    if (cloudOnlyStride > 0 && groupIndex % cloudOnlyStride === 0 && cloudOnly.length < dcimCloudOnly && !isLive) {
      a.local = false; // Optimize iPhone Storage removed the original: no file on the phone
      cloudOnly.push(primary.path);
      continue;
    }
    if (isLive) {
      a.contentId = uuidFrom(rand);
      still.contentId = a.contentId;
      video.contentId = a.contentId;
      if (liveIndex % 4 === 1) {
        const num = Number(/(\d{4})$/.exec(stemOf(nameOf(video.path)))?.[1] ?? 0);
        const other = `IMG_${String(((num + 5000 - 1) % 9999) + 1).padStart(4, '0')}.MOV`;
        const taken = namesIn.get(dirOf(video.path))!;
        if (!taken.has(other)) {
          taken.add(other);
          video.path = `${dirOf(video.path)}/${other}`;
          video.key = `${seed}:${video.path}`;
        }
      }
      if (!noFtypDone && liveIndex % 4 === 2) {
        video.noFtyp = true;
        noFtypDone = true;
      }
      livePairs[still.path] = video.path;
      liveIndex++;
    }
    files.push(...group);
    if (still && still.kind !== 'png' && (rand() < editRate || editsMade === 0 || (isLive && !liveEdited))) {
      a.edited = true;
      editsMade++;
      const mut = `PhotoData/Mutations/${dirOf(still.path)}/${stemOf(nameOf(still.path))}/Adjustments`;
      const ext = still.kind === 'jpg' ? 'jpg' : 'heic';
      const renders = [`${mut}/FullSizeRender.${ext}`];
      files.push({ path: renders[0]!, kind: still.kind, size: Math.max(1, Math.round(still.size * 0.8)), captureDate: still.captureDate, key: `${seed}:${renders[0]}` });
      if (isLive) {
        liveEdited = true;
        renders.push(`${mut}/FullSizeRender.mov`);
        files.push({ path: renders[1]!, kind: 'mov', size: Math.max(1, Math.round(video.size * 0.8)), captureDate: still.captureDate, key: `${seed}:${renders[1]}` });
      }
      files.push({ path: `${mut}/Adjustments.plist`, kind: 'aae', size: 0, captureDate: still.captureDate, key: `${seed}:${mut}/Adjustments.plist` });
      edits[still.path] = [...renders, `${mut}/Adjustments.plist`];
    }
  }

  // CPLAssets: iCloud originals from other devices, some Live with differently named videos, some only in iCloud.
  const span = [dcim.from?.getTime() ?? Date.UTC(2019, 0, 1), dcim.to?.getTime() ?? Date.UTC(2024, 11, 31)] as const;
  const cplCloudOnly = cloudOnlyCount - cloudOnly.length;
  for (let i = 0; i < cplCount + cplCloudOnly; i++) {
    const captured = new Date(Math.floor((span[0] + rand() * (span[1] - span[0])) / 1000) * 1000);
    const group = `PhotoData/CPLAssets/group${100 + (i % 7) * 37}`;
    const uuid = uuidFrom(rand);
    const jpeg = i % 3 === 1;
    const path = `${group}/${uuid}.${jpeg ? 'JPG' : 'HEIC'}`;
    const live = i % 3 === 0;
    const a = newAsset(path, 'photo', captured, { uuid, savedType: 6, live, originalFilename: `IMG_${String(7000 + i).padStart(4, '0')}.${jpeg ? 'JPG' : 'HEIC'}` });
    if (i >= cplCount) {
      a.local = false;
      cloudOnly.push(path);
      continue;
    }
    const size = Math.max(1, Math.round((1.2 + rand() * 2) * 1_000_000 * scale));
    const f: PlannedFile = { path, kind: jpeg ? 'jpg' : 'heic', size, captureDate: captured, key: `${seed}:${path}` };
    files.push(f);
    if (live) {
      a.contentId = uuidFrom(rand);
      f.contentId = a.contentId;
      const vpath = `${group}/${uuidFrom(rand)}.MOV`;
      files.push({ path: vpath, kind: 'mov', size: Math.max(1, Math.round(2_000_000 * scale)), captureDate: captured, key: `${seed}:${vpath}`, contentId: a.contentId });
      livePairs[path] = vpath;
    }
  }

  // A shared album's items (PhotoCloudSharingData).
  const shareDir = `PhotoData/PhotoCloudSharingData/1234567890/${uuidFrom(rand)}/100CLOUD`;
  const shared: number[] = [];
  for (let i = 1; i <= 2; i++) {
    const path = `${shareDir}/IMG_${String(i).padStart(4, '0')}.JPG`;
    const captured = new Date(span[0] + (span[1] - span[0]) * (0.3 + i / 10));
    files.push({ path, kind: 'jpg', size: Math.max(1, Math.round(800_000 * scale)), captureDate: captured, key: `${seed}:${path}` });
    shared.push(newAsset(path, 'photo', captured, { savedType: 4 }).pk);
  }

  // Flags, captions, titles.
  for (const a of assets) {
    if (a.pk % 7 === 3) a.favorite = true;
    if (a.pk % 11 === 5) a.hidden = true;
    if (a.pk % 9 === 2) a.caption = `Caption ${a.pk}: “a day out” & <friends>`;
    if (a.pk % 13 === 4) a.title = `Title ${a.pk}`;
    if (a.pk % 17 === 6) a.accessibilityDescription = `A photo numbered ${a.pk}`;
  }
  const trashable = assets.find((a) => a.local && !a.live && a.savedType === 3 && !a.edited && a.pk > 2);
  if (trashable) trashable.trashed = true;

  // Albums: three user albums and the shared one; each holds a Live pair, an edit, a CPL asset or a cloud-only one.
  const pick = (pred: (a: DbAsset) => boolean, n: number, from = 0): number[] => assets.filter(pred).slice(from, from + n).map((a) => a.pk);
  const albums: DbAlbum[] = [
    { pk: 2, uuid: uuidFrom(rand), title: 'Holidays', kind: 2, assets: [...pick((a) => a.live && a.savedType === 3, 2), ...pick((a) => a.savedType === 6 && a.local, 2)] },
    { pk: 3, uuid: uuidFrom(rand), title: 'Family/Kids', kind: 2, assets: [...pick((a) => a.edited, 2), ...pick((a) => a.live && a.savedType === 6, 1), ...pick((a) => !a.local, 1)] },
    { pk: 4, uuid: uuidFrom(rand), title: 'Best of', kind: 2, assets: [...pick((a) => a.favorite, 3), ...pick(() => true, 1, assets.length - 1)] },
    { pk: 5, uuid: uuidFrom(rand), title: 'Shared with Mum', kind: 1505, assets: shared },
  ];
  for (const al of albums) al.assets = [...new Set(al.assets)];

  const written = await writePlannedFiles(mediaRoot, files);
  const layout = o.layout ?? 'ios17';
  const walTail = o.walTail ?? 3;
  writePhotosDb(join(mediaRoot, 'PhotoData', 'Photos.sqlite'), assets, albums, { layout, walTail, padBytesPerAsset: o.padBytesPerAsset ?? 0 });
  return {
    seed, layout, files: written, totalBytes: written.reduce((n, f) => n + f.size, 0), assets, albums, cloudOnly, edits, livePairs,
    walOnly: assets.slice(Math.max(0, assets.length - walTail)).map((a) => a.pk),
  };
}
