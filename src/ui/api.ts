/**
 * The JSON endpoints of the page (below /<token>/api/), and the state behind them:
 *
 *   GET  state               devices, settings, each device's listing status, the import's progress
 *   GET  devices             the attached devices only
 *   GET  events              Server-Sent Events: `state` (as GET state) on every change, `progress` while importing
 *   GET  library?udid=&offset=&limit=   a page of tiles: [id, time ms, bytes, flags, name]; flags 1 video, 2 backed
 *                            up, 4 Live
 *   GET  thumb?udid=&gen=&id=           the tile's JPEG thumbnail (404: none, the page shows an icon)
 *   POST settings            {dest, event, splitByDate, deleteAfterImport}
 *   POST import              {udid, gen, ids: number[]} or {udid, gen, all: true}
 *   POST cancel              stops the import
 *   POST answer              {id, answer: 'keep' | 'remove'}: after an import, remove its verified files or not
 *   POST retry               {udid}: ask to trust again after "Don't Trust" or an error
 *
 * Errors are `{ error: { code, message } }` with a sentence the page shows as it is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { errorCode } from '../core/errors.ts';
import { checkEventName } from '../photos/layout.ts';
import { DeviceHub } from './devices.ts';
import { checkDest, ImportJob, type ImportProgress, type ImportSettings } from './import-job.ts';
import { backedUp, loadListing, type Listing } from './library.ts';
import { ThumbService } from './thumbs.ts';
import { codeOr, UiError } from './errors.ts';

/** A request the API refuses, with the status and a sentence for the page. */

interface LibraryState {
  state: 'loading' | 'ready' | 'error';
  message?: string;
  listing?: Listing;
  marks?: { dest: string; flags: Uint8Array };
  abort: AbortController;
}

/** Options of {@link UiApp}. */
export interface UiAppOptions {
  dest?: string;
  socket?: string;
  env?: NodeJS.ProcessEnv;
  /** Thumbnail cache folder. */
  thumbsDir: string;
  /** Bound on the trust flow, ms. */
  pairMs?: number;
}

const MAX_BODY = 8 * 1024 * 1024;
const MAX_PAGE = 10_000;

/** The default destination when none is given: ~/Pictures/iPhone. */
export function defaultDest(): string {
  return join(homedir(), 'Pictures', 'iPhone');
}

/** State and endpoints of the page. */
export class UiApp {
  readonly hub: DeviceHub;
  readonly thumbs: ThumbService;
  settings: ImportSettings;
  job: ImportJob | undefined;
  readonly #libraries = new Map<string, LibraryState>();
  readonly #clients = new Set<ServerResponse>();
  #stateTimer: NodeJS.Timeout | undefined;

  constructor(o: UiAppOptions) {
    this.settings = { dest: resolve(o.dest ?? defaultDest()), event: '', splitByDate: false, deleteAfterImport: false };
    this.hub = new DeviceHub({ socket: o.socket, env: o.env, ...(o.pairMs !== undefined ? { pairMs: o.pairMs } : {}) });
    this.thumbs = new ThumbService({ dir: o.thumbsDir });
    this.hub.on('change', () => {
      this.#syncLibraries();
      this.#pushState();
    });
    this.hub.start();
  }

  /** Ends SSE streams, the device watch, thumbnail connections; cancels an import and waits for it. */
  async close(): Promise<void> {
    this.job?.cancel();
    await this.job?.done;
    for (const c of this.#clients) c.end();
    this.#clients.clear();
    for (const l of this.#libraries.values()) l.abort.abort();
    clearTimeout(this.#stateTimer);
    await this.hub.close();
    await this.thumbs.close();
  }

  /** Loads the listing of each newly trusted device; drops those of detached ones. */
  #syncLibraries(): void {
    for (const d of this.hub.list()) {
      if (d.state !== 'trusted' || this.#libraries.has(d.udid)) continue;
      this.#load(d.udid);
    }
    for (const [udid, l] of this.#libraries) {
      if (this.hub.attached(udid)) continue;
      l.abort.abort();
      this.#libraries.delete(udid);
      this.thumbs.forget(udid);
    }
  }

  #load(udid: string): void {
    const dev = this.hub.photoDevice(udid);
    if (!dev) return;
    const l: LibraryState = { state: 'loading', abort: new AbortController() };
    this.#libraries.set(udid, l);
    loadListing(dev, { signal: l.abort.signal }).then((listing) => {
      if (this.#libraries.get(udid) !== l) return;
      l.state = 'ready';
      l.listing = listing;
      l.message = listing.warning;
      this.#pushState();
    }, (e: unknown) => {
      if (this.#libraries.get(udid) !== l || l.abort.signal.aborted) return;
      l.state = 'error';
      l.message = errorCode(e) === 'ERR_PHOTOS_DISCONNECTED'
        ? 'The iPhone went away while its photos were being listed. Plug it back in.'
        : `The photos could not be listed: ${e instanceof Error ? e.message : String(e)}`;
      this.#pushState();
    });
  }

  /** What GET state answers. */
  state(): Record<string, unknown> {
    const libraries: Record<string, unknown> = {};
    for (const [udid, l] of this.#libraries) {
      libraries[udid] = { state: l.state, ...(l.message !== undefined ? { message: l.message } : {}), ...(l.listing ? { gen: l.listing.gen, total: l.listing.tiles.length, source: l.listing.source } : {}) };
    }
    return {
      devices: this.hub.list(), ...(this.hub.muxError !== undefined ? { muxError: this.hub.muxError } : {}),
      settings: this.settings, libraries, job: this.job ? { ...this.job.progress } : null,
    };
  }

  #send(event: string, data: unknown): void {
    const line = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.#clients) c.write(line);
  }

  #pushState(): void {
    // several changes in one tick go out as one event
    this.#stateTimer ??= setTimeout(() => {
      this.#stateTimer = undefined;
      this.#send('state', this.state());
    }, 10);
  }

