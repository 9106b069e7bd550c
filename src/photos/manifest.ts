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
 *   {"v":1,"op":"dropped","udid":"…","remote":"…","at":"…"}   --heic-original drop removed the local copy of this
 *     HEIC on purpose once its JPEG (key "jpeg:<remote>") was written: not fetched again, not checked by verify
 *   {"v":1,"op":"device","udid":"…","name":"Anna's iPhone","folder":"Anna's iPhone","at":"…"}
 *     the folder below DEST this device's files go to ('' = DEST's top level; device-folder.ts)
 * Readers that do not know an `op` ignore its line (counted in `badLines`), so old versions still read new files.
 */
import { constants, createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PhotosError } from './errors.ts';
import { count, DEFAULT_LIMITS, limitError } from './limits.ts';
import { EntryStore, type StoredEntry } from './manifest-store.ts';

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
  /** When it was recorded (ISO); on disk only: entries read back from memory leave it out. */
  at?: string;
  /** Set by an `op: stale` line: the device file changed with the same size and mtime; copy it again. */
  stale?: boolean;
  /** Set by an `op: dropped` line: the local copy was removed on purpose (--heic-original drop); only a JPEG of it is in DEST. */
  dropped?: boolean;
}


/** What {@link Manifest.lookup} gives: an entry without its key and its SHA-256. */
export type EntryInfo = Omit<StoredEntry, 'sha256'>;

/**
 * A file this tool placed in DEST, as the manifest recorded it: every local file any line recorded, including
 * older versions of a file changed on the device since and files removed from the device (`verify` checks them all).
 */
export type RecordedFile = Pick<ManifestEntry, 'udid' | 'remote' | 'size' | 'sha256' | 'local'>;

/** Options of {@link Manifest.open}. */
export interface ManifestOpenOptions {
  /** Create nothing; `record()` rejects (--dry-run). */
  readOnly?: boolean;
  /** Most live entries held in memory: ERR_PHOTOS_LIMIT above (default limits.ts maxManifestEntries). */
  maxEntries?: number;
}

/** The manifest of one DEST. Open with {@link Manifest.open}. */
export class Manifest {
  readonly path: string;
  /**
   * udid → remote → slot of {@link #store} (manifest-store.ts: fixed-width columns, about 150 bytes per entry with
   * its key); the record time is only on disk. {@link Manifest.get} rebuilds a ManifestEntry on demand.
   */
  readonly #byDevice = new Map<string, Map<string, number>>();
  readonly #store = new EntryStore();
  #count = 0;
  /** Recorded local files no live entry points to any more (superseded versions, files removed from the device). */
  readonly #retired = new Map<string, RecordedFile>();
  /** udid → its folder below DEST (op: device lines). */
  readonly #devices = new Map<string, string>();
  #maxEntries: number = DEFAULT_LIMITS.maxManifestEntries;
  #fh: fsp.FileHandle | undefined;
  #pending: { line: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  #flushing = false;
  /** The last append failed: it may have left part of a line (no newline) at the end of the file. */
  #torn = false;
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
   * @throws PhotosError ERR_PHOTOS_MANIFEST when it cannot be read or opened for append; ERR_PHOTOS_LIMIT when
   *   it holds more than `maxEntries` live entries
   */
  static async open(dest: string, opts: ManifestOpenOptions = {}): Promise<Manifest> {
    const dir = join(dest, STATE_DIR);
    const path = join(dir, FILE);
    let fh: fsp.FileHandle | undefined;
    try {
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
      if (opts.maxEntries !== undefined) m.#maxEntries = opts.maxEntries;
      await m.#load();
      return m;
    } catch (e) {
      await fh?.close().catch(() => undefined);
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
    if (o.v === 1 && o.op === 'device' && typeof o.udid === 'string' && typeof o.folder === 'string') {
      this.#devices.set(o.udid, o.folder);
      return;
    }
    if (o.v !== 1 || typeof o.udid !== 'string' || typeof o.remote !== 'string') return void this.#badLines++;
    if (o.op === 'deleted') {
      this.#delete(o.udid, o.remote);
      return;
    }
    if (o.op === 'stale' || o.op === 'dropped') {
      const i = this.#byDevice.get(o.udid)?.get(o.remote);
      if (i !== undefined) this.#store.mark(i, o.op);
      return;
    }
    if (o.op !== undefined) return void this.#badLines++;
    if (typeof o.size !== 'number' || typeof o.mtimeNs !== 'string' || typeof o.sha256 !== 'string' || typeof o.local !== 'string') {
      return void this.#badLines++;
    }
    this.#set(o.udid, o.remote, { size: o.size, mtimeNs: o.mtimeNs, sha256: o.sha256, local: o.local, captured: typeof o.captured === 'string' ? o.captured : undefined, stale: false, dropped: false });
  }

  #set(udid: string, remote: string, e: StoredEntry): void {
    let m = this.#byDevice.get(udid);
    if (!m) this.#byDevice.set(udid, (m = new Map()));
    const old = m.get(remote);
    if (old !== undefined) {
      if (this.#store.local(old, remote) !== e.local) this.#retire(udid, remote, old);
      this.#store.write(old, e, remote);
      return;
    }
    if (this.#count + 1 > this.#maxEntries) {
      throw limitError('maxManifestEntries', this.#maxEntries, `the manifest ${this.path} holds more than ${count(this.#maxEntries)} entries`);
    }
    m.set(remote, this.#store.add(e, remote));
    this.#count++;
  }

  #delete(udid: string, remote: string): void {
    const m = this.#byDevice.get(udid);
    const old = m?.get(remote);
    if (!m || old === undefined) return;
    this.#retire(udid, remote, old);
    m.delete(remote);
    this.#store.remove(old);
    this.#count--;
  }

  #retire(udid: string, remote: string, i: number): void {
    const s = this.#store;
    if (s.dropped(i)) return; // removed on purpose: nothing of it is in DEST to check
    const local = s.local(i, remote);
    this.#retired.set(local, { udid, remote, size: s.size(i), sha256: s.sha256(i), local });
  }

  static #entry(udid: string, remote: string, e: StoredEntry): ManifestEntry {
    return {
      udid, remote, size: e.size, mtimeNs: e.mtimeNs, sha256: e.sha256, local: e.local,
      ...(e.captured !== undefined ? { captured: e.captured } : {}),
      ...(e.stale ? { stale: true } : {}),
      ...(e.dropped ? { dropped: true } : {}),
    };
  }

