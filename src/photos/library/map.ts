/**
 * Where each library file goes below DEST (its `rel`, as the 'device' layout places it), pure and from paths only:
 *
 * | on the device (below the AFC root) | below DEST |
 * |---|---|
 * | `DCIM/100APPLE/IMG_0001.HEIC` | `100APPLE/IMG_0001.HEIC` (as before) |
 * | `PhotoData/CPLAssets/group3/<UUID>.HEIC` (iCloud original) | `iCloud/group3/IMG_7001.HEIC` — the asset's original file name from Photos.sqlite when known and safe, else `<UUID>.HEIC` |
 * | `PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.heic` | `100APPLE/IMG_E0001.HEIC` (Image Capture's name for the edited render) |
 * | `…/Adjustments/FullSizeRender.mov` (edited video, or the video of an edited Live Photo) | `100APPLE/IMG_E0001.MOV` |
 * | `…/Adjustments/Adjustments.plist` (the edit recipe) | `100APPLE/IMG_0001.AAE`, or `IMG_E0001.AAE` when DCIM already has an `IMG_0001.AAE` |
 * | any other file below `…/<stem>/` in Mutations | `100APPLE/IMG_0001.mutations/<rest of its path>` |
 * | `PhotoData/PhotoCloudSharingData/<person>/<album>/100CLOUD/IMG_0001.JPG` (shared album) | `Shared/<album>/IMG_0001.JPG` |
 *
 * The edited name follows what Image Capture writes and what Photos re-imports (osxphotos PR #1113: "the files
 * that Image Capture created when copying from an iPhone", `IMG_E1234.HEIC` next to `IMG_1234.HEIC`); the E/O
 * infix is what layout.ts groups by, so an edit travels with its original.
 */
import { splitExt } from '../layout.ts';
import { unsafeNameReason } from '../safe-path.ts';

/** Device roots of the library besides /DCIM. */
export const CPL_ROOT = '/PhotoData/CPLAssets';
export const MUTATIONS_ROOT = '/PhotoData/Mutations';
export const SHARED_ROOT = '/PhotoData/PhotoCloudSharingData';

/** DEST folder names of the non-DCIM parts. */
export const ICLOUD_DIR = 'iCloud';
export const SHARED_DIR = 'Shared';

/** `IMG_1234` → `IMG_E1234`; other stems get `_E` appended (`ABCD` → `ABCD_E`). */
export function editedStem(stem: string): string {
  const m = /^([A-Za-z]+_)(\d+)$/.exec(stem);
  return m ? `${m[1]}E${m[2]}` : `${stem}_E`;
}

/** The DEST folder parts of a device folder given below the AFC root ('DCIM/100APPLE' → ['100APPLE']), or undefined. */
export function destDirOf(deviceDir: string[]): string[] | undefined {
  if (deviceDir[0] === 'DCIM') return deviceDir.slice(1);
  if (deviceDir[0] === 'PhotoData' && deviceDir[1] === 'CPLAssets') return [ICLOUD_DIR, ...deviceDir.slice(2)];
  return undefined;
}

/**
 * The name an iCloud original gets below DEST: its original file name's stem (from the database) with the
 * device file's extension, when that stem is a safe name; else the device name.
 */
export function cplName(deviceName: string, originalFilename: string | undefined): string {
  if (!originalFilename) return deviceName;
  const stem = splitExt(originalFilename).stem;
  const name = `${stem}${splitExt(deviceName).ext}`;
  return stem.length > 0 && stem.length <= 200 && !unsafeNameReason(name) && !name.startsWith('.') ? name : deviceName;
}

/** What a Mutations file is, from its path components below /PhotoData/Mutations. */
export interface MutationTarget {
  /** The original's device folder below the AFC root (['DCIM', '100APPLE']). */
  originalDir: string[];
  /** The original's stem (`IMG_0001`, or a CPL asset's UUID). */
  originalStem: string;
  kind: 'render' | 'recipe' | 'other';
  /** For a render: its extension in upper case ('.HEIC', '.JPG', '.MOV'). */
  ext?: string;
  /** For 'other': the path below `<stem>/`. */
  rest?: string[];
}

/**
 * Classifies a path below /PhotoData/Mutations: `<original dir…>/<stem>/Adjustments/FullSizeRender.<ext>`,
 * `…/Adjustments/Adjustments.plist`, or anything else below `<stem>/`. Undefined when the path has no original
 * folder it could belong to.
 */
export function classifyMutation(rel: readonly string[]): MutationTarget | undefined {
  // the original dir is DCIM/<NNNAPPLE> or PhotoData/CPLAssets/<group>: two levels, then the stem folder
  if (rel.length < 4) return undefined;
  const originalDir = rel.slice(0, 2);
  if (!destDirOf(originalDir)) return undefined;
  const originalStem = rel[2]!;
  const rest = rel.slice(3);
  if (rest.length === 2 && rest[0] === 'Adjustments') {
    const { stem, ext } = splitExt(rest[1]!);
    if (stem === 'FullSizeRender' && ext.length > 1) {
      const up = ext.toUpperCase();
      return { originalDir, originalStem, kind: 'render', ext: up === '.JPEG' ? '.JPG' : up };
    }
    if (rest[1] === 'Adjustments.plist') return { originalDir, originalStem, kind: 'recipe' };
  }
  return { originalDir, originalStem, kind: 'other', rest };
}

/** The shared-album media file below PhotoCloudSharingData (`<person>/<album>/<NNNCLOUD>/<name>`), as DEST rel, or undefined (plists, caches). */
export function sharedRel(rel: readonly string[]): string[] | undefined {
  if (rel.length !== 4 || !/^\d{3}CLOUD$/i.test(rel[2]!)) return undefined;
  return [SHARED_DIR, rel[1]!, rel[3]!];
}
