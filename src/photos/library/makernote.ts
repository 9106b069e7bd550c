/**
 * The Live Photo content identifier of a still image: Apple MakerNote tag 0x0011 in the EXIF of a JPEG
 * (APP1 "Exif\0\0") or a HEIC (the `Exif` item found through meta → iinf → iloc).
 *
 * Wire facts (exiftool lib/Image/ExifTool/MakerNotes.pm and Apple.pm, read for facts only):
 * ```
 * TIFF: "II*\0" | "MM\0*", u32 IFD0 offset; IFD = u16 count, count × (tag u16, type u16, count u32,
 *       value-or-offset u32: ≤ 4 bytes inline), u32 next; offsets from the TIFF header
 * IFD0 tag 0x8769 → Exif IFD; Exif IFD tag 0x927C (UNDEFINED) → the MakerNote bytes
 * Apple MakerNote: "Apple iOS\0" (10) | version u16 (1) | "MM" or "II" (byte order) | IFD at offset 14;
 *       value offsets are relative to the MakerNote's first byte
 * tag 0x0011 (ASCII, e.g. 37 bytes "FFCBAC24-E547-4BBC-AF47-38B1A3D845E3\0"): ContentIdentifier, which
 *       exiftool 12.19 renamed MediaGroupUUID; Photos.sqlite keeps the same value in ZASSET.ZMEDIAGROUPUUID
 * HEIF Exif item (ISO/IEC 23008-12 Annex A.2.1): u32 exif_tiff_header_offset, then (usually "Exif\0\0") TIFF
 * ```
 * Caps: JPEG head 256 KiB, IFD 1000 entries, MakerNote 256 KiB, HEIF meta 4 MiB, Exif item 1 MiB, 64 top boxes.
 */
import { Bytes, childBoxes, topLevelBoxes, type BoxHeader, type RandomReader } from './bytes.ts';
import { MediaFormatError } from './errors.ts';

export const JPEG_HEAD_BYTES = 256 * 1024;
const MAX_IFD_ENTRIES = 1000;
const MAX_MAKERNOTE = 256 * 1024;
const MAX_META = 4 * 1024 * 1024;
const MAX_EXIF_ITEM = 1024 * 1024;
const MAX_BOXES = 64;
/** Longest identifier accepted (UUIDs are 36 characters). */
const MAX_ID_LENGTH = 128;

const TAG_EXIF_IFD = 0x8769;
const TAG_MAKERNOTE = 0x927c;
const TAG_CONTENT_ID = 0x0011;
const APPLE_SIGNATURE = 'Apple iOS\0';

interface IfdEntry {
  type: number;
  count: number;
  /** Offset of the 4-byte value-or-offset field. */
  field: number;
}

function readIfd(v: Bytes, off: number): Map<number, IfdEntry> {
  const n = v.u16(off);
  if (n > MAX_IFD_ENTRIES) throw v.fail(`IFD with ${n} entries`, off);
  v.check(off + 2, n * 12);
  const out = new Map<number, IfdEntry>();
  for (let i = 0; i < n; i++) {
    const e = off + 2 + i * 12;
    out.set(v.u16(e), { type: v.u16(e + 2), count: v.u32(e + 4), field: e + 8 });
  }
  return out;
}

/** Normalises an identifier: printable ASCII, NULs and spaces trimmed, upper case; undefined when empty or odd. */
export function normaliseContentId(raw: string): string | undefined {
  const s = raw.replace(/\0.*$/s, '').trim();
  if (s.length === 0 || s.length > MAX_ID_LENGTH || !/^[\x21-\x7e]+$/.test(s)) return undefined;
  return s.toUpperCase();
}

/**
 * The content identifier in an Apple MakerNote (its bytes from the "Apple iOS" signature on), or undefined
 * when it is not Apple's or has no tag 0x0011. @throws MediaFormatError (ERR_PHOTOS_MEDIA) when malformed
 */
export function contentIdFromMakerNote(mn: Buffer): string | undefined {
  if (mn.length < 16 || mn.toString('latin1', 0, 10) !== APPLE_SIGNATURE) return undefined;
  const order = mn.toString('latin1', 12, 14);
  if (order !== 'MM' && order !== 'II') throw new MediaFormatError('makernote', 'no byte-order mark', 12);
  const v = new Bytes(mn, 'makernote', order === 'II');
  const e = readIfd(v, 14).get(TAG_CONTENT_ID);
  if (!e || e.type !== 2 || e.count === 0) return undefined;
  if (e.count > MAX_ID_LENGTH + 1) throw v.fail(`content identifier of ${e.count} bytes`, e.field);
  const at = e.count <= 4 ? e.field : v.u32(e.field);
  return normaliseContentId(v.latin1(at, e.count));
}

/**
 * The content identifier in a TIFF/EXIF block (IFD0 → Exif IFD → MakerNote), or undefined.
 * @throws MediaFormatError (ERR_PHOTOS_MEDIA) when malformed
 */
export function contentIdFromTiff(tiff: Buffer): string | undefined {
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw new MediaFormatError('tiff', 'no byte-order mark', 0);
  const v = new Bytes(tiff, 'tiff', order === 'II');
  if (v.u16(2) !== 42) throw v.fail('bad TIFF magic', 2);
  const exifPtr = readIfd(v, v.u32(4)).get(TAG_EXIF_IFD);
  if (!exifPtr) return undefined;
  const mn = readIfd(v, v.u32(exifPtr.field)).get(TAG_MAKERNOTE);
  if (!mn || mn.count < 16) return undefined;
  if (mn.count > MAX_MAKERNOTE) throw v.fail(`MakerNote of ${mn.count} bytes`, mn.field);
  return contentIdFromMakerNote(v.slice(v.u32(mn.field), mn.count));
}

