/**
 * The JPEG thumbnail an EXIF block carries in IFD1 (pure, no I/O), and the image's Orientation.
 *
 * JPEG: `FF D8`, then segments `FF xx` + u16 BE length (counting itself); APP1 (`FF E1`) starting
 * "Exif\0\0" holds a TIFF block right after those 6 bytes. TIFF: "II*\0" (little-endian) or "MM\0*", u32 offset
 * of IFD0; an IFD is u16 count, count × 12-byte entries (tag u16, type u16, count u32, value or offset u32), u32
 * offset of the next IFD. IFD0's next IFD is IFD1, the thumbnail's: JPEGInterchangeFormat (0x0201) = offset of
 * the thumbnail JPEG from the TIFF header, JPEGInterchangeFormatLength (0x0202) its length. IFD0 Orientation
 * (0x0112) applies to the thumbnail too (it has none of its own). Every offset is bounds-checked.
 */
import { bad, View } from './bmff.ts';

const MAX_IFD_ENTRIES = 1000;
const TAG_ORIENTATION = 0x0112;
const TAG_THUMB_OFFSET = 0x0201;
const TAG_THUMB_LENGTH = 0x0202;

/** The TIFF block of a JPEG's APP1 Exif segment, searched in the first bytes of the file; undefined when none. */
export function jpegExifTiff(head: Buffer): Buffer | undefined {
  if (head.length < 4 || head[0] !== 0xff || head[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= head.length) {
    if (head[p] !== 0xff) return undefined;
    const marker = head[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data / end: no Exif before it
    const len = head.readUInt16BE(p + 2);
    if (len < 2) return undefined;
    if (marker === 0xe1 && p + 10 <= head.length && head.toString('latin1', p + 4, p + 10) === 'Exif\0\0') {
      const end = Math.min(head.length, p + 2 + len);
      return head.subarray(p + 10, end);
    }
    p += 2 + len;
  }
  return undefined;
}

interface Entry {
  type: number;
  count: number;
  at: number;
}

function readIfd(v: View, off: number): { entries: Map<number, Entry>; next: number } {
  const n = v.u16(off);
  if (n > MAX_IFD_ENTRIES) throw bad(`IFD with ${n} entries`, off);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < n; i++) {
    const e = off + 2 + i * 12;
    entries.set(v.u16(e), { type: v.u16(e + 2), count: v.u32(e + 4), at: e + 8 });
  }
  return { entries, next: v.u32(off + 2 + n * 12) };
}

function shortOrLong(v: View, e: Entry | undefined): number | undefined {
  if (!e || e.count !== 1) return undefined;
  if (e.type === 3) return v.u16(e.at); // SHORT, left-justified
  if (e.type === 4) return v.u32(e.at); // LONG
  return undefined;
}

function tiffView(tiff: Buffer): View | undefined {
  if (tiff.length < 8) return undefined;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const v = new View(tiff, order === 'II');
  return v.u16(2) === 42 ? v : undefined;
}

/** What {@link exifThumbnail} found. */
export interface ExifThumbnail {
  /** The thumbnail JPEG (a view into the TIFF buffer). */
  jpeg: Buffer;
  /** IFD0 Orientation (1–8; 1 when absent). */
  orientation: number;
}

/** The IFD1 thumbnail JPEG of a TIFF block, or undefined when there is none or the block is malformed. */
export function exifThumbnail(tiff: Buffer): ExifThumbnail | undefined {
  const v = tiffView(tiff);
  if (!v) return undefined;
  try {
    const ifd0 = readIfd(v, v.u32(4));
    const orientation = shortOrLong(v, ifd0.entries.get(TAG_ORIENTATION)) ?? 1;
    if (ifd0.next === 0) return undefined;
    const ifd1 = readIfd(v, ifd0.next);
    const off = shortOrLong(v, ifd1.entries.get(TAG_THUMB_OFFSET));
    const len = shortOrLong(v, ifd1.entries.get(TAG_THUMB_LENGTH));
    if (off === undefined || !len || off + len > tiff.length) return undefined;
    const jpeg = tiff.subarray(off, off + len);
    if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return undefined;
    return { jpeg, orientation: orientation >= 1 && orientation <= 8 ? orientation : 1 };
  } catch {
    return undefined; // malformed offsets: no thumbnail from this block
  }
}

/** IFD0 Orientation of a TIFF block (1–8), 1 when absent or malformed. */
export function exifOrientation(tiff: Buffer): number {
  const v = tiffView(tiff);
  if (!v) return 1;
  try {
    const o = shortOrLong(v, readIfd(v, v.u32(4)).entries.get(TAG_ORIENTATION)) ?? 1;
    return o >= 1 && o <= 8 ? o : 1;
  } catch {
    return 1;
  }
}
