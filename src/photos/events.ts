/** Events and the summary of a backup run (also the `--json` output shape). */
import type { Rejected } from './walk.ts';
import type { ConvertSummary } from './convert.ts';
import type { LibrarySummary } from './library/inventory.ts';
import type { SafeToDelete } from './library/safe-delete.ts';
import type { SidecarReport } from './library/sidecars.ts';

export interface FailedFile {
  remote: string;
  /** Stable error code (ERR_AFC_*, ERR_PHOTOS_*, ERR_CLOSED…). */
  code: string;
  reason: string;
}

/** A verified file --delete-after-import did not remove because the device file is not the one copied. */
export interface KeptOnDevice {
  remote: string;
  /**
   * Stable reason: 'changed-on-device' (size, mtime or type differ from the copy), 'content-changed' (same
   * size and mtime, different bytes), 'vanished' (no longer on the device: nothing to remove).
   */
  reason: 'changed-on-device' | 'content-changed' | 'vanished';
  detail: string;
}

/** A group filed by its file's time because its metadata date was refused (or the file's time was clamped). */
export interface DateFallback {
  /** Device path of the group's primary file (whose date counts). */
  remote: string;
  /** Why, e.g. `EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date (day 31 of month 2); dated 2023-03-01 by the file's time`. */
  reason: string;
}

export type BackupEvent =
  | { type: 'plan'; found: number; selected: number; toCopy: number; toCopyBytes: number }
  | { type: 'file'; status: 'copied' | 'repaired' | 'skipped' | 'failed' | 'would-copy'; remote: string; local?: string; bytes: number; code?: string; reason?: string }
  | { type: 'progress'; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }
  | ({ type: 'rejected' } & Rejected)
  | { type: 'reconnect'; slot: number }
  | { type: 'deleted'; remote: string }
  | { type: 'delete-skipped'; reason: string }
  | ({ type: 'delete-kept' } & KeptOnDevice)
  | { type: 'delete-progress'; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }
  | ({ type: 'date-fallback' } & DateFallback)
  | { type: 'converted'; remote: string; from: string; local: string }
  | ({ type: 'library' } & LibrarySummary);

/**
 * How a run ended (once it started, i.e. DEST was locked):
 * - 'complete': everything selected is backed up (rejected items only of kind 'vanished');
 * - 'partial': the run went to the end but some files failed or items were refused (see `failed`, `rejected`);
 * - 'interrupted': the signal fired; the files not copied yet are neither failed nor counted as done
 *   (`toCopy - copied - failed.length` of them remain); a rerun resumes;
 * - 'device-lost': the device went away (unplug, reconnect budget spent); the files that could not be copied
 *   are in `failed` (codes ERR_PHOTOS_DISCONNECTED, ERR_CLOSED…); a rerun after replugging resumes.
 */
export type BackupStatus = 'complete' | 'partial' | 'interrupted' | 'device-lost';

export interface BackupSummary {
  status: BackupStatus;
  udid: string;
  dest: string;
  /** This device's folder below DEST (device-folder.ts; '' = DEST's top level, a DEST from before device folders). */
  deviceFolder?: string;
  dryRun: boolean;
  /** Regular files found under /DCIM. */
  found: number;
  /** Of those, selected by --since/--until/--include/--exclude. */
  selected: number;
  copied: number;
  copiedBytes: number;
  /** Of those, files the plan decided to copy (new, changed, or their local copy gone), and their bytes. */
  toCopy: number;
  toCopyBytes: number;
  /** Selected files already backed up (unchanged since). */
  skipped: number;
  failed: FailedFile[];
  /** Items not copied by policy: unsafe names, symlinks, unreadable or vanished items. */
  rejected: Rejected[];
  /** --split-by-date: groups whose metadata date was unusable, filed by the file's time instead. */
  dateFallbacks: DateFallback[];
  /**
   * Recorded files whose local copy was missing or had the wrong size, fetched again into their original name
   * (also counted in `copied`); `keptAside` is where the damaged file was put (relative to DEST).
   */
  repaired: { remote: string; local: string; keptAside?: string }[];
  /** Device paths removed by --delete-after-import. */
  deleted: string[];
  /**
   * Verified files --delete-after-import left on the device because the device file changed after it was
   * copied (the next run copies the new version) or is gone.
   */
  keptOnDevice: KeptOnDevice[];
  /** Why the run ended early ('device-lost'): the code and message of what ended it (e.g. "… timed out …"). */
  stopped?: { code: string; message: string };
  /** Why --delete-after-import removed nothing, when it did not run. */
  deleteSkipped?: string;
  /**
   * The whole-library inventory (library mode): where the asset list came from, iCloud originals and edits found,
   * Live Photos paired by content identifier, and the assets only in iCloud (`cloudOnly`), which are never
   * skipped silently: they are not on the phone, so they are listed here instead of copied.
   */
  library?: LibrarySummary;
  /** --album NAME that matched no album (nothing was selected). */
  albumNotFound?: string;
  /** --albums: sidecars written. */
  sidecars?: SidecarReport;
  /** --delete-after-import on a phone with a Photos library: the safe-to-delete report written instead. */
  safeToDelete?: SafeToDelete;
  /** --convert-heic: JPEGs written beside (or, with --heic-original drop, instead of) the HEICs backed up. */
  converted?: ConvertSummary;
  /** --dry-run: what would be copied. */
  wouldCopy: { remote: string; size: number }[];
  wouldCopyBytes: number;
  elapsedMs: number;
}
