/**
 * Pixels to thumbnail JPEGs: sharp (libvips, prebuilt in its npm package) decodes JPEG/PNG/WebP/AVIF/TIFF,
 * resizes and encodes; HEIC/HEIF goes through heic-decode (libheif + libde265 compiled to WASM: sharp's
 * prebuilt libvips has no HEVC) in one long-lived worker thread (heic-worker.mjs), ended after a minute idle
 * so its WASM heap (~250 MB while busy) is given back. Both libraries are loaded on first use.
 */
import { Worker } from 'node:worker_threads';
import type { Sharp } from 'sharp';
import { AbortError, fixErrorName, IDeviceError } from '../core/errors.ts';

/** Longest side of a thumbnail, px. */
export const THUMB_SIZE = 256;
/** Images with more pixels than this are not decoded (a decode needs 4 bytes per pixel). */
export const MAX_PIXELS = 120_000_000;

/** A decode that failed (unsupported or corrupt image). Code ERR_THUMB_DECODE. */
export class ThumbDecodeError extends IDeviceError {
  static {
    fixErrorName(this, 'ThumbDecodeError');
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_THUMB_DECODE', message, options);
  }
}

type SharpFn = (typeof import('sharp'))['default'];
let sharpLib: Promise<SharpFn> | undefined;
function loadSharp(): Promise<SharpFn> {
  sharpLib ??= import('sharp').then((m) => {
    const s = m.default;
    s.cache(false); // thumbnails are made once and cached on disk: keep libvips' memory flat
    return s;
  });
  return sharpLib;
}

/** Applies an EXIF orientation (1–8) as rotate/flop (sharp rotates before it mirrors). */
function orient(img: Sharp, o: number): Sharp {
  switch (o) {
    case 2: return img.flop();
    case 3: return img.rotate(180);
    case 4: return img.flip();
    case 5: return img.rotate(90).flop();
    case 6: return img.rotate(90);
    case 7: return img.rotate(270).flop();
    case 8: return img.rotate(270);
    default: return img;
  }
}

async function finish(img: Sharp, what: string): Promise<Buffer> {
  try {
    return await img.resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 78 }).toBuffer();
  } catch (e) {
    throw new ThumbDecodeError(`cannot make a thumbnail of ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Encoded image (JPEG, PNG, …) → thumbnail JPEG. `orientation` (1–8) is applied when given; otherwise the
 * image's own EXIF orientation is.
 * @throws ThumbDecodeError (ERR_THUMB_DECODE)
 */
export async function thumbFromEncoded(buf: Buffer, what: string, orientation?: number): Promise<Buffer> {
  const sharp = await loadSharp();
  const img = sharp(buf, { failOn: 'none', limitInputPixels: MAX_PIXELS });
  return finish(orientation === undefined ? img.rotate() : orient(img, orientation), what);
}

/** RGBA pixels → thumbnail JPEG. @throws ThumbDecodeError (ERR_THUMB_DECODE) */
export async function thumbFromRgba(data: Uint8Array | Uint8ClampedArray, width: number, height: number, what: string, orientation = 1): Promise<Buffer> {
  const sharp = await loadSharp();
  const img = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } });
  return finish(orient(img, orientation), what);
}

interface Pending {
  resolve: (r: { width: number; height: number; data: Uint8ClampedArray }) => void;
  reject: (e: Error) => void;
}

/** HEIC decoding in a worker thread, one image at a time. */
export class HeicDecoder {
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #next = 1;
  #idle: NodeJS.Timeout | undefined;
  #idleMs: number;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: { idleMs?: number } = {}) {
    this.#idleMs = opts.idleMs ?? 60_000;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./heic-worker.mjs', import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; width?: number; height?: number; data?: Uint8ClampedArray; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined || !m.data) p.reject(new ThumbDecodeError(`HEIF decode failed: ${m.error ?? 'no pixels'}`));
      else p.resolve({ width: m.width!, height: m.height!, data: m.data });
    });
    const fail = (e: Error): void => {
      if (this.#worker === w) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(new ThumbDecodeError(`HEIF decoder stopped: ${e.message}`, { cause: e }));
      this.#pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`worker exited with ${code}`)));
    this.#worker = w;
    return w;
  }

  /**
   * Decodes a HEIC/HEIF (the primary image) to RGBA. Decodes run one after another.
   * @throws ThumbDecodeError (ERR_THUMB_DECODE); AbortError (ERR_ABORTED) when `signal` fires before it starts
   */
  decode(buf: Buffer, signal?: AbortSignal): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
    const run = async (): Promise<{ width: number; height: number; data: Uint8ClampedArray }> => {
      if (signal?.aborted) throw new AbortError('HEIF decode', signal.reason);
      clearTimeout(this.#idle);
      const w = this.#start();
      const id = this.#next++;
      try {
        return await new Promise((resolve, reject) => {
          this.#pending.set(id, { resolve, reject });
          w.postMessage({ id, buf: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
        });
      } finally {
        this.#idle = setTimeout(() => void this.close(), this.#idleMs);
        this.#idle.unref();
      }
    };
    const r = this.#chain.then(run, run);
    this.#chain = r.catch(() => undefined);
    return r;
  }

  /** Ends the worker (a later decode starts a new one). */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }
}

/** HEIC bytes → thumbnail JPEG through `decoder`. @throws ThumbDecodeError (ERR_THUMB_DECODE), ERR_ABORTED */
export async function thumbFromHeic(decoder: HeicDecoder, buf: Buffer, what: string, signal?: AbortSignal): Promise<Buffer> {
  const { width, height, data } = await decoder.decode(buf, signal);
  return thumbFromRgba(data, width, height, what);
}