  /** Lines that could not be used (torn or foreign). */
  get badLines(): number {
    return this.#badLines;
  }

  /** Number of live entries. */
  get size(): number {
    return this.#count;
  }

  /** The entry for a device file, if imported (a fresh object: changing it changes nothing). */
  get(udid: string, remote: string): ManifestEntry | undefined {
    const i = this.#byDevice.get(udid)?.get(remote);
    return i === undefined ? undefined : Manifest.#entry(udid, remote, this.#store.read(i, remote));
  }

  /**
   * The entry for a device file without its SHA-256 (cheaper than {@link get}: no hex string is made; the plan and
   * the copy stage ask this once or twice per file of the library on every run).
   */
  lookup(udid: string, remote: string): EntryInfo | undefined {
    const i = this.#byDevice.get(udid)?.get(remote);
    return i === undefined ? undefined : this.#store.info(i, remote);
  }

  /** True when the device file has an entry (cheaper than {@link get}). */
  has(udid: string, remote: string): boolean {
    return this.#byDevice.get(udid)?.has(remote) ?? false;
  }

  /** All live entries of one device (or of all devices). */
  entries(udid?: string): ManifestEntry[] {
    const out: ManifestEntry[] = [];
    for (const [u, m] of this.#byDevice) {
      if (udid !== undefined && u !== udid) continue;
      for (const [remote, i] of m) out.push(Manifest.#entry(u, remote, this.#store.read(i, remote)));
    }
    return out;
  }

  /**
   * Every local file the manifest records, one per local path: those of the live entries, and those of superseded
   * versions and of files removed from the device (a live entry wins over an older line for the same path).
   */
  recorded(): RecordedFile[] {
    const out = new Map<string, RecordedFile>(this.#retired);
    for (const [udid, m] of this.#byDevice) {
      for (const [remote, i] of m) {
        const s = this.#store;
        if (s.dropped(i)) continue;
        const local = s.local(i, remote);
        out.set(local, { udid, remote, size: s.size(i), sha256: s.sha256(i), local });
      }
    }
    return [...out.values()];
  }

  /**
   * Appends an entry; resolves once it is on disk (fdatasync).
   * @throws PhotosError ERR_PHOTOS_MANIFEST
   */
  record(e: Omit<ManifestEntry, 'at'>): Promise<void> {
    const full: ManifestEntry = { ...e, at: new Date().toISOString() };
    try {
      this.#set(e.udid, e.remote, { size: e.size, mtimeNs: e.mtimeNs, sha256: e.sha256, local: e.local, captured: e.captured, stale: false, dropped: false });
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const { stale: _stale, dropped: _dropped, ...line } = full;
    return this.#append(JSON.stringify({ v: 1, ...line }));
  }

  /** Records that the device copy was removed (the local file stays). */
  recordDeleted(udid: string, remote: string): Promise<void> {
    this.#delete(udid, remote);
    return this.#append(JSON.stringify({ v: 1, op: 'deleted', udid, remote, at: new Date().toISOString() }));
  }

  /** The folder below DEST recorded for a device ('' = DEST's top level), if any. */
  deviceFolder(udid: string): string | undefined {
    return this.#devices.get(udid);
  }

  /** Every recorded device → folder. */
  deviceFolders(): ReadonlyMap<string, string> {
    return this.#devices;
  }

  /** True when any line records a file of this device (live, superseded or removed from the device). */
  knows(udid: string): boolean {
    if ((this.#byDevice.get(udid)?.size ?? 0) > 0) return true;
    for (const r of this.#retired.values()) if (r.udid === udid) return true;
    return false;
  }

  /** Records the folder of a device (device-folder.ts); `name` is the device name it was chosen from. */
  recordDevice(udid: string, name: string | undefined, folder: string): Promise<void> {
    this.#devices.set(udid, folder);
    return this.#append(JSON.stringify({ v: 1, op: 'device', udid, ...(name !== undefined ? { name } : {}), folder, at: new Date().toISOString() }));
  }

  /** Records that the local copy of a HEIC was removed on purpose (--heic-original drop, after its JPEG was recorded). */
  recordDropped(udid: string, remote: string): Promise<void> {
    const i = this.#byDevice.get(udid)?.get(remote);
    if (i !== undefined) this.#store.mark(i, 'dropped');
    return this.#append(JSON.stringify({ v: 1, op: 'dropped', udid, remote, at: new Date().toISOString() }));
  }

  /** Records that the device file of an entry is not the recorded one (same size and mtime, other bytes). */
  recordStale(udid: string, remote: string): Promise<void> {
    const i = this.#byDevice.get(udid)?.get(remote);
    if (i !== undefined) this.#store.mark(i, 'stale');
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
        // after a failed append (disk full: part of a line may be on disk) the next one starts on a fresh line
        await this.#fh.appendFile((this.#torn ? '\n' : '') + batch.map((b) => b.line).join(''));
        this.#torn = false;
        await this.#fh.datasync();
        for (const b of batch) b.resolve();
      } catch (e) {
        this.#torn = true;
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
