/**
 * Byte layouts of the media files the virtual iPhone's camera roll holds (pure, no I/O).
 *
 * Each builder returns the file as a list of parts: a Buffer is literal bytes, a number is that many filler
 * bytes the writer generates itself (streamed, so a 60 MB video is never held in memory). Every builder hits
 * the requested size exactly when it is at least the format's minimum ({@link minimumSize}); smaller
 * requests are raised to the minimum.
 *
 * - JPEG: a real, decodable baseline JPEG (8×8 grey) with an APP1 Exif segment carrying DateTimeOriginal;
 *   padding in COM segments (≤ 65533 bytes each) between APP1 and DQT.
 * - PNG: a real 1×1 PNG with an `eXIf` chunk (same TIFF block as the JPEG) and a private ancillary `prVt` chunk
 *   as padding (it needs a CRC, so the PNG padding is built in memory: PNGs here are screenshots of ≤ a few MB).
 * - HEIC: an ISO-BMFF HEIF container (`ftyp heic`, a `meta` box with an 'hvc1' primary item and an 'Exif' item
 *   carrying the same TIFF block, `mdat`). **Not a decodable image** (the 'hvc1' item is filler without codec
 *   configuration), but its EXIF DateTimeOriginal is found the standard way (iinf/iloc).
 * - MOV: QuickTime `ftyp` (`qt  `), a `moov` box with an `mvhd` whose creation/modification time is the capture
 *   date (seconds since 1904-01-01 UTC), then `mdat` filler. Not playable (no tracks). A Live Photo video also
 *   carries its content identifier in `moov/meta` (after `mdat`), optionally without `ftyp`.
 * - AAE: the small XML plist sidecar Photos writes for edits (adjustment format id, version, base64 data).
 */
import { crc32, deflateSync } from 'node:zlib';
import { buildExifTiff, type ExifFields } from './exif-tiff.ts';

/** Literal bytes, or a count of filler bytes the writer generates. */
export type FilePart = Buffer | number;

/** The media kinds the generator writes. */
export type MediaKind = 'jpg' | 'png' | 'heic' | 'mov' | 'aae';

function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(marker, 0);
  head.writeUInt16BE(payload.length + 2, 2); // the length field counts itself
  return Buffer.concat([head, payload]);
}

const MAX_SEGMENT_PAYLOAD = 65533;

/** The JPEG parts after APP1: quantisation, frame, Huffman tables, scan and EOI for an 8×8 flat grey image. */
function jpegImageTail(): Buffer {
  const dqt = segment(0xffdb, Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)])); // table 0, 8-bit, all ones
  // SOF0: precision 8, height 8, width 8, 1 component (id 1, sampling 1×1, quant table 0)
  const sof = segment(0xffc0, Buffer.from([8, 0, 8, 0, 8, 1, 1, 0x11, 0]));
  // DHT: DC table 0 and AC table 0, each one symbol (0x00) with the 1-bit code '0':
  // DC symbol 0 = difference category 0 (value 0 → level 128 grey); AC symbol 0 = EOB.
  const bits = Buffer.alloc(16);
  bits[0] = 1;
  const dht = segment(0xffc4, Buffer.concat([Buffer.from([0x00]), bits, Buffer.from([0x00]), Buffer.from([0x10]), bits, Buffer.from([0x00])]));
  // SOS: 1 component, id 1 uses DC 0 / AC 0, spectral 0..63, no approximation
  const sos = segment(0xffda, Buffer.from([1, 1, 0x00, 0, 63, 0]));
  // entropy data: DC '0' + EOB '0', padded with 1-bits → 0b00111111
  return Buffer.concat([dqt, sof, dht, sos, Buffer.from([0x3f, 0xff, 0xd9])]);
}

/**
 * A baseline JPEG of exactly `size` bytes (or the minimum) with EXIF from `exif`.
 */
