/**
 * One thumbnail for one device file, cheapest source first:
 *   1. the device's own thumbnail store: /PhotoData/Thumbnails/V2/<device path>/<n>.JPG (iOS 12+; the highest
 *      number is taken; for videos it is the poster frame);
 *   2. the thumbnail embedded in the file: the EXIF IFD1 JPEG (JPEG, and HEIC when present), else the HEIC's
 *      `thmb` item (a small HEVC image, decoded in ~20 ms);
 *   3. the whole image decoded and scaled (sharp for JPEG/PNG/…, heic-decode for HEIC; files ≤ 64 MiB);
 *   videos: the first HEVC key frame; else none (the page shows a video icon).
 * A route that does not apply or fails on malformed data falls through to the next; connection errors and
 * aborts are thrown so the caller can reconnect. The file type is sniffed from its bytes, never its extension
 * (some ".HEIC" files are JPEGs).
 */
import type { CallOpts } from '../core/abort.ts';
import { errorCode, isConnectionLost } from '../core/errors.ts';
import type { RandomReader } from './bmff.ts';
import { HeicDecoder, thumbFromEncoded, thumbFromHeic } from './decode.ts';
import { exifOrientation, exifThumbnail, jpegExifTiff } from './exif-thumb.ts';
import { heifExifTiff, heifThumbnail, isHeif, readHeifMeta, type HeifMeta } from './heif.ts';
import { readMovie } from './mov.ts';

/** Folder of the device's thumbnail store, below the AFC root (/var/mobile/Media). */
export const THUMBNAIL_STORE = '/PhotoData/Thumbnails/V2';

/** A device file opened for random reads. */
export interface ThumbFile {
  size: number;
  read: RandomReader;
  close(): Promise<void>;
}

/** How the thumbnailer reaches device files (an AFC adapter: afc-files.ts). */
export interface ThumbFiles {
  open(path: string, o?: CallOpts): Promise<ThumbFile>;
  readdir(path: string, o?: CallOpts): Promise<string[]>;
}

/** Where a thumbnail came from. */
export type ThumbSource = 'device-store' | 'exif' | 'embedded' | 'decoded' | 'video-frame';

export interface Thumb {
  /** JPEG, longest side ≤ THUMB_SIZE. */
  jpeg: Buffer;
  source: ThumbSource;
}

export interface ThumbOptions extends CallOpts {
  heic: HeicDecoder;
  /** Largest file decoded whole (route 3), bytes. Default 64 MiB. */
  maxDecodeBytes?: number;
  /** Largest store JPEG read, bytes. Default 4 MiB. */
  maxStoreBytes?: number;
}

const HEAD = 256 * 1024;

/** Errors that end this thumbnail attempt for the caller (device gone, aborted), not just one route. */
function fatal(e: unknown): boolean {
  return isConnectionLost(e) || errorCode(e) === 'ERR_ABORTED' || errorCode(e) === 'ERR_PHOTOS_DISCONNECTED';
}

async function attempt<T>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (fatal(e)) throw e;
    return undefined;
  }
}

/** Reads all of a file (at most `max` bytes; undefined when larger). */
async function readAll(f: ThumbFile, max: number): Promise<Buffer | undefined> {
  if (f.size > max) return undefined;
  const b = await f.read(0, f.size);
  return b.length === f.size ? b : undefined;
}

/** The store's JPEG for `remote`, if the device has one. */
async function fromStore(files: ThumbFiles, remote: string, o: ThumbOptions): Promise<Thumb | undefined> {
  const dir = `${THUMBNAIL_STORE}${remote}`;
  const names = await files.readdir(dir, o);
  const best = names.filter((n) => /^\d{1,6}\.jpe?g$/i.test(n)).sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10))[0];
  if (!best) return undefined;
  const f = await files.open(`${dir}/${best}`, o);
  try {
    const b = await readAll(f, o.maxStoreBytes ?? 4 * 1024 * 1024);
    if (!b || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
    return { jpeg: await thumbFromEncoded(b, `${dir}/${best}`), source: 'device-store' };
  } finally {
    await f.close();
  }
}