/** The TIFF block of a JPEG's APP1 Exif segment within its first bytes, or undefined. @throws MediaFormatError */
export function tiffFromJpeg(head: Buffer): Buffer | undefined {
  const v = new Bytes(head, 'jpeg');
  if (v.u16(0) !== 0xffd8) throw v.fail('not a JPEG', 0);
  let off = 2;
  while (off + 4 <= head.length) {
    if (v.u8(off) !== 0xff) throw v.fail('marker expected', off);
    const marker = v.u8(off + 1);
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // image data: EXIF comes before it
    const len = v.u16(off + 2);
    if (len < 2) throw v.fail('segment length < 2', off + 2);
    if (marker === 0xe1 && len >= 8 && head.toString('latin1', off + 4, off + 10) === 'Exif\0\0') return v.slice(off + 10, len - 8);
    off += 2 + len;
  }
  return undefined;
}

interface ItemLocation {
  method: number;
  base: number;
  extents: { offset: number; length: number }[];
}

function findExifItemId(v: Bytes, iinf: BoxHeader): number | undefined {
  const version = v.u8(iinf.body);
  const first = iinf.body + 4 + (version === 0 ? 2 : 4);
  for (const infe of childBoxes(v, first, iinf.end, 1 << 16)) {
    if (infe.type !== 'infe') continue;
    const ver = v.u8(infe.body);
    if (ver < 2) continue;
    const idLen = ver === 2 ? 2 : 4;
    const id = v.uN(infe.body + 4, idLen);
    if (v.latin1(infe.body + 4 + idLen + 2, 4) === 'Exif') return id;
  }
  return undefined;
}

function findItemLocation(v: Bytes, iloc: BoxHeader, want: number): ItemLocation | undefined {
  const version = v.u8(iloc.body);
  if (version > 2) throw v.fail(`iloc version ${version}`, iloc.body);
  let p = iloc.body + 4;
  const b1 = v.u8(p), b2 = v.u8(p + 1);
  p += 2;
  const offSize = b1 >> 4, lenSize = b1 & 15, baseSize = b2 >> 4;
  const idxSize = version === 1 || version === 2 ? b2 & 15 : 0;
  const idSize = version < 2 ? 2 : 4;
  const count = v.uN(p, idSize);
  p += idSize;
  for (let i = 0; i < count && p < iloc.end; i++) {
    const id = v.uN(p, idSize);
    p += idSize;
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

/**
 * The TIFF block of a HEIF file's Exif item, or undefined. Reads the top-level box headers, the `meta` box and
 * the item's extents. @throws MediaFormatError (ERR_PHOTOS_MEDIA) when malformed or over a cap
 */
export async function tiffFromHeif(read: RandomReader, fileSize: number): Promise<Buffer | undefined> {
  const meta = (await topLevelBoxes(read, fileSize, 'heif', MAX_BOXES)).find((b) => b.type === 'meta');
  if (!meta) return undefined;
  const size = meta.end - meta.start;
  if (size > MAX_META) throw new MediaFormatError('heif', `meta box of ${size} bytes`, meta.start);
  const mbuf = await read(meta.start, size);
  const v = new Bytes(mbuf, 'heif');
  const rel = meta.body - meta.start + 4; // full box: version + flags
  const kids = childBoxes(v, rel, mbuf.length, MAX_BOXES);
  const iinf = kids.find((b) => b.type === 'iinf');
  const iloc = kids.find((b) => b.type === 'iloc');
  const idat = kids.find((b) => b.type === 'idat');
  if (!iinf || !iloc) return undefined;
  const id = findExifItemId(v, iinf);
  if (id === undefined) return undefined;
  const loc = findItemLocation(v, iloc, id);
  if (!loc) return undefined;
  const parts: Buffer[] = [];
  let total = 0;
  for (const x of loc.extents) {
    total += x.length;
    if (total > MAX_EXIF_ITEM) throw v.fail(`Exif item of more than ${MAX_EXIF_ITEM} bytes`);
    if (loc.method === 0) {
      const b = await read(loc.base + x.offset, x.length);
      if (b.length !== x.length) throw v.fail('Exif item past the end of the file', loc.base + x.offset);
      parts.push(b);
    } else if (loc.method === 1 && idat) {
      parts.push(v.slice(idat.body + loc.base + x.offset, x.length));
    } else return undefined;
  }
  const item = new Bytes(Buffer.concat(parts), 'heif');
  const tiffAt = 4 + item.u32(0);
  if (tiffAt >= item.buf.length) throw item.fail('Exif item without TIFF data', 0);
  return item.buf.subarray(tiffAt);
}

/**
 * The Live Photo content identifier of a JPEG or HEIC/HEIF, or undefined when the file has none (or is
 * another format). @throws MediaFormatError (ERR_PHOTOS_MEDIA) when the file is malformed or over a cap
 */
export async function readStillContentId(read: RandomReader, fileSize: number): Promise<string | undefined> {
  const head = await read(0, Math.min(fileSize, 16));
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    const tiff = tiffFromJpeg(await read(0, Math.min(fileSize, JPEG_HEAD_BYTES)));
    return tiff ? contentIdFromTiff(tiff) : undefined;
  }
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') {
    const tiff = await tiffFromHeif(read, fileSize);
    return tiff ? contentIdFromTiff(tiff) : undefined;
  }
  return undefined;
}
