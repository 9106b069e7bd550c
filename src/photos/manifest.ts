/**
 * The backup manifest: DEST/.iosdevice/manifest.jsonl, append-only JSON lines, one per imported
 * file, keyed by (udid, remote path). Each append is fdatasync'ed before `record()` resolves
 * (appends arriving during a sync are committed together: group commit). A crash can leave at most
 * a torn last line: it is ignored on load, and the next append starts on a fresh line.
 *
 * Line format (v1):
 *   {"v":1,"udid":"…","remote":"/DCIM/100APPLE/IMG_0001.HEIC","size":123,"mtimeNs":"1700000000000000000",
 *    "sha256":"hex","local":"100APPLE/IMG_0001.HEIC","captured":"2024-05-01T10:00:00","at":"ISO time"}
 *   {"v":1,"op":"deleted","udid":"…","remote":"…","at":"…"}   after --delete-after-import removed it
 *   {"v":1,"op":"stale","udid":"…","remote":"…","at":"…"}     the device file is no longer the recorded one
 *     although its size and mtime are (found by the delete re-check): the next run copies it again
 * Readers that do not know an `op` ignore its line (counted in `badLines`), so old versions still read new files.
 */
import { constants, createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PhotosError } from './errors.ts';

/** Folder (inside DEST) for the manifest, the lock and the .part files. */
export const STATE_DIR = '.iosdevice';
const FILE = 'manifest.jsonl';
const MAX_LINE = 64 * 1024;

/** One imported file. */
export interface ManifestEntry {
  udid: string;
  /** Absolute device path, e.g. /DCIM/100APPLE/IMG_0001.HEIC. */
  remote: string;
  /** Bytes. */
  size: number;
  /** Device mtime in ns (decimal string). */
  mtimeNs: string;
  /** SHA-256 (hex) of the bytes written, computed while streaming. */
  sha256: string;
  /** Path relative to DEST with '/' separators. */
  local: string;
  /** Capture date used for --split-by-date (local wall time, ISO without zone), when known. */
  captured?: string;
  /** When it was recorded (ISO). */
  at: string;
  /** Set by an `op: stale` line: the device file changed with the same size and mtime; copy it again. */
  stale?: boolean;
}

function key(udid: string, remote: string): string {
  return `${udid}\0${remote}`;
}

/** The manifest of one DEST. Open with {@link Manifest.open}. */
export class Manifest {
  readonly path: string;
  #entries = new Map<string, ManifestEntry>();
  #fh: fsp.FileHandle | undefined;
  #pending: { line: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  #flushing = false;
  #flushDone: Promise<void> = Promise.resolve();
  #badLines = 0;
  #writable = false;

  private constructor(path: string, fh: fsp.FileHandle | undefined) {
    this.path = path;
    this.#fh = fh;
  }

