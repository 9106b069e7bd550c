/**
 * A small EXIF reader: the capture date (DateTimeOriginal, else DateTimeDigitized (CreateDate), else IFD0
 * DateTime) of a JPEG (APP1 "Exif"), a PNG ('eXIf' chunk) or a HEIC/HEIF/AVIF; videos are read by quicktime.ts.
 * Every date is checked (capture-date.ts): an impossible or out-of-range one is refused, the next tag is tried,
 * and {@link probeCaptureDate} says why none was usable. HEIF: ISO-BMFF 'meta' → 'iinf' item of type 'Exif' →
 * 'iloc' extents (construction method 0 = file offset or 1 = 'idat'). It reads only what
 * it needs through a random-access reader: the first 128 KiB of a JPEG, the top-level box headers
 * and the 'meta' box (≤ 4 MiB) plus the Exif item (≤ 1 MiB) of a HEIC.
 *
 * Limits: no MakerNotes, no XMP, no time zone (OffsetTimeOriginal is ignored: the date is the
 * camera's wall time, which is what a YYYY/YYYY-MM-DD folder wants); items split over several
 * extents are joined; files that do not parse give `undefined` (the caller falls back to the file's
 * birth time). Every offset is bounds-checked: malformed input gives ProtocolError, never RangeError.
 */
import { ProtocolError } from '../core/errors.ts';
import { checkWallTime, pickCandidate, type DateCandidate, type DateProbe } from './capture-date.ts';
import { MAX_TOP_BOXES, View, bad, boxes, type Box, type RandomReader } from './media-view.ts';
import { movieCandidates } from './quicktime.ts';

export type { RandomReader } from './media-view.ts';
export type { DateProbe } from './capture-date.ts';

const JPEG_HEAD = 128 * 1024;
const MAX_META = 4 * 1024 * 1024;
const MAX_EXIF_ITEM = 1024 * 1024;
const MAX_IFD_ENTRIES = 1000;

const TAG_EXIF_IFD = 0x8769;
const TAG_DATETIME = 0x0132;
const TAG_DATETIME_ORIGINAL = 0x9003;
const TAG_DATETIME_DIGITIZED = 0x9004;

/** "YYYY:MM:DD HH:MM:SS" (or with '-' / 'T') → "YYYY-MM-DDTHH:MM:SS" by shape only, or undefined. */
function exifWall(s: string): string | undefined {
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(s);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : undefined;
}

/** "YYYY:MM:DD HH:MM:SS" → "YYYY-MM-DDTHH:MM:SS", or undefined when blank, impossible or out of range (capture-date.ts). */
export function normaliseExifDate(s: string, now = Date.now()): string | undefined {
  const w = exifWall(s);
  if (w === undefined) return undefined;
  const c = checkWallTime(w, now);
  return 'date' in c ? c.date : undefined;
}

/** Date tags of a TIFF structure in order of preference (present ones only). @throws ProtocolError (ERR_PROTOCOL) */
export function tiffCandidates(tiff: Buffer): DateCandidate[] {
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw bad('no TIFF byte-order mark', 0);
  const v = new View(tiff, order === 'II');
  if (v.u16(2) !== 42) throw bad('bad TIFF magic', 2);
  const ifd0 = readIfd(v, v.u32(4));
  const out: DateCandidate[] = [];
  const exifOff = ifd0.get(TAG_EXIF_IFD);
  if (exifOff !== undefined) {
    const exif = readIfd(v, v.u32(exifOff.valueAt));
    for (const [tag, name] of [[TAG_DATETIME_ORIGINAL, 'DateTimeOriginal'], [TAG_DATETIME_DIGITIZED, 'CreateDate']] as const) {
      const c = asciiDate(v, exif.get(tag), name);
      if (c) out.push(c);
    }
  }
  const c = asciiDate(v, ifd0.get(TAG_DATETIME), 'DateTime');
  if (c) out.push(c);
  return out;
}

