/**
 * One import started from the page: the engine's runBackup with the page's settings and picked tiles, progress
 * (files, bytes, rate, ETA) for the page, Cancel, and afterwards the iPhoto question — how many imported files are
 * verified (re-hashed against the manifest) and, only when asked, their removal from the phone through the
 * engine's delete stage (removeImported). Nothing here writes a file itself: the engine's guarantees hold (a .part
 * is never left behind as a photo, the manifest lists exactly what was placed).
 */
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { errorCode } from '../core/errors.ts';
import { runBackup, type BackupSummary } from '../photos/backup.ts';
import { openDest } from '../photos/dest.ts';
import { DestError, type DestErrorCode } from '../photos/errors.ts';
import { DB_PATH } from '../photos/library/device-read.ts';
import type { Layout } from '../photos/layout.ts';
import { removeImported, verifyImported, type RemoveSummary } from '../photos/remove.ts';
import type { PhotoDevice } from '../photos/source.ts';
import { UiError } from './errors.ts';

/** The page's import settings. */
export interface ImportSettings {
  dest: string;
  /** Event name: files under DEST/<event>/… ('' = none). */
  event: string;
  splitByDate: boolean;
  deleteAfterImport: boolean;
}

/** Progress as the page shows it (JSON). */
export interface ImportProgress {
  id: number;
  udid: string;
  state: 'running' | 'cancelling' | 'done';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last seconds. */
  rate: number;
  /** Seconds left at that rate (undefined before it is known). */
  etaSec?: number;
  /** Set when done. */
  result?: ImportResult;
}

/** How an import ended (JSON). */
export interface ImportResult {
  status: BackupSummary['status'] | 'error';
  /** One sentence for the page. */
  message: string;
  copied: number;
  skipped: number;
  failed: { remote: string; code: string; reason: string }[];
  /** Imported camera-roll files whose copies verify (what "Remove" may delete). */
  verified: number;
  /** Of the imported files, those whose copy did not verify (they stay on the phone in any case). */
  notVerified: number;
  /**
   * The phone keeps a Photos library (PhotoData/Photos.sqlite; unknown counts as yes): removing files over USB would
   * leave broken entries in it, so "Remove" is not offered (as `photos backup` without --delete-even-if-photos-breaks).
   */
  photosLibrary: boolean;
  /** deleteAfterImport did nothing, and why. */
  deleteSkipped?: string;
  deleted: number;
  code?: string;
}


/** How the page words each DEST problem that photos/dest.ts tells apart. */
const DEST_REASONS: Record<DestErrorCode, string> = {
  ERR_PHOTOS_DEST_DENIED: 'permission denied',
  ERR_PHOTOS_DEST_READONLY: 'it is on a read-only file system',
  ERR_PHOTOS_DEST_FULL: 'the disk is full',
  ERR_PHOTOS_DEST_NOT_DIR: 'a part of the path is a file, not a folder',
};

/** Sentence for a DEST that cannot be written (nothing was imported). */
export function destMessage(dest: string, e: unknown): UiError {
  const why = e instanceof DestError ? DEST_REASONS[e.code] : e instanceof Error ? e.message : String(e);
  return new UiError(400, 'ERR_UI_DEST', `Cannot write to the destination ${dest}: ${why}. Nothing was imported and nothing was changed on the iPhone; choose another destination.`, { cause: e });
}

/**
 * Makes sure DEST can take an import before anything is written (photos/dest.ts openDest, as photos backup does:
 * created if missing, a folder, writable, not full). Resolves with its real path.
 * @throws UiError ERR_UI_DEST with a sentence for the page
 */
export async function checkDest(dest: string): Promise<string> {
  try {
    return await openDest(dest);
  } catch (e) {
    throw destMessage(resolve(dest), e);
  }
}

let nextId = 0;

/** A running or finished import; emits 'progress' (throttled) and 'done'. */
export class ImportJob extends EventEmitter {
  readonly id = ++nextId;
  readonly #ac = new AbortController();
  readonly progress: ImportProgress;
  /** Device paths copied by this import. */
  readonly copied: string[] = [];
  #samples: { t: number; bytes: number }[] = [];
  #lastEmit = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly done: Promise<ImportResult>;
  #removing = false;