  /**
   * Loads (or creates) DEST/.iosdevice/manifest.jsonl. With `readOnly` nothing is created and
   * `record()` rejects (used by --dry-run).
   * @throws PhotosError ERR_PHOTOS_MANIFEST when it cannot be read or opened for append
   */
  static async open(dest: string, opts: { readOnly?: boolean } = {}): Promise<Manifest> {
    const dir = join(dest, STATE_DIR);
    const path = join(dir, FILE);
    try {
      let fh: fsp.FileHandle | undefined;
      if (opts.readOnly) {
        fh = await fsp.open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0)).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
          throw e;
        });
      } else {
        await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
        // O_NOFOLLOW: a symlink planted as the manifest must not redirect our appends.
        fh = await fsp.open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o644);
      }
      const m = new Manifest(path, fh);
      m.#writable = !opts.readOnly;
      await m.#load();
      return m;
    } catch (e) {
      if (e instanceof PhotosError) throw e;
      throw new PhotosError('ERR_PHOTOS_MANIFEST', `cannot open the manifest ${path}`, { cause: e });
    }
  }

  async #load(): Promise<void> {
    if (!this.#fh) return;
    const st = await this.#fh.stat();
    if (st.size === 0) return;
    const rl = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.length === 0) continue;
      if (line.length > MAX_LINE) {
        this.#badLines++;
        continue;
      }
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        this.#badLines++; // a torn last line after a crash
        continue;
      }
      this.#apply(v);
    }
    // Make sure the next append starts on its own line if the file ends with a torn one.
    const last = Buffer.alloc(1);
    await this.#fh.read(last, 0, 1, st.size - 1);
    if (last[0] !== 0x0a && this.#writable) await this.#fh.appendFile('\n');
  }

  #apply(v: unknown): void {
    if (typeof v !== 'object' || v === null) return void this.#badLines++;
    const o = v as Record<string, unknown>;
    if (o.v !== 1 || typeof o.udid !== 'string' || typeof o.remote !== 'string') return void this.#badLines++;
    if (o.op === 'deleted') {
      this.#entries.delete(key(o.udid, o.remote));
      return;
    }
    if (o.op === 'stale') {
      const e = this.#entries.get(key(o.udid, o.remote));
      if (e) e.stale = true;
      return;
    }
    if (o.op !== undefined) return void this.#badLines++;
    if (typeof o.size !== 'number' || typeof o.mtimeNs !== 'string' || typeof o.sha256 !== 'string' || typeof o.local !== 'string') {
      return void this.#badLines++;
    }
    const e: ManifestEntry = {
      udid: o.udid, remote: o.remote, size: o.size, mtimeNs: o.mtimeNs, sha256: o.sha256, local: o.local,
      at: typeof o.at === 'string' ? o.at : '',
      ...(typeof o.captured === 'string' ? { captured: o.captured } : {}),
    };
    this.#entries.set(key(e.udid, e.remote), e);
  }

  /** Lines that could not be used (torn or foreign). */
  get badLines(): number {
    return this.#badLines;
  }

  /** Number of live entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for a device file, if imported. */
  get(udid: string, remote: string): ManifestEntry | undefined {
    return this.#entries.get(key(udid, remote));
  }

  /** All live entries of one device. */
  entries(udid?: string): ManifestEntry[] {
    return [...this.#entries.values()].filter((e) => udid === undefined || e.udid === udid);
  }

  /**
   * Appends an entry; resolves once it is on disk (fdatasync).
   * @throws PhotosError ERR_PHOTOS_MANIFEST
   */
  record(e: Omit<ManifestEntry, 'at'>): Promise<void> {
    const full: ManifestEntry = { ...e, at: new Date().toISOString() };
    this.#entries.set(key(e.udid, e.remote), full);
    return this.#append(JSON.stringify({ v: 1, ...full }));
  }

  /** Records that the device copy was removed (the local file stays). */
  recordDeleted(udid: string, remote: string): Promise<void> {
    this.#entries.delete(key(udid, remote));
    return this.#append(JSON.stringify({ v: 1, op: 'deleted', udid, remote, at: new Date().toISOString() }));
  }

  /** Records that the device file of an entry is not the recorded one (same size and mtime, other bytes). */
  recordStale(udid: string, remote: string): Promise<void> {
    const e = this.#entries.get(key(udid, remote));
    if (e) e.stale = true;
    return this.#append(JSON.stringify({ v: 1, op: 'stale', udid, remote, at: new Date().toISOString() }));
  }

  #append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ line: line + '\n', resolve, reject });
      if (!this.#flushing) this.#flushDone = this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      try {
        if (!this.#fh) throw new Error('the manifest is open read-only');
        await this.#fh.appendFile(batch.map((b) => b.line).join(''));
        await this.#fh.datasync();
        for (const b of batch) b.resolve();
      } catch (e) {
        const err = new PhotosError('ERR_PHOTOS_MANIFEST', `cannot write the manifest ${this.path}`, { cause: e });
        for (const b of batch) b.reject(err);
      }
    }
    this.#flushing = false;
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    await this.#flushDone;
    await this.#fh?.close();
  }
}
