/**
 * `--convert-heic jpeg` (what iOS calls "Automatic" transfer, for Windows users): after the copy, a JPEG is
 * written beside each backed-up HEIC (IMG_1234.JPG next to IMG_1234.HEIC; IMG_1234-1.JPG when that name holds
 * another file: never overwriting), made from the local copy (the device is not read again):
 *
 * - decoded by heic-decode (libheif + libde265 as WASM, in the thumbnailer's worker thread: src/thumbs/decode.ts)
 *   with the HEIF transformations (irot/imir) applied, encoded by sharp (libjpeg-turbo, quality 92);
 * - the HEIC's own Exif block (DateTimeOriginal, OffsetTime*, GPS, camera and lens…) is copied into the JPEG as
 *   its APP1 segment, with Orientation set to 1 (the pixels are already upright);
 * - written like every file of the backup: a .part in DEST/.iosdevice/parts, fsync'ed, linked into place, the
 *   folder fsync'ed, then recorded in the manifest under the key `jpeg:<device path of the HEIC>`, with the
 *   JPEG's size and SHA-256 (so `photos verify` checks it like any other file) and the HEIC's device mtime;
 * - a rerun converts again only when the HEIC was copied again (its device mtime changed) or the JPEG is gone.
 *
 * With `--heic-original drop` ("instead of"): once the JPEG is on disk and recorded, the HEIC is removed from
 * DEST and the manifest says so (`op: dropped`), so a rerun neither fetches it again nor reports it missing.
 * The device copy is untouched: --delete-after-import never removes a dropped HEIC (its original bytes exist
 * nowhere else). When a conversion fails the HEIC is kept, whatever the option.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { HeicDecoder, MAX_PIXELS } from '../thumbs/decode.ts';
import { heifExifTiff, readHeifMeta } from '../thumbs/heif.ts';
import { place } from './copy.ts';
import { PhotosError } from './errors.ts';
import { splitExt, type DeviceFile } from './layout.ts';
import type { ManifestEntry } from './manifest.ts';
import { localState } from './repair.ts';
import type { RunContext } from './run-context.ts';
import { openExclusive, resolveInside } from './safe-path.ts';

/** What to convert HEIC to (the only target so far). */
export type ConvertTarget = 'jpeg';
/** With a conversion: keep the HEIC beside its JPEG (default) or remove it from DEST once the JPEG is written. */
export type HeicOriginal = 'keep' | 'drop';

/** What the conversion did (BackupSummary.converted). */
export interface ConvertSummary {
  to: ConvertTarget;
  original: HeicOriginal;
  /** JPEGs written in this run. */
  written: number;
  /** HEICs whose JPEG was already there from an earlier run. */
  upToDate: number;
  /** HEICs removed from DEST after their JPEG was written (`drop`). */
  dropped: number;
  /** Conversions that failed (also in BackupSummary.failed, code ERR_PHOTOS_CONVERT); their HEIC is kept. */
  failed: number;
}

/** JPEG quality: visually lossless for photos, about a third of the decoded size of a HEIC's 2–3× saving. */
const QUALITY = 92;
/** Longest APP1 payload a JPEG segment can hold. */
const MAX_APP1 = 65533;

/** The manifest key of the JPEG made from the HEIC at `remote` (not a device path: those start with '/'). */
export function convertedKey(remote: string): string {
  return `jpeg:${remote}`;
}

const isHeicName = (n: string): boolean => /\.(heic|heif)$/i.test(n);

/** Sets IFD0 Orientation (0x0112) to 1 in a copy of a TIFF block; unchanged when there is none or it is malformed. */
export function uprightTiff(tiff: Buffer): Buffer {
  const out = Buffer.from(tiff);
  if (out.length < 8) return out;
  const le = out.toString('latin1', 0, 2) === 'II';
  const u16 = (o: number): number => (le ? out.readUInt16LE(o) : out.readUInt16BE(o));
  const u32 = (o: number): number => (le ? out.readUInt32LE(o) : out.readUInt32BE(o));
  const ifd = u32(4);
  if (ifd + 2 > out.length) return out;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > out.length) break;
    if (u16(e) === 0x0112 && u16(e + 2) === 3) {
      if (le) out.writeUInt16LE(1, e + 8);
      else out.writeUInt16BE(1, e + 8);
    }
  }
  return out;
}

/** Inserts an APP1 Exif segment (of `tiff`) right after the SOI of `jpeg`. */
export function withExif(jpeg: Buffer, tiff: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  if (payload.length > MAX_APP1 || jpeg.length < 2 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(2)]);
}

type SharpFn = (typeof import('sharp'))['default'];
let sharpLib: Promise<SharpFn> | undefined;
const loadSharp = (): Promise<SharpFn> => (sharpLib ??= import('sharp').then((m) => m.default));

/**
 * HEIC bytes → JPEG bytes with the HEIC's Exif (Orientation 1).
 * @throws PhotosError ERR_PHOTOS_CONVERT
 */