export function jpegParts(size: number, exif: ExifFields): FilePart[] {
  const tiff = buildExifTiff({ width: 8, height: 8, ...exif });
  const exifHeader = Buffer.from('Exif\0\0', 'latin1');
  const tail = jpegImageTail();
  const baseApp1 = 4 + exifHeader.length + tiff.length;
  const fixed = 2 + baseApp1 + tail.length;
  let remaining = Math.max(0, size - fixed);
  // n COM segments of ≤ 65533 payload bytes; remainders below one segment header (1-3 bytes) go into APP1.
  const n = Math.ceil(remaining / (MAX_SEGMENT_PAYLOAD + 4));
  let slack = 0;
  if (remaining - 4 * n < 0) {
    slack = remaining;
    remaining = 0;
  }
  const parts: FilePart[] = [Buffer.from([0xff, 0xd8])];
  parts.push(segment(0xffe1, Buffer.concat([exifHeader, tiff, Buffer.alloc(slack)])));
  if (remaining > 0) {
    let payload = remaining - 4 * n;
    for (let i = 0; i < n; i++) {
      const len = Math.min(MAX_SEGMENT_PAYLOAD, payload); // the last segments may be short (even empty)
      const head = Buffer.alloc(4);
      head.writeUInt16BE(0xfffe, 0);
      head.writeUInt16BE(len + 2, 2);
      parts.push(head, len);
      payload -= len;
    }
  }
  parts.push(tail);
  return parts;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A 1×1 PNG of exactly `size` bytes (or the minimum) with an eXIf chunk; `filler(n)` supplies padding bytes. */
export function pngParts(size: number, exif: ExifFields, filler: (n: number) => Buffer): FilePart[] {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const idat = deflateSync(Buffer.from([0, 0x40, 0x80, 0xc0])); // filter 0 + one RGB pixel
  const head = Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('eXIf', buildExifTiff({ width: 1, height: 1, ...exif })), pngChunk('IDAT', idat)]);
  const end = pngChunk('IEND', Buffer.alloc(0));
  const fixed = head.length + end.length;
  const parts: FilePart[] = [head];
  if (size - fixed >= 12) parts.push(pngChunk('prVt', filler(size - fixed - 12))); // ancillary, private, safe to copy
  parts.push(end);
  return parts;
}

function box(type: string, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + payload.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, payload]);
}

/** `mdat` box header for `n` payload bytes (64-bit largesize when needed). */
function mdatHeader(n: number): Buffer {
  if (8 + n <= 0xffffffff) {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(8 + n, 0);
    h.write('mdat', 4, 'latin1');
    return h;
  }
  const h = Buffer.alloc(16);
  h.writeUInt32BE(1, 0);
  h.write('mdat', 4, 'latin1');
  h.writeBigUInt64BE(BigInt(16 + n), 8);
  return h;
}

function fullBox(type: string, version: number, payload: Buffer): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE((version << 24) >>> 0, 0); // version (8 bits) + flags (24 bits, 0)
  return box(type, Buffer.concat([vf, payload]));
}

function u16s(...v: number[]): Buffer {
  const b = Buffer.alloc(v.length * 2);
  v.forEach((x, i) => b.writeUInt16BE(x, i * 2));
  return b;
}

function infe(itemId: number, itemType: string): Buffer {
  // ItemInfoEntry version 2: item_ID u16, item_protection_index u16, item_type 4cc, item_name (empty string)
  return fullBox('infe', 2, Buffer.concat([u16s(itemId, 0), Buffer.from(itemType, 'latin1'), Buffer.from([0])]));
}

/**
 * An ISO-BMFF HEIF container ('heic') of exactly `size` bytes (or the minimum). Not a decodable image: item 1
 * ('hvc1', the primary item) is filler without codec configuration. Item 2 is an 'Exif' item (HEIF Annex A:
 * u32 exif_tiff_header_offset, then "Exif\0\0" + TIFF) linked to item 1 by a 'cdsc' reference, so readers find
 * DateTimeOriginal through meta/iinf/iloc like in an iPhone's HEIC.
 * ```
 * ftyp heic [mif1 heic]
 * meta (v0): hdlr 'pict' | pitm 1 | iinf (2 × infe v2) | iref cdsc 2→1 | iloc v0 (4-byte offsets/lengths, 1 extent each)
 * mdat: Exif item ‖ image filler
 * ```
 */
