/**
 * Deterministic camera roll for the virtual iPhone: writes `DCIM/100APPLE/IMG_0001.HEIC` … into a media folder
 * and returns a manifest (path, size, capture date, sha256) tests compare against.
 *
 * Same `seed` + options → byte-identical tree. Folders hold at most `perFolder` (default 999) files like iOS
 * (`100APPLE`, `101APPLE`, …); numbers run IMG_0001…IMG_9999 then wrap to IMG_0001. Assets are numbered in capture
 * order. Kinds: HEIC photo, JPEG photo, PNG screenshot, MOV video, Live Photo (HEIC + MOV with the same stem),
 * some photos with an `.AAE` edit sidecar. File mtimes (and atimes) equal the capture date; the birth time cannot
 * be set on Linux (it stays the creation time of the generated file). Byte layouts: ./media/formats.ts (JPEG, PNG and
 * HEIC carry EXIF DateTimeOriginal; HEIC images are not decodable).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.ts';
import { aaeBytes, heicParts, jpegParts, movParts, pngParts, type FilePart, type MediaKind } from './media/formats.ts';
import { mulberry32 } from '../core/prng.ts';

/** Options for {@link generateDcim}. */
export interface DcimOptions {
  /** Number of assets (a Live Photo is one asset of two files; a sidecar adds a file). */
  count: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Size multiplier: 1 = realistic (photos ~1-5 MB, videos larger); tests use e.g. 0.01. Default 1. */
  scale?: number;
  /** Capture dates are spread between these instants (default 2019-01-01 … 2024-12-31 UTC). */
  from?: Date;
  to?: Date;
  /** Files per folder before the next `NNNAPPLE` starts (default 999, 1…999). */
  perFolder?: number;
  /** Relative weights of the asset kinds. */
  mix?: Partial<Record<'heic' | 'jpg' | 'png' | 'mov' | 'live', number>>;
  /** Probability that a HEIC/JPEG photo has an .AAE sidecar (default 0.1). */
  aaeRate?: number;
}

/** One generated file. */
export interface DcimFile {
  /** Path relative to the media root, with `/` separators, e.g. `DCIM/100APPLE/IMG_0001.HEIC`. */
  path: string;
  kind: MediaKind;
  /** Bytes. */
  size: number;
  captureDate: Date;
  /** Hex SHA-256 of the content. */
  sha256: string;
  /** For Live Photo halves: the shared stem (`IMG_0007`). */
  livePhoto?: string;
  /** Live Photo content identifier written into the file (MakerNote 0x0011 / QuickTime content.identifier). */
  contentId?: string;
}

/** What {@link generateDcim} wrote. */
export interface DcimManifest {
  seed: number;
  files: DcimFile[];
  totalBytes: number;
}

const MB = 1_000_000;
const DEFAULT_MIX = { heic: 45, jpg: 18, png: 12, mov: 8, live: 17 };

/** A file to write: path below the media root, kind, size, date; `key` seeds its filler bytes. */
export interface PlannedFile {
  path: string;
  kind: MediaKind;
  size: number;
  captureDate: Date;
  livePhoto?: string;
  key: string;
  /** Live Photo content identifier to embed (HEIC/JPEG MakerNote, MOV metadata). */
  contentId?: string;
  /** A MOV without `ftyp` (wide + mdat + moov), as Live videos read over AFC can be. */
  noFtyp?: boolean;
}

/** Log-uniform size between lo and hi (bytes), scaled. */
function pickSize(rand: () => number, lo: number, hi: number, scale: number): number {
  const v = Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo)));
  return Math.max(1, Math.round(v * scale));
}

