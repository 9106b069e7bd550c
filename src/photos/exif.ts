/**
 * A small EXIF reader: the capture date (DateTimeOriginal, else DateTimeDigitized, else IFD0
 * DateTime) of a JPEG (APP1 "Exif"), a PNG ('eXIf' chunk) or a HEIC/HEIF/AVIF; and, for videos,
 * the QuickTime/MP4 'mvhd' creation time. HEIF: ISO-BMFF 'meta' → 'iinf' item of type 'Exif' →
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

/** Reads up to `length` bytes at `offset` (fewer at end of file). */
export type RandomReader = (offset: number, length: number) => Promise<Buffer>;

const JPEG_HEAD = 128 * 1024;
const MAX_META = 4 * 1024 * 1024;
const MAX_EXIF_ITEM = 1024 * 1024;
const MAX_TOP_BOXES = 64;
const MAX_IFD_ENTRIES = 1000;

const TAG_EXIF_IFD = 0x8769;
const TAG_DATETIME = 0x0132;
const TAG_DATETIME_ORIGINAL = 0x9003;
const TAG_DATETIME_DIGITIZED = 0x9004;

function bad(reason: string, offset?: number): ProtocolError {
  return new ProtocolError('photos', `exif: ${reason}`, offset);
}

/** Bounds-checked big/little-endian reads over one buffer. */
class View {
  constructor(readonly buf: Buffer, readonly le = false) {}
  #check(off: number, n: number): void {
    if (!Number.isInteger(off) || off < 0 || off + n > this.buf.length) throw bad(`read of ${n} bytes past the end`, off);
  }
  u8(off: number): number {
    this.#check(off, 1);
    return this.buf[off]!;
  }
  u16(off: number): number {
    this.#check(off, 2);
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number): number {
    this.#check(off, 4);
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  /** Unsigned big-endian integer of 0, 4 or 8 bytes (8-byte values must stay below 2^53). */
  uN(off: number, n: number): number {
    if (n === 0) return 0;
    if (n === 4) return this.u32(off);
    if (n === 8) {
      const hi = this.u32(off);
      if (hi > 0x1fffff) throw bad('64-bit value too large', off);
      return hi * 2 ** 32 + this.u32(off + 4);
    }
    throw bad(`field size ${n}`, off);
  }
  str(off: number, n: number): string {
    this.#check(off, n);
    return this.buf.toString('latin1', off, off + n);
  }
}

/** "YYYY:MM:DD HH:MM:SS" → "YYYY-MM-DDTHH:MM:SS", or undefined when blank/invalid. */
export function normaliseExifDate(s: string): string | undefined {
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 60) {
    return undefined;
  }
  return `${y}-${mo}-${d}T${h}:${mi}:${se}`;
}

/**
 * Capture date from a TIFF structure (the body of an EXIF block, starting at "II*\0" / "MM\0*").
 * @throws ProtocolError (ERR_PROTOCOL) for a malformed structure
 */
export function dateFromTiff(tiff: Buffer): string | undefined {
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw bad('no TIFF byte-order mark', 0);
  const v = new View(tiff, order === 'II');
  if (v.u16(2) !== 42) throw bad('bad TIFF magic', 2);
  const ifd0 = readIfd(v, v.u32(4));
  const exifOff = ifd0.get(TAG_EXIF_IFD);
  if (exifOff !== undefined) {
    const exif = readIfd(v, v.u32(exifOff.valueAt));
    for (const tag of [TAG_DATETIME_ORIGINAL, TAG_DATETIME_DIGITIZED]) {
      const d = asciiDate(v, exif.get(tag));
      if (d) return d;
    }
  }
  return asciiDate(v, ifd0.get(TAG_DATETIME));
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

function asciiDate(v: View, e: IfdEntry | undefined): string | undefined {
  if (!e || e.type !== 2 || e.count < 19 || e.count > 64) return undefined;
  const at = e.count <= 4 ? e.valueAt : v.u32(e.valueAt);
  return normaliseExifDate(v.str(at, e.count));
}

/** Capture date of a JPEG from its first bytes, or undefined. @throws ProtocolError (ERR_PROTOCOL) */
export function dateFromJpeg(head: Buffer): string | undefined {
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
    if (marker === 0xda || marker === 0xd9) return undefined; // start of scan / end: no EXIF before the image data
    const len = v.u16(off + 2);
    if (len < 2) throw bad('segment length < 2', off + 2);
    if (marker === 0xe1 && len >= 8 && head.toString('latin1', off + 4, off + 10) === 'Exif\0\0') {
      const end = off + 2 + len;
      if (end > head.length) throw bad('APP1 truncated', off);
      return dateFromTiff(head.subarray(off + 10, end));
    }
    off += 2 + len;
  }
  return undefined;
}

interface Box {
  type: string;
  /** Offset of the box body (after size/type/largesize). */
  body: number;
  /** Offset just past the box. */
  end: number;
}

/** Child boxes of `buf[start, end)`. */
function boxes(v: View, start: number, end: number): Box[] {
  const out: Box[] = [];
  let off = start;
  while (off + 8 <= end) {
    let size = v.u32(off);
    const type = v.str(off + 4, 4);
    let body = off + 8;
    if (size === 1) {
      size = v.uN(off + 8, 8);
      body += 8;
    } else if (size === 0) size = end - off;
    if (size < body - off || off + size > end) throw bad(`box ${JSON.stringify(type)} overruns its parent`, off);
    out.push({ type, body, end: off + size });
    off += size;
  }
  return out;
}