export function heicParts(size: number, exif: ExifFields): FilePart[] {
  const ftyp = box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
  const tiff = buildExifTiff({ width: 4032, height: 3024, ...exif });
  const exifItem = Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const hdlr = fullBox('hdlr', 0, Buffer.concat([Buffer.alloc(4), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from([0])]));
  const pitm = fullBox('pitm', 0, u16s(1));
  const iinf = fullBox('iinf', 0, Buffer.concat([u16s(2), infe(1, 'hvc1'), infe(2, 'Exif')]));
  const iref = fullBox('iref', 0, box('cdsc', u16s(2, 1, 1)));
  // iloc sizes depend only on the item count, so build it once with placeholder offsets and patch them below
  const ilocBody = Buffer.alloc(2 + 2 + 2 * (2 + 2 + 2 + 4 + 4));
  ilocBody[0] = 0x44; // offset_size 4, length_size 4
  ilocBody[1] = 0x00; // base_offset_size 0, reserved
  ilocBody.writeUInt16BE(2, 2); // item_count
  const iloc = fullBox('iloc', 0, ilocBody);
  const meta = fullBox('meta', 0, Buffer.concat([hdlr, pitm, iinf, iref, iloc]));
  const headLength = ftyp.length + meta.length + 8; // + mdat header (8, or 16 for > 4 GiB)
  const image = Math.max(0, size - headLength - exifItem.length);
  const mdat = mdatHeader(exifItem.length + image);
  const exifAt = ftyp.length + meta.length + mdat.length;
  const imageAt = exifAt + exifItem.length;
  // patch iloc: entries start after FullBox header (4) + sizes (2) + count (2) inside the iloc box body
  const ilocAt = meta.length - iloc.length + 8 + 4; // iloc payload start within meta
  let p = ilocAt + 4;
  for (const [id, at, len] of [[1, imageAt, image], [2, exifAt, exifItem.length]] as const) {
    meta.writeUInt16BE(id, p);
    meta.writeUInt16BE(0, p + 2); // data_reference_index: this file
    meta.writeUInt16BE(1, p + 4); // extent_count
    meta.writeUInt32BE(at, p + 6);
    meta.writeUInt32BE(len, p + 10);
    p += 14;
  }
  return [ftyp, meta, mdat, exifItem, image];
}

/** Seconds between 1904-01-01 and 1970-01-01 (QuickTime epoch). */
const QT_EPOCH_OFFSET = 2082844800;

/** Options of {@link movParts}. */
export interface MovOptions {
  /** Live Photo content identifier: a `moov/meta` (mdta handler, keys, ilst) with `com.apple.quicktime.content.identifier`. */
  contentId?: string;
  /**
   * Lay the file out as Live Photo videos read over AFC can be: no `ftyp`; `wide` (8 bytes), `mdat`, then `moov`
   * at the end (metadata-extractor #737 / metadata-extractor-dotnet PR #426).
   */
  noFtyp?: boolean;
}

/** moov/meta with one UTF-8 item per key (QuickTime mdta form: hdlr, keys, ilst indexed by 1-based key number). */
function mdtaMeta(items: [string, string][]): Buffer {
  const hdlr = fullBox('hdlr', 0, Buffer.concat([Buffer.alloc(4), Buffer.from('mdta', 'latin1'), Buffer.alloc(12), Buffer.from([0])]));
  const keyEntries = items.map(([k]) => {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(8 + Buffer.byteLength(k), 0);
    b.write('mdta', 4, 'latin1');
    return Buffer.concat([b, Buffer.from(k, 'utf8')]);
  });
  const count = Buffer.alloc(4);
  count.writeUInt32BE(items.length, 0);
  const keys = fullBox('keys', 0, Buffer.concat([count, ...keyEntries]));
  const ilst = box('ilst', Buffer.concat(items.map(([, value], i) => {
    const typeLocale = Buffer.alloc(8);
    typeLocale.writeUInt32BE(1, 0); // well-known type 1: UTF-8; locale 0
    const data = box('data', Buffer.concat([typeLocale, Buffer.from(value, 'utf8')]));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + data.length, 0);
    head.writeUInt32BE(i + 1, 4); // the item's type is its key index
    return Buffer.concat([head, data]);
  })));
  return box('meta', Buffer.concat([hdlr, keys, ilst])); // QuickTime: meta is a plain container
}