  constructor(readonly device: PhotoDevice, readonly settings: ImportSettings & { dest: string }, paths: ReadonlySet<string> | undefined) {
    super();
    this.progress = { id: this.id, udid: device.udid, state: 'running', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, rate: 0 };
    this.done = this.#run(paths);
  }

  /** Stops the import: files being copied are dropped (no partial file stays), what is copied stays recorded. */
  cancel(): void {
    if (this.progress.state !== 'running') return;
    this.progress.state = 'cancelling';
    this.#ac.abort();
    this.#emit(true);
  }

  #emit(force = false): void {
    const now = performance.now();
    if (!force && now - this.#lastEmit < 100) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#emit(true);
      }, 100);
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastEmit = now;
    this.emit('progress', { ...this.progress });
  }

  #onProgress(bytesDone: number): void {
    const now = performance.now();
    this.#samples.push({ t: now, bytes: bytesDone });
    while (this.#samples.length > 2 && now - this.#samples[0]!.t > 5000) this.#samples.shift();
    const first = this.#samples[0]!;
    const dt = (now - first.t) / 1000;
    const p = this.progress;
    if (dt > 0.2) {
      p.rate = Math.max(0, (bytesDone - first.bytes) / dt);
      if (p.rate > 0) p.etaSec = Math.round((p.bytesTotal - bytesDone) / p.rate);
    }
  }

  async #run(paths: ReadonlySet<string> | undefined): Promise<ImportResult> {
    const s = this.settings;
    const layout: Layout = s.splitByDate ? 'date' : 'device';
    let result: ImportResult;
    try {
      this.#samples = [{ t: performance.now(), bytes: 0 }];
      const summary = await runBackup({
        dest: s.dest, device: this.device, layout, library: true, deleteAfterImport: s.deleteAfterImport,
        ...(s.event !== '' ? { event: s.event } : {}),
        selection: { include: [], exclude: [], ...(paths ? { paths } : {}) },
        signal: this.#ac.signal,
        onEvent: (e) => {
          const p = this.progress;
          if (e.type === 'plan') {
            p.filesTotal = e.toCopy;
            p.bytesTotal = e.toCopyBytes;
            this.#samples = [{ t: performance.now(), bytes: 0 }]; // the rate counts from the first byte, not the listing
          } else if (e.type === 'progress') {
            p.filesDone = e.filesDone;
            p.filesTotal = e.filesTotal;
            p.bytesDone = e.bytesDone;
            p.bytesTotal = e.bytesTotal;
            this.#onProgress(e.bytesDone);
          } else if (e.type === 'file' && (e.status === 'copied' || e.status === 'repaired')) this.copied.push(e.remote);
          else return;
          this.#emit();
        },
      });
      result = await this.#result(summary);
    } catch (e) {
      const code = errorCode(e);
      // runBackup rejects only for set-up and DEST problems; a DestError may come mid-run (the disk filled up): its
      // own message says what was copied and what to free
      const message = code === 'ERR_PHOTOS_BUSY'
        ? 'Another backup is writing to this destination right now. Wait for it to finish, then import again.'
        : e instanceof DestError ? `The import stopped: ${e.message}. Nothing was changed on the iPhone.`
        : code === 'ERR_PHOTOS_UNSAFE_PATH' || code === 'ERR_PHOTOS_MANIFEST' ? destMessage(s.dest, e).message
        : `The import could not start: ${e instanceof Error ? e.message : String(e)}. Nothing was changed.`;
      result = { status: 'error', message, copied: 0, skipped: 0, failed: [], verified: 0, notVerified: 0, photosLibrary: false, deleted: 0, ...(code !== undefined ? { code } : {}) };
    }
    clearTimeout(this.#timer);
    this.progress.state = 'done';
    this.progress.result = result;
    this.emit('progress', { ...this.progress });
    this.emit('done', result);
    return result;
  }

  async #result(sm: BackupSummary): Promise<ImportResult> {
    const counted = `${sm.copied} of ${sm.toCopy} ${sm.toCopy === 1 ? 'file' : 'files'} copied`;
    const already = sm.skipped > 0 ? ` (${sm.skipped} already in the destination)` : '';
    let message = '';
    switch (sm.status) {
      case 'complete':
        message = sm.toCopy === 0 ? `Nothing new to import: the ${sm.skipped} selected files are already in the destination.` : `Import complete: ${counted}${already}.`;
        break;
      case 'partial':
        message = `Import finished with problems: ${counted}, ${sm.failed.length} failed${sm.rejected.length > 0 ? `, ${sm.rejected.length} refused` : ''}. What was copied is kept; import again to retry the rest.`;
        break;
      case 'interrupted':
        message = `Import cancelled: ${counted}. Copied files are kept and recorded, no partial file was left; import again to continue.`;
        break;
      case 'device-lost':
        message = `The iPhone was disconnected during the import: ${counted}. Nothing is lost — copied files are kept and recorded, no partial file was left. Plug it back in and import again to continue.`;
        break;
    }
    // the keep-or-remove question counts only camera-roll files: iCloud originals and shared albums are the Photos
    // library's own storage and are never removed over USB
    const dcim = this.copied.filter((r) => r.startsWith('/DCIM/'));
    const v = sm.status === 'device-lost' || dcim.length === 0 ? { verified: [], notVerified: [] } : await verifyImported(sm.dest, sm.udid, dcim).catch(() => ({ verified: [], notVerified: [] }));
    this.#verified = v.verified;
    this.#photosLibrary = sm.status === 'device-lost' ? true : await hasPhotosDatabase(this.device);
    if (sm.deleteSkipped !== undefined) {
      message += ' Nothing was deleted from the iPhone: it keeps a Photos library, and deleting over USB would leave broken grey tiles in the Photos app. Delete them in the Photos app instead (safe-to-delete.txt in the destination lists the backed-up date ranges).';
    } else if (sm.deleted.length > 0) message += ` ${sm.deleted.length} verified ${sm.deleted.length === 1 ? 'file was' : 'files were'} deleted from the iPhone.`;
    return {
      status: sm.status, message, copied: sm.copied, skipped: sm.skipped, failed: sm.failed.map((f) => ({ remote: f.remote, code: f.code, reason: f.reason })),
      verified: v.verified.length, notVerified: v.notVerified.length, photosLibrary: this.#photosLibrary,
      ...(sm.deleteSkipped !== undefined ? { deleteSkipped: sm.deleteSkipped } : {}), deleted: sm.deleted.length,
    };
  }

  #verified: string[] = [];
  #photosLibrary = true;

  /**
   * Removes the verified camera-roll copies of this import from the phone (the answer "Remove"); the engine
   * re-checks each file and keeps what changed. Once per import; never on a phone with a Photos library.
   * @throws UiError ERR_UI_PHOTOS_LIBRARY, ERR_UI_ALREADY; PhotosError ERR_PHOTOS_BUSY, ERR_PHOTOS_MANIFEST
   */
  async remove(): Promise<RemoveSummary> {
    if (this.#photosLibrary) {
      throw new UiError(409, 'ERR_UI_PHOTOS_LIBRARY', 'Nothing was removed: this iPhone keeps a Photos library, and deleting over USB would leave broken grey tiles in the Photos app. Delete the photos in the Photos app instead.');
    }
    if (this.#removing) throw new UiError(409, 'ERR_UI_ALREADY', 'These photos were already removed (or are being removed).');
    this.#removing = true;
    return removeImported({ dest: this.settings.dest, device: this.device, remotes: this.#verified });
  }
}

/** True when the phone has a Photos library database (unknown counts as yes: the safe side). */
async function hasPhotosDatabase(device: PhotoDevice): Promise<boolean> {
  let afc;
  try {
    afc = await device.openAfc({ timeoutMs: 15_000 });
    await afc.stat(DB_PATH, { timeoutMs: 15_000 });
    return true;
  } catch (e) {
    return errorCode(e) !== 'ERR_AFC_OBJECT_NOT_FOUND';
  } finally {
    afc?.close();
  }
}
