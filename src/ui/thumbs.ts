/**
 * Thumbnails for the grid: made by the thumbnailer (src/thumbs/: the device's own thumbnail store, else the
 * embedded EXIF / HEIC thumbnail, else a decode) over one AFC connection per device, at most two at a time, the
 * most recently asked first (the rows on screen now), and cached on disk in the user's cache folder, never in
 * DEST's photo folders: <cache>/thumbs/<UDID>/<hash of path, size, mtime>.jpg. A file with no thumbnail gets a
 * `.none` marker so it is not tried again (the page shows an icon).
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import type { DeviceFile } from '../photos/layout.ts';
import type { PhotoAfc, PhotoDevice } from '../photos/source.ts';
import { afcThumbFiles, type ThumbAfc } from '../thumbs/afc-files.ts';
import { HeicDecoder } from '../thumbs/decode.ts';
import { makeThumbnail } from '../thumbs/thumbnailer.ts';

/** The per-user cache folder of iosdevice: $XDG_CACHE_HOME/iosdevice, ~/Library/Caches/iosdevice, %LOCALAPPDATA%\iosdevice\Cache. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'iosdevice');
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'iosdevice', 'Cache');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'iosdevice');
}

interface Job {
  run: () => Promise<void>;
  signal: AbortSignal | undefined;
}

/** Thumbnails made on demand and cached. */
export class ThumbService {
  readonly dir: string;
  readonly #heic = new HeicDecoder({ idleMs: 30_000 });
  readonly #afc = new Map<string, Promise<PhotoAfc>>();
  readonly #queue: Job[] = [];
  #running = 0;
  readonly #concurrency: number;
  /** Thumbnails made (not from the cache), by source: for the log and tests. */
  readonly made = new Map<string, number>();

  constructor(o: { dir: string; concurrency?: number }) {
    this.dir = o.dir;
    this.#concurrency = o.concurrency ?? 2;
  }

  #paths(udid: string, f: DeviceFile): { jpg: string; none: string; folder: string } {
    const folder = join(this.dir, udid.replace(/[^A-Za-z0-9-]/g, '_'));
    const h = createHash('sha256').update(`${f.remote}\0${f.size}\0${f.mtimeNs}`).digest('hex').slice(0, 40);
    return { folder, jpg: join(folder, `${h}.jpg`), none: join(folder, `${h}.none`) };
  }

  /**
   * The JPEG thumbnail of `file` on `device`, or undefined when it has none (a video without a poster, a file that
   * does not decode). `signal` (the request went away) drops it from the queue.
   * @throws connection errors when the device is gone; ERR_ABORTED
   */
  async get(device: PhotoDevice, file: DeviceFile, signal?: AbortSignal): Promise<Buffer | undefined> {
    const p = this.#paths(device.udid, file);
    const cached = await fsp.readFile(p.jpg).catch(() => undefined);
    if (cached) return cached;
    if (await fsp.stat(p.none).then(() => true, () => false)) return undefined;
    const jpeg = await this.#enqueue(() => this.#make(device, file, signal), signal);
    await fsp.mkdir(p.folder, { recursive: true });
    const tmp = `${jpeg ? p.jpg : p.none}.${randomUUID()}.tmp`;
    await fsp.writeFile(tmp, jpeg ?? '');
    await fsp.rename(tmp, jpeg ? p.jpg : p.none);
    return jpeg;
  }

  #enqueue<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ signal, run: () => fn().then(resolve, reject) });
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const job = this.#queue.pop()!; // newest first: what is on screen now
      if (job.signal?.aborted) continue;
      this.#running++;
      void job.run().finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #make(device: PhotoDevice, file: DeviceFile, signal: AbortSignal | undefined): Promise<Buffer | undefined> {
    for (let attempt = 0; ; attempt++) {
      const conn = this.#afc.get(device.udid) ?? device.openAfc({ timeoutMs: 15_000 });
      this.#afc.set(device.udid, conn);
      try {
        const files = afcThumbFiles(async () => (await conn) as unknown as ThumbAfc);
        const t = await makeThumbnail(files, file.remote, { heic: this.#heic, timeoutMs: 15_000, ...(signal ? { signal } : {}) });
        if (t) this.made.set(t.source, (this.made.get(t.source) ?? 0) + 1);
        return t?.jpeg;
      } catch (e) {
        if (this.#afc.get(device.udid) === conn) this.#afc.delete(device.udid);
        void conn.then((c) => c.close(), () => undefined);
        if (attempt > 0 || errorCode(e) === 'ERR_ABORTED' || !isConnectionLost(e)) throw e;
      }
    }
  }

  /** Forgets a device's connection (it was unplugged). */
  forget(udid: string): void {
    const c = this.#afc.get(udid);
    this.#afc.delete(udid);
    void c?.then((x) => x.close(), () => undefined);
  }

  /** Closes every connection and the HEIC decoder. */
  async close(): Promise<void> {
    for (const udid of [...this.#afc.keys()]) this.forget(udid);
    this.#queue.length = 0;
    await this.#heic.close();
  }
}