/**
 * A QuickTime container of exactly `size` bytes (or the minimum): ftyp, moov/mvhd with the capture time, mdat
 * filler. With `contentId` the moov also carries the Live Photo metadata and comes after mdat, as in iPhone
 * movies; with `noFtyp` the file starts with `wide` instead of `ftyp`.
 */
export function movParts(size: number, captureDate: Date, o: MovOptions = {}): FilePart[] {
  const ftyp = box('ftyp', Buffer.from('qt  \x20\x05\x03\x00qt  ', 'latin1'));
  const mvhd = Buffer.alloc(100);
  const t = Math.floor(captureDate.getTime() / 1000) + QT_EPOCH_OFFSET;
  mvhd.writeUInt32BE(0, 0); // version 0, flags 0
  mvhd.writeUInt32BE(t >>> 0, 4); // creation time
  mvhd.writeUInt32BE(t >>> 0, 8); // modification time
  mvhd.writeUInt32BE(600, 12); // timescale
  mvhd.writeUInt32BE(1800, 16); // duration (3 s)
  mvhd.writeUInt32BE(0x00010000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 24); // volume 1.0
  for (const [i, v] of [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].entries()) mvhd.writeUInt32BE(v, 36 + i * 4); // unity matrix
  mvhd.writeUInt32BE(2, 96); // next track id
  if (o.contentId === undefined && !o.noFtyp) {
    const moov = box('moov', box('mvhd', mvhd));
    const payload = Math.max(0, size - ftyp.length - moov.length - 8);
    return [ftyp, moov, mdatHeader(payload), payload];
  }
  const meta = o.contentId !== undefined ? [mdtaMeta([['com.apple.quicktime.content.identifier', o.contentId], ['com.apple.quicktime.make', 'Apple']])] : [];
  const moov = box('moov', Buffer.concat([box('mvhd', mvhd), ...meta]));
  const lead = o.noFtyp ? box('wide', Buffer.alloc(0)) : Buffer.concat([ftyp, box('wide', Buffer.alloc(0))]);
  const payload = Math.max(0, size - lead.length - moov.length - 8);
  const mdat = mdatHeader(payload);
  return [lead, mdat, payload, moov];
}

/** The XML plist sidecar (.AAE) Photos writes next to an edited photo. */
export function aaeBytes(captureDate: Date, variant: number): Buffer {
  const data = Buffer.from(JSON.stringify({ crop: { x: variant % 97, y: variant % 89 }, date: captureDate.toISOString() })).toString('base64');
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0">\n<dict>\n' +
    `\t<key>adjustmentBaseVersion</key>\n\t<integer>0</integer>\n` +
    `\t<key>adjustmentData</key>\n\t<data>\n\t${data}\n\t</data>\n` +
    `\t<key>adjustmentEditorBundleID</key>\n\t<string>com.apple.mobileslideshow</string>\n` +
    `\t<key>adjustmentFormatIdentifier</key>\n\t<string>com.apple.photo</string>\n` +
    `\t<key>adjustmentFormatVersion</key>\n\t<string>1.4</string>\n` +
    '</dict>\n</plist>\n';
  return Buffer.from(xml, 'utf8');
}

/** Total length of a part list. */
export function partsLength(parts: readonly FilePart[]): number {
  let n = 0;
  for (const p of parts) n += typeof p === 'number' ? p : p.length;
  return n;
}