/** Capture date of an ISO-BMFF image (HEIC/HEIF/AVIF), or undefined. @throws ProtocolError (ERR_PROTOCOL) */
export async function dateFromHeif(read: RandomReader, fileSize: number): Promise<string | undefined> {
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
  if (!meta) return undefined;
  if (meta.size > MAX_META) throw bad(`meta box of ${meta.size} bytes`, meta.at);
  const mbuf = await read(meta.at, meta.size);
  const v = new View(mbuf);
  const [metaBox] = boxes(v, 0, mbuf.length);
  if (!metaBox) throw bad('meta truncated', meta.at);
  const children = boxes(v, metaBox.body + 4, metaBox.end); // full box: skip version + flags
  const iinf = children.find((b) => b.type === 'iinf');
  const iloc = children.find((b) => b.type === 'iloc');
  const idat = children.find((b) => b.type === 'idat');
  if (!iinf || !iloc) return undefined;
  const exifId = findExifItem(v, iinf);
  if (exifId === undefined) return undefined;
  const loc = findLocation(v, iloc, exifId);
  if (!loc) return undefined;
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
    } else return undefined;
  }
  const item = Buffer.concat(parts);
  const iv = new View(item);
  const tiffAt = 4 + iv.u32(0); // exif_tiff_header_offset, then usually "Exif\0\0"
  if (tiffAt >= item.length) throw bad('Exif item without TIFF data', 0);
  return dateFromTiff(item.subarray(tiffAt));
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

/** Seconds from 1904-01-01 (QuickTime epoch) to 1970-01-01. */
const QT_EPOCH = 2_082_844_800;

/**
 * Creation time of a QuickTime/MP4 movie ('moov' → 'mvhd'), as local wall time, or undefined. The
 * value is a UTC instant (unlike EXIF), so it is shown in this computer's time zone.
 */
export async function dateFromMovie(read: RandomReader, fileSize: number): Promise<string | undefined> {
  let off = 0;
  for (let i = 0; i < MAX_TOP_BOXES && off + 8 <= fileSize; i++) {
    const h = new View(await read(off, 16));
    let size = h.u32(0);
    const type = h.str(4, 4);
    let body = off + 8;
    if (size === 1) {
      size = h.uN(8, 8);
      body += 8;
    } else if (size === 0) size = fileSize - off;
    if (size < body - off) throw bad('box smaller than its header', off);
    if (type === 'moov') {
      const end = Math.min(off + size, fileSize);
      for (let p = body, k = 0; p + 8 <= end && k < MAX_TOP_BOXES; k++) {
        const c = new View(await read(p, 28));
        const csize = c.u32(0);
        if (csize < 8) throw bad('child box smaller than its header', p);
        if (c.str(4, 4) === 'mvhd') {
          const version = c.u8(8);
          const secs = version === 1 ? c.uN(12, 8) : c.u32(12);
          if (secs <= QT_EPOCH) return undefined;
          const d = new Date((secs - QT_EPOCH) * 1000);
          const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
          return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
        }
        p += csize;
      }
      return undefined;
    }
    off += size;
  }
  return undefined;
}

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_PNG_CHUNKS = 64;

/** Capture date from a PNG 'eXIf' chunk (searched among the first chunks, before IDAT), or undefined. */
export async function dateFromPng(read: RandomReader, fileSize: number): Promise<string | undefined> {
  let off = 8;
  for (let i = 0; i < MAX_PNG_CHUNKS && off + 12 <= fileSize; i++) {
    const h = new View(await read(off, 8));
    const len = h.u32(0);
    const type = h.str(4, 4);
    if (type === 'IDAT' || type === 'IEND') return undefined;
    if (len > fileSize - off - 12) throw bad(`PNG chunk ${JSON.stringify(type)} overruns the file`, off);
    if (type === 'eXIf') {
      if (len > MAX_EXIF_ITEM) throw bad(`eXIf chunk of ${len} bytes`, off);
      let tiff = await read(off + 8, len);
      if (tiff.toString('latin1', 0, 6) === 'Exif\0\0') tiff = tiff.subarray(6);
      return dateFromTiff(tiff);
    }
    off += 12 + len;
  }
  return undefined;
}

/**
 * Capture date (local wall time "YYYY-MM-DDTHH:MM:SS") of a JPEG, PNG, HEIF or QuickTime/MP4 file, or undefined when it
 * has none or does not parse (EXIF is best effort: the caller falls back to the birth time).
 */
export async function readCaptureDate(read: RandomReader, fileSize: number): Promise<string | undefined> {
  try {
    const head = await read(0, Math.min(fileSize, 16));
    if (head.length >= 2 && head[0] === 0xff && head[1] === 0xd8) return dateFromJpeg(await read(0, Math.min(fileSize, JPEG_HEAD)));
    if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') {
      const brand = head.toString('latin1', 8, 12);
      if (brand === 'qt  ' || brand.startsWith('mp4') || brand.startsWith('M4V') || brand === 'isom') return await dateFromMovie(read, fileSize);
      return await dateFromHeif(read, fileSize);
    }
    if (head.length >= 8 && head.subarray(0, 8).equals(PNG_SIG)) return await dateFromPng(read, fileSize);
    return undefined;
  } catch (e) {
    if (e instanceof ProtocolError) return undefined;
    throw e;
  }
}