/** Plans the tree without writing anything (pure and deterministic). */
export function planDcim(opts: DcimOptions): PlannedFile[] {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 0 || count > 100_000) throw new InvalidArgumentError(`dcim count must be 0…100000, got ${count}`);
  const perFolder = opts.perFolder ?? 999;
  if (!Number.isInteger(perFolder) || perFolder < 3 || perFolder > 999) throw new InvalidArgumentError('perFolder must be 3…999');
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 10)) throw new InvalidArgumentError('scale must be in (0, 10]');
  const seed = opts.seed ?? 1;
  const rand = mulberry32(seed);
  const from = (opts.from ?? new Date(Date.UTC(2019, 0, 1))).getTime();
  const to = (opts.to ?? new Date(Date.UTC(2024, 11, 31, 23, 59, 59))).getTime();
  if (!(to >= from)) throw new InvalidArgumentError('`to` must not be before `from`');
  const mix = { ...DEFAULT_MIX, ...opts.mix };
  const kinds = Object.keys(mix) as (keyof typeof mix)[];
  const totalWeight = kinds.reduce((s, k) => s + Math.max(0, mix[k]), 0);
  if (!(totalWeight > 0)) throw new InvalidArgumentError('mix weights must not all be zero');
  const aaeRate = opts.aaeRate ?? 0.1;

  // whole seconds, sorted: numbering follows capture order like a real camera roll
  const dates = Array.from({ length: count }, () => Math.floor((from + rand() * (to - from)) / 1000) * 1000).sort((a, b) => a - b);
  const out: PlannedFile[] = [];
  let folder = 100;
  let inFolder = 0;
  let number = 0;
  for (let i = 0; i < count; i++) {
    let r = rand() * totalWeight;
    let kind: keyof typeof mix = kinds[kinds.length - 1]!;
    for (const k of kinds) {
      r -= Math.max(0, mix[k]);
      if (r < 0) {
        kind = k;
        break;
      }
    }
    const withAae = (kind === 'heic' || kind === 'jpg' || kind === 'live') && rand() < aaeRate;
    const files = (kind === 'live' ? 2 : 1) + (withAae ? 1 : 0);
    if (inFolder + files > perFolder) {
      folder++;
      inFolder = 0;
      if (folder > 999) throw new InvalidArgumentError('too many assets for 100APPLE…999APPLE');
    }
    number = (number % 9999) + 1;
    const stem = `IMG_${String(number).padStart(4, '0')}`;
    const dir = `DCIM/${folder}APPLE`;
    const captureDate = new Date(dates[i]!);
    const add = (ext: string, k: MediaKind, size: number, live?: boolean): void => {
      const path = `${dir}/${stem}.${ext}`;
      out.push({ path, kind: k, size, captureDate, key: `${seed}:${path}`, ...(live ? { livePhoto: stem } : {}) });
    };
    if (kind === 'heic') add('HEIC', 'heic', pickSize(rand, 1.2 * MB, 3.5 * MB, scale));
    else if (kind === 'jpg') add('JPG', 'jpg', pickSize(rand, 2 * MB, 5 * MB, scale));
    else if (kind === 'png') add('PNG', 'png', pickSize(rand, 0.3 * MB, 3 * MB, scale));
    else if (kind === 'mov') add('MOV', 'mov', pickSize(rand, 5 * MB, 80 * MB, scale));
    else {
      add('HEIC', 'heic', pickSize(rand, 1.2 * MB, 3.5 * MB, scale), true);
      add('MOV', 'mov', pickSize(rand, 1.5 * MB, 4 * MB, scale), true);
    }
    if (withAae) add('AAE', 'aae', 0);
    inFolder += files;
  }
  return out;
}

/** Deterministic filler: AES-128-CTR keystream keyed by the file's key (fast, incompressible, reproducible). */
function fillerStream(key: string): (n: number) => Buffer {
  const k = createHash('sha256').update(key).digest();
  const cipher = createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32));
  return (n: number) => cipher.update(Buffer.alloc(n));
}

function partsFor(f: PlannedFile, filler: (n: number) => Buffer, index: number): FilePart[] {
  const exif = { captureDate: f.captureDate, ...(f.contentId !== undefined ? { contentId: f.contentId } : {}) };
  switch (f.kind) {
    case 'jpg':
      return jpegParts(f.size, exif);
    case 'png':
      return pngParts(f.size, exif, filler);
    case 'heic':
      return heicParts(f.size, exif);
    case 'mov':
      return movParts(f.size, f.captureDate, { ...(f.contentId !== undefined ? { contentId: f.contentId } : {}), ...(f.noFtyp ? { noFtyp: true } : {}) });
    case 'aae':
      return [aaeBytes(f.captureDate, index)];
  }
}

const CHUNK = 1 << 20;

/** Writes the parts to `path`, hashing as it goes; returns [size, sha256]. */
async function writeParts(path: string, parts: FilePart[], filler: (n: number) => Buffer): Promise<[number, string]> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w', 0o644);
  let size = 0;
  try {
    for (const p of parts) {
      if (typeof p !== 'number') {
        hash.update(p);
        await fh.write(p);
        size += p.length;
        continue;
      }
      for (let left = p; left > 0; left -= CHUNK) {
        const b = filler(Math.min(CHUNK, left));
        hash.update(b);
        await fh.write(b);
        size += b.length;
      }
    }
  } finally {
    await fh.close();
  }
  return [size, hash.digest('hex')];
}

/**
 * Writes planned files under `mediaRoot` (folders created; existing files with the same names are overwritten);
 * each file's mtime and atime are set to its capture date.
 * @throws fs errors as thrown by node:fs
 */
export async function writePlannedFiles(mediaRoot: string, plan: readonly PlannedFile[]): Promise<DcimFile[]> {
  const files: DcimFile[] = [];
  const madeDirs = new Set<string>();
  for (const [i, f] of plan.entries()) {
    const full = join(mediaRoot, ...f.path.split('/'));
    const dir = full.slice(0, full.lastIndexOf('/'));
    if (!madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      madeDirs.add(dir);
    }
    const filler = fillerStream(f.key);
    const [size, sha256] = await writeParts(full, partsFor(f, filler, i), filler);
    await utimes(full, f.captureDate, f.captureDate);
    files.push({
      path: f.path, kind: f.kind, size, captureDate: f.captureDate, sha256,
      ...(f.livePhoto ? { livePhoto: f.livePhoto } : {}), ...(f.contentId ? { contentId: f.contentId } : {}),
    });
  }
  return files;
}

/**
 * Generates the camera roll under `mediaRoot` (creates `DCIM/…`; existing files with the same names are overwritten).
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for bad options; fs errors as thrown by node:fs.
 */
export async function generateDcim(mediaRoot: string, opts: DcimOptions): Promise<DcimManifest> {
  const files = await writePlannedFiles(mediaRoot, planDcim(opts));
  return { seed: opts.seed ?? 1, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}