/**
 * Capture date from a TIFF structure (the body of an EXIF block, starting at "II*\0" / "MM\0*"): the first usable
 * of DateTimeOriginal, CreateDate, IFD0 DateTime.
 * @throws ProtocolError (ERR_PROTOCOL) for a malformed structure
 */
export function dateFromTiff(tiff: Buffer, now = Date.now()): string | undefined {
  return pickCandidate(tiffCandidates(tiff), now).date;
}

interface IfdEntry {
  type: number;
  count: number;
  /** Offset of the 4-byte value/offset field. */
  valueAt: number;
}

function readIfd(v: View, off: number): Map<number, IfdEntry> {
  const n = v.u16(off);
  if (n > MAX_IFD_ENTRIES) throw bad(`IFD with ${n} entries`, off);
  const out = new Map<number, IfdEntry>();
  for (let i = 0; i < n; i++) {
    const e = off + 2 + i * 12;
    out.set(v.u16(e), { type: v.u16(e + 2), count: v.u32(e + 4), valueAt: e + 8 });
  }
  return out;
}

/** An ASCII date tag as a candidate; undefined when absent or blank (EXIF writes spaces for "unknown"). */
function asciiDate(v: View, e: IfdEntry | undefined, name: string): DateCandidate | undefined {
  if (!e || e.type !== 2 || e.count < 19 || e.count > 64) return undefined;
  const at = e.count <= 4 ? e.valueAt : v.u32(e.valueAt);
  const raw = v.str(at, e.count);
  if (/^[\s:\0]*$/.test(raw)) return undefined;
  return { source: `EXIF ${name}`, wall: exifWall(raw), raw };
}

/** Capture date of a JPEG from its first bytes, or undefined. @throws ProtocolError (ERR_PROTOCOL) */
export function dateFromJpeg(head: Buffer, now = Date.now()): string | undefined {
  return pickCandidate(jpegCandidates(head), now).date;
}

/** Date tags of a JPEG's EXIF (APP1) from its first bytes. @throws ProtocolError (ERR_PROTOCOL) */
function jpegCandidates(head: Buffer): DateCandidate[] {
  const v = new View(head);
  if (v.u16(0) !== 0xffd8) throw bad('not a JPEG', 0);
  let off = 2;
  while (off + 4 <= head.length) {
    if (v.u8(off) !== 0xff) throw bad('marker expected', off);
    const marker = v.u8(off + 1);
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return []; // start of scan / end: no EXIF before the image data
    const len = v.u16(off + 2);
    if (len < 2) throw bad('segment length < 2', off + 2);
    if (marker === 0xe1 && len >= 8 && head.toString('latin1', off + 4, off + 10) === 'Exif\0\0') {
      const end = off + 2 + len;
      if (end > head.length) throw bad('APP1 truncated', off);
      return tiffCandidates(head.subarray(off + 10, end));
    }
    off += 2 + len;
  }
  return [];
}

/** Capture date of an ISO-BMFF image (HEIC/HEIF/AVIF), or undefined. @throws ProtocolError (ERR_PROTOCOL) */
export async function dateFromHeif(read: RandomReader, fileSize: number, now = Date.now()): Promise<string | undefined> {
  return pickCandidate(await heifCandidates(read, fileSize), now).date;
}