async function fromJpeg(f: ThumbFile, head: Buffer, remote: string, o: ThumbOptions): Promise<Thumb | undefined> {
  const tiff = jpegExifTiff(head);
  const t = tiff && exifThumbnail(tiff);
  if (t) {
    const r = await attempt(async () => ({ jpeg: await thumbFromEncoded(t.jpeg, remote, t.orientation), source: 'exif' as const }));
    if (r) return r;
  }
  const all = await readAll(f, o.maxDecodeBytes ?? 64 * 1024 * 1024);
  if (!all) return undefined;
  return { jpeg: await thumbFromEncoded(all, remote), source: 'decoded' };
}

async function fromHeif(f: ThumbFile, remote: string, o: ThumbOptions): Promise<Thumb | undefined> {
  const meta = await attempt(() => readHeifMeta(f.read, f.size));
  if (meta) {
    const tiff = await attempt(() => heifExifTiff(f.read, meta));
    const t = tiff && exifThumbnail(tiff);
    if (t) {
      const r = await attempt(async () => ({ jpeg: await thumbFromEncoded(t.jpeg, remote, t.orientation), source: 'exif' as const }));
      if (r) return r;
    }
    const embedded = await attempt(() => heifThumbnail(f.read, meta));
    if (embedded) {
      const orientation = embedded.kind === 'jpeg' && tiff ? exifOrientation(tiff) : undefined;
      const r = await attempt(async () => ({
        jpeg: embedded.kind === 'jpeg' ? await thumbFromEncoded(embedded.data, remote, orientation) : await thumbFromHeic(o.heic, embedded.data, remote, o.signal),
        source: 'embedded' as const,
      }));
      if (r) return r;
    }
  }
  if (!meta || !decodable(meta)) return undefined; // reading a whole file the decoder would refuse is wasted I/O
  const all = await readAll(f, o.maxDecodeBytes ?? 64 * 1024 * 1024);
  if (!all) return undefined;
  return { jpeg: await thumbFromHeic(o.heic, all, remote, o.signal), source: 'decoded' };
}

/** The primary image is a grid/derived image or a coded image with its decoder configuration. */
function decodable(m: HeifMeta): boolean {
  const p = m.items.get(m.primary);
  if (!p) return false;
  if (p.type === 'grid' || p.type === 'iden' || p.type === 'iovl') return true;
  const props = (m.assoc.get(p.id) ?? []).map((i) => m.props[i - 1]?.toString('latin1', 4, 8));
  return props.includes('hvcC') || props.includes('av1C');
}

function isMovie(head: Buffer): boolean {
  if (head.length < 12) return false;
  const t = head.toString('latin1', 4, 8);
  if (t === 'moov' || t === 'mdat' || t === 'wide' || t === 'free') return true;
  return t === 'ftyp' && !isHeif(head);
}

/**
 * Makes the thumbnail of device file `remote`; undefined when no route gives one (e.g. an H.264 video without a
 * store poster, or a file that does not decode).
 * @throws connection errors (ERR_CLOSED, ERR_TIMEOUT, ERR_PHOTOS_DISCONNECTED…) and ERR_ABORTED
 */
export async function makeThumbnail(files: ThumbFiles, remote: string, o: ThumbOptions): Promise<Thumb | undefined> {
  const stored = await attempt(() => fromStore(files, remote, o));
  if (stored) return stored;
  const f = await attempt(() => files.open(remote, o));
  if (!f) return undefined;
  try {
    const head = await f.read(0, Math.min(HEAD, f.size));
    if (head[0] === 0xff && head[1] === 0xd8) return await attempt(() => fromJpeg(f, head, remote, o));
    if (isHeif(head)) return await attempt(() => fromHeif(f, remote, o));
    if (isMovie(head)) {
      return await attempt(async () => {
        const m = await readMovie(f.read, f.size);
        return m.heic ? { jpeg: await thumbFromHeic(o.heic, m.heic, remote, o.signal), source: 'video-frame' as const } : undefined;
      });
    }
    return await attempt(async () => {
      const all = await readAll(f, o.maxDecodeBytes ?? 64 * 1024 * 1024);
      return all ? { jpeg: await thumbFromEncoded(all, remote), source: 'decoded' as const } : undefined;
    });
  } finally {
    await f.close().catch(() => undefined);
  }
}