  /** Serves `path` (below /api). Throws UiError for refusals. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /state':
        return json(res, 200, this.state());
      case 'GET /devices':
        return json(res, 200, { devices: this.hub.list(), ...(this.hub.muxError !== undefined ? { muxError: this.hub.muxError } : {}) });
      case 'GET /events':
        return this.#events(req, res);
      case 'GET /library':
        return this.#library(res, q);
      case 'GET /thumb':
        return this.#thumb(req, res, q);
      case 'POST /settings':
        return json(res, 200, await this.#settings(await body(req)));
      case 'POST /import':
        return json(res, 202, await this.#import(await body(req)));
      case 'POST /cancel':
        this.job?.cancel();
        return json(res, 200, { cancelled: this.job?.progress.state === 'cancelling' });
      case 'POST /answer':
        return json(res, 200, await this.#answer(await body(req)));
      case 'POST /retry': {
        const b = await body(req);
        return json(res, 200, { retried: this.hub.retry(str(b.udid, 'udid')) });
      }
    }
    throw new UiError(404, 'ERR_UI_NOT_FOUND', `no endpoint ${route}`);
  }

  #events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: state\ndata: ${JSON.stringify(this.state())}\n\n`);
    this.#clients.add(res);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      this.#clients.delete(res);
    });
  }

  #listing(udid: string, gen?: number): Listing {
    const l = this.#libraries.get(udid);
    if (!l?.listing) throw new UiError(409, 'ERR_UI_NOT_READY', 'The photos of this iPhone are not listed yet.');
    if (gen !== undefined && l.listing.gen !== gen) throw new UiError(409, 'ERR_UI_STALE', 'The photo list changed: reload the page.');
    return l.listing;
  }

  async #marks(udid: string): Promise<Uint8Array> {
    const l = this.#libraries.get(udid)!;
    const dest = this.settings.dest;
    if (l.marks?.dest !== dest) l.marks = { dest, flags: await backedUp(dest, l.listing!) };
    return l.marks.flags;
  }

  async #library(res: ServerResponse, q: URLSearchParams): Promise<void> {
    const udid = q.get('udid') ?? '';
    const listing = this.#listing(udid);
    const offset = Math.max(0, Number(q.get('offset') ?? 0) | 0);
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(q.get('limit') ?? MAX_PAGE) | 0));
    const marks = await this.#marks(udid);
    const items = listing.tiles.slice(offset, offset + limit).map((t) => [
      t.id, t.t, t.size, (t.video ? 1 : 0) | (marks[t.id] ? 2 : 0) | (t.live ? 4 : 0), t.primary.rel[t.primary.rel.length - 1]!,
    ]);
    json(res, 200, { udid, gen: listing.gen, total: listing.tiles.length, offset, items, source: listing.source, ...(listing.warning !== undefined ? { warning: listing.warning } : {}) });
  }

  async #thumb(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const udid = q.get('udid') ?? '';
    const listing = this.#listing(udid, Number(q.get('gen')));
    const tile = listing.tiles[Number(q.get('id'))];
    const dev = this.hub.photoDevice(udid);
    if (!tile || !dev) throw new UiError(404, 'ERR_UI_NOT_FOUND', 'no such photo');
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    let jpeg: Buffer | undefined;
    try {
      jpeg = await this.thumbs.get(dev, tile.primary, ac.signal);
    } catch (e) {
      if (ac.signal.aborted) return void res.destroy();
      throw new UiError(503, codeOr(e, 'ERR_UI_THUMB'), `no thumbnail: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!jpeg) throw new UiError(404, 'ERR_UI_NO_THUMB', 'this file has no thumbnail');
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length, 'Cache-Control': 'private, max-age=86400' });
    res.end(jpeg);
  }

  async #settings(b: Record<string, unknown>): Promise<ImportSettings> {
    if (this.job && this.job.progress.state !== 'done') throw new UiError(409, 'ERR_UI_BUSY', 'Settings cannot change while an import runs.');
    const next = { ...this.settings };
    if (b.dest !== undefined) {
      const d = str(b.dest, 'dest').trim();
      if (d === '') throw new UiError(400, 'ERR_INVALID_ARG', 'Choose a destination folder.');
      next.dest = resolve(d.startsWith('~/') ? join(homedir(), d.slice(2)) : d);
    }
    if (b.event !== undefined) {
      const ev = str(b.event, 'event').trim();
      try {
        next.event = ev === '' ? '' : checkEventName(ev);
      } catch (e) {
        throw new UiError(400, 'ERR_INVALID_ARG', `Event name: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (b.splitByDate !== undefined) next.splitByDate = b.splitByDate === true;
    if (b.deleteAfterImport !== undefined) next.deleteAfterImport = b.deleteAfterImport === true;
    this.settings = next;
    this.#pushState();
    return next;
  }

  async #import(b: Record<string, unknown>): Promise<ImportProgress> {
    if (this.job && this.job.progress.state !== 'done') throw new UiError(409, 'ERR_UI_BUSY', 'An import is already running.');
    const udid = str(b.udid, 'udid');
    const dev = this.hub.photoDevice(udid);
    if (!dev) throw new UiError(409, 'ERR_UI_NOT_TRUSTED', this.hub.attached(udid) ? 'This iPhone is not ready yet (trust it first).' : 'This iPhone is no longer connected. Plug it back in.');
    const listing = this.#listing(udid, typeof b.gen === 'number' ? b.gen : undefined);
    let paths: Set<string> | undefined;
    if (b.all !== true) {
      if (!Array.isArray(b.ids) || b.ids.length === 0) throw new UiError(400, 'ERR_INVALID_ARG', 'Select the photos to import first.');
      paths = new Set();
      for (const id of b.ids) {
        const t = typeof id === 'number' ? listing.tiles[id] : undefined;
        if (!t) throw new UiError(400, 'ERR_INVALID_ARG', `no photo ${String(id)}`);
        for (const f of t.members) paths.add(f.remote);
      }
    }
    const dest = await checkDest(this.settings.dest); // UiError ERR_UI_DEST with a sentence for the page
    const job = new ImportJob(dev, { ...this.settings, dest }, paths);
    this.job = job;
    job.on('progress', (p: ImportProgress) => this.#send('progress', p));
    job.on('done', () => {
      const l = this.#libraries.get(udid);
      if (l) l.marks = undefined; // the next listing page shows the new marks
      this.#pushState();
    });
    this.#pushState();
    return { ...job.progress };
  }

  async #answer(b: Record<string, unknown>): Promise<Record<string, unknown>> {
    const job = this.job;
    if (!job || job.id !== b.id || job.progress.state !== 'done') throw new UiError(409, 'ERR_UI_NO_IMPORT', 'There is no finished import to answer for.');
    if (b.answer === 'keep') return { kept: true, message: 'The photos stay on the iPhone.' };
    if (b.answer !== 'remove') throw new UiError(400, 'ERR_INVALID_ARG', 'answer must be keep or remove');
    if (!this.hub.photoDevice(job.device.udid)) throw new UiError(409, 'ERR_UI_NOT_TRUSTED', 'The iPhone is no longer connected: nothing was removed.');
    let r;
    try {
      r = await job.remove();
    } catch (e) {
      if (e instanceof UiError) throw e; // refused (Photos library, already removed): its own sentence and status
      throw new UiError(500, codeOr(e, 'ERR_UI_REMOVE'), `Nothing more was removed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const l = this.#libraries.get(job.device.udid);
    if (l && r.deleted.length > 0) {
      l.abort.abort();
      this.#libraries.delete(job.device.udid);
      this.#syncLibraries(); // list again: the removed photos are gone from the phone
    }
    this.#pushState();
    const kept = r.kept.length + r.failed.length;
    return {
      deleted: r.deleted.length, kept,
      message: `Removed ${r.deleted.length} ${r.deleted.length === 1 ? 'file' : 'files'} from the iPhone${kept > 0 ? `; ${kept} kept (changed on the phone, not verified or not removable)` : ''}.`,
    };
  }
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new UiError(400, 'ERR_INVALID_ARG', `${name} must be a string`);
  return v;
}

/** Sends a JSON answer. */
export function json(res: ServerResponse, status: number, value: unknown): void {
  const b = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': b.length, 'Cache-Control': 'no-store' });
  res.end(b);
}

/** Reads a JSON object body (Content-Type application/json, at most 8 MiB). */
async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new UiError(415, 'ERR_INVALID_ARG', 'send JSON (Content-Type: application/json)');
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY) throw new UiError(413, 'ERR_INVALID_ARG', 'request body too large');
    parts.push(c);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new UiError(400, 'ERR_INVALID_ARG', 'the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UiError(400, 'ERR_INVALID_ARG', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}