/** Date tags of the Exif item of an ISO-BMFF image. @throws ProtocolError (ERR_PROTOCOL) */
async function heifCandidates(read: RandomReader, fileSize: number): Promise<DateCandidate[]> {
  // Find the top-level 'meta' box by walking box headers (mdat may be huge: skip it by size).
  let off = 0;
  let meta: { at: number; size: number } | undefined;
  for (let i = 0; i < MAX_TOP_BOXES && off + 8 <= fileSize; i++) {
    const h = new View(await read(off, 16));
    let size = h.u32(0);
    const type = h.str(4, 4);
    if (size === 1) size = h.uN(8, 8);
    else if (size === 0) size = fileSize - off;
    if (size < 8) throw bad('box smaller than its header', off);
    if (type === 'meta') {
      meta = { at: off, size };
      break;
    }
    off += size;
  }
  if (!meta) return [];
  if (meta.size > MAX_META) throw bad(`meta box of ${meta.size} bytes`, meta.at);
  const mbuf = await read(meta.at, meta.size);
  const v = new View(mbuf);
  const [metaBox] = boxes(v, 0, mbuf.length);
  if (!metaBox) throw bad('meta truncated', meta.at);
  const children = boxes(v, metaBox.body + 4, metaBox.end); // full box: skip version + flags
  const iinf = children.find((b) => b.type === 'iinf');
  const iloc = children.find((b) => b.type === 'iloc');
  const idat = children.find((b) => b.type === 'idat');
  if (!iinf || !iloc) return [];
  const exifId = findExifItem(v, iinf);
  if (exifId === undefined) return [];
  const loc = findLocation(v, iloc, exifId);
  if (!loc) return [];
  const parts: Buffer[] = [];
  let total = 0;
  for (const x of loc.extents) {
    total += x.length;
    if (total > MAX_EXIF_ITEM) throw bad(`Exif item of more than ${MAX_EXIF_ITEM} bytes`);
    if (loc.method === 0) parts.push(await read(loc.base + x.offset, x.length));
    else if (loc.method === 1 && idat) {
      const s = idat.body + loc.base + x.offset;
      if (s + x.length > idat.end) throw bad('idat extent out of range', s);
      parts.push(mbuf.subarray(s, s + x.length));
    } else return [];
  }
  const item = Buffer.concat(parts);
  const iv = new View(item);
  const tiffAt = 4 + iv.u32(0); // exif_tiff_header_offset, then usually "Exif\0\0"
  if (tiffAt >= item.length) throw bad('Exif item without TIFF data', 0);
  return tiffCandidates(item.subarray(tiffAt));
}

function findExifItem(v: View, iinf: Box): number | undefined {
  const version = v.u8(iinf.body);
  const first = iinf.body + 4 + (version === 0 ? 2 : 4);
  for (const infe of boxes(v, first, iinf.end)) {
    if (infe.type !== 'infe') continue;
    const ver = v.u8(infe.body);
    if (ver < 2) continue;
    const idLen = ver === 2 ? 2 : 4;
    const id = idLen === 2 ? v.u16(infe.body + 4) : v.u32(infe.body + 4);
    const type = v.str(infe.body + 4 + idLen + 2, 4);
    if (type === 'Exif') return id;
  }
  return undefined;
}

function findLocation(v: View, iloc: Box, want: number): { method: number; base: number; extents: { offset: number; length: number }[] } | undefined {
  const version = v.u8(iloc.body);
  if (version > 2) throw bad(`iloc version ${version}`, iloc.body);
  let p = iloc.body + 4;
  const b1 = v.u8(p), b2 = v.u8(p + 1);
  p += 2;
  const offSize = b1 >> 4, lenSize = b1 & 15, baseSize = b2 >> 4;
  const idxSize = version === 1 || version === 2 ? b2 & 15 : 0;
  const count = version < 2 ? v.u16(p) : v.u32(p);
  p += version < 2 ? 2 : 4;
  for (let i = 0; i < count && p < iloc.end; i++) {
    const id = version < 2 ? v.u16(p) : v.u32(p);
    p += version < 2 ? 2 : 4;
    let method = 0;
    if (version === 1 || version === 2) {
      method = v.u16(p) & 15;
      p += 2;
    }
    p += 2; // data_reference_index
    const base = v.uN(p, baseSize);
    p += baseSize;
    const n = v.u16(p);
    p += 2;
    const extents: { offset: number; length: number }[] = [];
    for (let k = 0; k < n; k++) {
      p += idxSize;
      const offset = v.uN(p, offSize);
      p += offSize;
      const length = v.uN(p, lenSize);
      p += lenSize;
      extents.push({ offset, length });
    }
    if (id === want) return { method, base, extents };
  }
  return undefined;
}

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_PNG_CHUNKS = 64;

