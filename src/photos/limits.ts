/**
 * Resource caps of one backup run, set from what real libraries need with a wide margin, so that a hostile or
 * broken device (a listing of millions of names, a folder tree that points back into itself) ends the walk
 * with a clear ERR_PHOTOS_LIMIT instead of growing memory without end.
 *
 * What real libraries need: a camera roll of 200,000 items; a folder of up to 50,000 entries (iOS keeps
 * ≤ 1,000 per NNNAPPLE folder, other tools more); DCF numbers folders 100…999, so ≤ 900 folders; depth 2.
 *
 * Memory per walked file is about 150 bytes (a compact record: folder reference, name, size, mtime, birth
 * time) plus its manifest entry (about 200 bytes), so the default caps bound the walk to about 350 MB in the
 * worst case allowed and a 200,000-item library to about 70 MB. Requests in flight, queued work and bytes in
 * flight do not grow with the library: they are bounded by the concurrency options of the run (backup.ts).
 */
import { PhotosLimitError } from './errors.ts';

/** The caps (all counts). */
export interface BackupLimits {
  /** Names accepted from all listings together (files, folders, anything). Default 1,000,000. */
  maxEntries: number;
  /** Names in one listing; a bigger folder is skipped and reported. Default 100,000. */
  maxFolderEntries: number;
  /** Folders found. Default 10,000. */
  maxFolders: number;
  /** Folder levels below the root. Default 16. */
  maxDepth: number;
  /** Live entries of the manifest held in memory (all devices of DEST). Default 2,000,000. */
  maxManifestEntries: number;
}

export const DEFAULT_LIMITS: Readonly<BackupLimits> = Object.freeze({
  maxEntries: 1_000_000,
  maxFolderEntries: 100_000,
  maxFolders: 10_000,
  maxDepth: 16,
  maxManifestEntries: 2_000_000,
});

/** Fills in defaults (a missing, non-integer or non-positive value takes its default). */
export function resolveLimits(l: Partial<BackupLimits> | undefined): BackupLimits {
  const out = { ...DEFAULT_LIMITS, ...l };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof BackupLimits)[]) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) out[k] = DEFAULT_LIMITS[k];
  }
  return out;
}

/** Formats a count for messages: 1000000 → "1,000,000". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A cap was reached: `what` happened, the message names the cap and its value. */
export function limitError(limit: keyof BackupLimits, cap: number, what: string): PhotosLimitError {
  return new PhotosLimitError(limit, cap, `${what} (cap ${limit} = ${count(cap)})`);
}