export async function heicToJpeg(decoder: HeicDecoder, heic: Buffer, what: string, signal?: AbortSignal): Promise<Buffer> {
  let tiff: Buffer | undefined;
  try {
    const read = async (offset: number, length: number): Promise<Buffer> => heic.subarray(offset, offset + length);
    tiff = await heifExifTiff(read, await readHeifMeta(read, heic.length));
  } catch {
    tiff = undefined; // no readable Exif: the JPEG is still made
  }
  try {
    const { width, height, data } = await decoder.decode(heic, signal);
    if (width * height > MAX_PIXELS) throw new Error(`${width}×${height} is over the ${MAX_PIXELS}-pixel cap`);
    const sharp = await loadSharp();
    const jpeg = await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } })
      .removeAlpha().jpeg({ quality: QUALITY }).toBuffer();
    return tiff ? withExif(jpeg, uprightTiff(tiff)) : jpeg;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_ABORTED') throw e;
    throw new PhotosError('ERR_PHOTOS_CONVERT', `cannot convert ${what} to JPEG: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** True when the recorded JPEG of `heic` is still current: made from this version and present with its size. */
async function upToDate(dest: string, jpeg: ManifestEntry | undefined, heic: ManifestEntry): Promise<boolean> {
  if (!jpeg || jpeg.mtimeNs !== heic.mtimeNs) return false;
  const st = await localState(dest, jpeg.local).catch(() => undefined);
  return st?.kind === 'file' && st.size === BigInt(jpeg.size);
}

/**
 * Converts every backed-up HEIC among `files` (the run's selection), after the copy. Per-file problems go to
 * summary.failed (ERR_PHOTOS_CONVERT); DEST problems reject.
 */
export async function convertHeicStage(ctx: RunContext, files: readonly DeviceFile[], to: ConvertTarget, original: HeicOriginal): Promise<ConvertSummary> {
  const s: ConvertSummary = { to, original, written: 0, upToDate: 0, dropped: 0, failed: 0 };
  ctx.summary.converted = s;
  const decoder = new HeicDecoder({ idleMs: 5_000 });
  try {
    for (const f of files) {
      if (ctx.signal?.aborted) break;
      if (!isHeicName(f.remote)) continue;
      const heic = ctx.manifest.get(ctx.udid, f.remote);
      if (!heic || heic.stale) continue; // not backed up (failed, or a dry run)
      const key = convertedKey(f.remote);
      if (await upToDate(ctx.dest, ctx.manifest.get(ctx.udid, key), heic)) {
        s.upToDate++;
        if (original === 'drop' && !heic.dropped) await drop(ctx, f.remote, heic, s);
        continue;
      }
      if (heic.dropped) continue; // its JPEG is gone too: nothing local to convert from (verify reports the JPEG)
      const localParts = heic.local.split('/');
      let jpeg: Buffer;
      try {
        jpeg = await heicToJpeg(decoder, await fsp.readFile(resolveInside(ctx.dest, localParts)), heic.local, ctx.signal);
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_ABORTED') break;
        const err = e instanceof PhotosError ? e : new PhotosError('ERR_PHOTOS_CONVERT', `cannot convert ${heic.local}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        s.failed++;
        ctx.summary.failed.push({ remote: f.remote, code: err.code, reason: err.message });
        ctx.emit({ type: 'file', status: 'failed', remote: f.remote, bytes: 0, code: err.code, reason: err.message });
        continue;
      }
      const part = join(ctx.partsDir, `${randomUUID()}.part`);
      const fh = await openExclusive(part);
      try {
        await fh.writeFile(jpeg);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sha256 = createHash('sha256').update(jpeg).digest('hex');
      const { local } = await place(ctx.dest, localParts.slice(0, -1), `${splitExt(localParts.at(-1)!).stem}.JPG`, { part, size: jpeg.length, sha256 })
        .catch(async (e: unknown) => {
          await fsp.unlink(part).catch(() => undefined);
          throw e;
        });
      await ctx.manifest.record({ udid: ctx.udid, remote: key, size: jpeg.length, mtimeNs: heic.mtimeNs, sha256, local, ...(heic.captured ? { captured: heic.captured } : {}) });
      s.written++;
      ctx.emit({ type: 'converted', remote: f.remote, from: heic.local, local });
      if (original === 'drop') await drop(ctx, f.remote, heic, s);
    }
  } finally {
    await decoder.close();
  }
  return s;
}

/** Removes the HEIC from DEST (its JPEG is on disk and recorded) and records that in the manifest. */
async function drop(ctx: RunContext, remote: string, heic: ManifestEntry, s: ConvertSummary): Promise<void> {
  // removed first: a crash in between leaves a recorded HEIC whose copy is missing, which the next run fetches again
  await fsp.unlink(resolveInside(ctx.dest, heic.local.split('/'))).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await ctx.manifest.recordDropped(ctx.udid, remote);
  s.dropped++;
}