/** Capture date from a PNG 'eXIf' chunk (searched among the first chunks, before IDAT), or undefined. */
export async function dateFromPng(read: RandomReader, fileSize: number, now = Date.now()): Promise<string | undefined> {
  return pickCandidate(await pngCandidates(read, fileSize), now).date;
}

/** Date tags of a PNG's 'eXIf' chunk. @throws ProtocolError (ERR_PROTOCOL) */
async function pngCandidates(read: RandomReader, fileSize: number): Promise<DateCandidate[]> {
  let off = 8;
  for (let i = 0; i < MAX_PNG_CHUNKS && off + 12 <= fileSize; i++) {
    const h = new View(await read(off, 8));
    const len = h.u32(0);
    const type = h.str(4, 4);
    if (type === 'IDAT' || type === 'IEND') return [];
    if (len > fileSize - off - 12) throw bad(`PNG chunk ${JSON.stringify(type)} overruns the file`, off);
    if (type === 'eXIf') {
      if (len > MAX_EXIF_ITEM) throw bad(`eXIf chunk of ${len} bytes`, off);
      let tiff = await read(off + 8, len);
      if (tiff.toString('latin1', 0, 6) === 'Exif\0\0') tiff = tiff.subarray(6);
      return tiffCandidates(tiff);
    }
    off += 12 + len;
  }
  return [];
}

/** The date candidates of a JPEG, PNG, HEIF or QuickTime/MP4 file by its first bytes. @throws ProtocolError (ERR_PROTOCOL) */
async function candidates(read: RandomReader, fileSize: number): Promise<DateCandidate[]> {
  const head = await read(0, Math.min(fileSize, 16));
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xd8) return jpegCandidates(await read(0, Math.min(fileSize, JPEG_HEAD)));
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') {
    const brand = head.toString('latin1', 8, 12);
    if (brand === 'qt  ' || brand.startsWith('mp4') || brand.startsWith('M4V') || brand === 'isom') return await movieCandidates(read, fileSize);
    return await heifCandidates(read, fileSize);
  }
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG_SIG)) return await pngCandidates(read, fileSize);
  // Live Photo videos read over AFC may have no 'ftyp': a movie starts with one of these top-level boxes.
  if (head.length >= 8 && ['wide', 'mdat', 'moov', 'free', 'skip'].includes(head.toString('latin1', 4, 8))) return await movieCandidates(read, fileSize);
  return [];
}

/**
 * Capture date (local wall time "YYYY-MM-DDTHH:MM:SS") of a JPEG, PNG, HEIF or QuickTime/MP4 file, and why none is
 * usable when the file has date metadata that is impossible, out of range (1970-01-01 .. now + 1 day)
 * or unreadable. Neither field: the file has no date metadata. Only the reader's own errors escape.
 */
export async function probeCaptureDate(read: RandomReader, fileSize: number, now = Date.now()): Promise<DateProbe> {
  try {
    return pickCandidate(await candidates(read, fileSize), now);
  } catch (e) {
    if (e instanceof ProtocolError) return { rejected: `metadata unreadable (${e.reason})` };
    throw e;
  }
}

/**
 * Capture date (local wall time "YYYY-MM-DDTHH:MM:SS") of a JPEG, PNG, HEIF or QuickTime/MP4 file, or undefined when it
 * has none usable or does not parse (EXIF is best effort: the caller falls back to the birth time).
 */
export async function readCaptureDate(read: RandomReader, fileSize: number, now = Date.now()): Promise<string | undefined> {
  return (await probeCaptureDate(read, fileSize, now)).date;
}

/** QuickTime/MP4 creation date (com.apple.quicktime.creationdate, else mvhd), or undefined. @throws ProtocolError */
export async function dateFromMovie(read: RandomReader, fileSize: number, now = Date.now()): Promise<string | undefined> {
  return pickCandidate(await movieCandidates(read, fileSize), now).date;
}
