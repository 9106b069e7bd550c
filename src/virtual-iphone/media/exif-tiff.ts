/**
 * Builds a minimal big-endian TIFF structure carrying the EXIF fields a photo backup reads
 * (pure, no I/O). Used inside a JPEG APP1 `Exif\0\0` segment and a PNG `eXIf` chunk.
 *
 * Layout written (offsets relative to the TIFF header, as EXIF requires):
 * ```
 * 0   "MM" 0x002A u32 8                       big-endian TIFF header, IFD0 at 8
 * 8   IFD0: Make 0x010F, Model 0x0110, Orientation 0x0112, Software 0x0131, DateTime 0x0132,
 *           ExifIFDPointer 0x8769 (LONG offset of the Exif IFD); next-IFD 0
 *     Exif IFD: DateTimeOriginal 0x9003, DateTimeDigitized 0x9004, OffsetTimeOriginal 0x9011,
 *           PixelXDimension 0xA002, PixelYDimension 0xA003; next-IFD 0
 *           MakerNote 0x927C (UNDEFINED; only with `contentId`), between 0x9011 and 0xA002
 *     value area (ASCII strings longer than 4 bytes, the MakerNote), each value at an even offset
 * ```
 * With `contentId`, the Exif IFD carries an Apple MakerNote the way iPhones write it: "Apple iOS\0", version 1,
 * "MM", then an IFD whose value offsets count from the MakerNote's first byte, with tag 0x0001 (MakerNote
 * version, SLONG 14), 0x0008 (acceleration vector, 3 × SRATIONAL) and 0x0011 (the Live Photo content
 * identifier, ASCII; exiftool calls it ContentIdentifier / MediaGroupUUID).
 * Dates are written in UTC ("YYYY:MM:DD HH:MM:SS") with OffsetTimeOriginal "+00:00", so a reader gets the exact
 * instant back.
 */

/** Field type numbers from TIFF 6.0. */
const TYPE_ASCII = 2;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_UNDEFINED = 7;
const TYPE_SLONG = 9;
const TYPE_SRATIONAL = 10;

interface Entry {
  tag: number;
  type: typeof TYPE_ASCII | typeof TYPE_SHORT | typeof TYPE_LONG | typeof TYPE_UNDEFINED;
  /** ASCII text (NUL added here), an integer, or raw bytes (UNDEFINED). */
  value: string | number | Buffer;
}

/** What goes into the EXIF block. */
export interface ExifFields {
  /** Capture instant; written as DateTimeOriginal / DateTimeDigitized / DateTime in UTC. */
  captureDate: Date;
  make?: string;
  model?: string;
  software?: string;
  width?: number;
  height?: number;
  /** Live Photo content identifier (a UUID string): adds an Apple MakerNote with tag 0x0011. */
  contentId?: string;
}

/** Formats a date the EXIF way, in UTC: "YYYY:MM:DD HH:MM:SS". */
export function exifDateString(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}:${p(d.getUTCMonth() + 1)}:${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function entrySize(e: Entry): number {
  if (e.type === TYPE_ASCII) return Buffer.byteLength(e.value as string, 'latin1') + 1;
  if (e.type === TYPE_UNDEFINED) return (e.value as Buffer).length;
  return e.type === TYPE_SHORT ? 2 : 4;
}

/** Size in bytes of an IFD with `n` entries (count, entries, next-IFD offset). */
const ifdSize = (n: number): number => 2 + n * 12 + 4;

/**
 * Writes one IFD at `at` with out-of-line values starting at `dataAt`; returns the offset after the values.
 * Entries must be sorted by tag (TIFF requires ascending order).
 */
function writeIfd(buf: Buffer, at: number, entries: Entry[], dataAt: number): number {
  buf.writeUInt16BE(entries.length, at);
  let p = at + 2;
  let d = dataAt;
  for (const e of entries) {
    const size = entrySize(e);
    buf.writeUInt16BE(e.tag, p);
    buf.writeUInt16BE(e.type, p + 2);
    buf.writeUInt32BE(e.type === TYPE_ASCII || e.type === TYPE_UNDEFINED ? size : 1, p + 4);
    if (e.type === TYPE_UNDEFINED) {
      const bytes = e.value as Buffer;
      if (size <= 4) bytes.copy(buf, p + 8);
      else {
        buf.writeUInt32BE(d, p + 8);
        bytes.copy(buf, d);
        d += size + (size & 1);
      }
    } else if (e.type === TYPE_ASCII) {
      const text = e.value as string;
      if (size <= 4) {
        buf.write(text, p + 8, 'latin1');
      } else {
        buf.writeUInt32BE(d, p + 8);
        buf.write(text, d, 'latin1');
        d += size + (size & 1); // keep values word-aligned
      }
    } else if (e.type === TYPE_SHORT) {
      buf.writeUInt16BE(e.value as number, p + 8); // left-justified in the 4-byte field
    } else {
      buf.writeUInt32BE(e.value as number, p + 8);
    }
    p += 12;
  }
  buf.writeUInt32BE(0, p); // no next IFD
  return d;
}

function outOfLineBytes(entries: Entry[]): number {
  let n = 0;
  for (const e of entries) {
    const s = entrySize(e);
    if ((e.type === TYPE_ASCII || e.type === TYPE_UNDEFINED) && s > 4) n += s + (s & 1);
  }
  return n;
}

/** Builds the TIFF bytes (starting with "MM\0*") for the given fields. */
export function buildExifTiff(f: ExifFields): Buffer {
  const date = exifDateString(f.captureDate);
  const ifd0: Entry[] = [
    { tag: 0x010f, type: TYPE_ASCII, value: f.make ?? 'Apple' },
    { tag: 0x0110, type: TYPE_ASCII, value: f.model ?? 'iPhone 15' },
    { tag: 0x0112, type: TYPE_SHORT, value: 1 },
    { tag: 0x0131, type: TYPE_ASCII, value: f.software ?? '17.5' },
    { tag: 0x0132, type: TYPE_ASCII, value: date },
    { tag: 0x8769, type: TYPE_LONG, value: 0 }, // patched below
  ];
  const exif: Entry[] = [
    { tag: 0x9003, type: TYPE_ASCII, value: date },
    { tag: 0x9004, type: TYPE_ASCII, value: date },
    { tag: 0x9011, type: TYPE_ASCII, value: '+00:00' },
    ...(f.contentId !== undefined ? [{ tag: 0x927c, type: TYPE_UNDEFINED, value: appleMakerNote(f.contentId) } as Entry] : []),
    { tag: 0xa002, type: TYPE_LONG, value: f.width ?? 8 },
    { tag: 0xa003, type: TYPE_LONG, value: f.height ?? 8 },
  ];
  const ifd0At = 8;
  const ifd0DataAt = ifd0At + ifdSize(ifd0.length);
  const exifAt = ifd0DataAt + outOfLineBytes(ifd0);
  const exifDataAt = exifAt + ifdSize(exif.length);
  const total = exifDataAt + outOfLineBytes(exif);
  ifd0[5]!.value = exifAt;
  const buf = Buffer.alloc(total);
  buf.write('MM', 0, 'latin1');
  buf.writeUInt16BE(0x002a, 2);
  buf.writeUInt32BE(ifd0At, 4);
  writeIfd(buf, ifd0At, ifd0, ifd0DataAt);
  writeIfd(buf, exifAt, exif, exifDataAt);
  return buf;
}

/**
 * An Apple MakerNote (big-endian) holding `contentId` in tag 0x0011, laid out as iPhones write it (see the
 * header). Offsets inside count from the MakerNote's first byte.
 */
export function appleMakerNote(contentId: string): Buffer {
  const id = Buffer.from(`${contentId}\0`, 'latin1');
  const head = Buffer.from('Apple iOS\0\0\x01MM', 'latin1'); // 14 bytes
  const count = 3;
  const ifdAt = head.length;
  const dataAt = ifdAt + ifdSize(count);
  const accelAt = dataAt;
  const inline = id.length <= 4; // TIFF: values of ≤ 4 bytes sit in the entry itself
  const idAt = accelAt + 24;
  const buf = Buffer.alloc(idAt + (inline ? 0 : id.length + (id.length & 1)));
  head.copy(buf, 0);
  buf.writeUInt16BE(count, ifdAt);
  const entry = (i: number, tag: number, type: number, n: number, value: number): void => {
    const p = ifdAt + 2 + i * 12;
    buf.writeUInt16BE(tag, p);
    buf.writeUInt16BE(type, p + 2);
    buf.writeUInt32BE(n, p + 4);
    buf.writeUInt32BE(value >>> 0, p + 8);
  };
  entry(0, 0x0001, TYPE_SLONG, 1, 14); // MakerNote version
  entry(1, 0x0008, TYPE_SRATIONAL, 3, accelAt); // acceleration vector
  entry(2, 0x0011, TYPE_ASCII, id.length, inline ? 0 : idAt); // content identifier
  if (inline) id.copy(buf, ifdAt + 2 + 2 * 12 + 8);
  buf.writeUInt32BE(0, ifdAt + 2 + count * 12); // no next IFD
  for (const [i, [num, den]] of [[-12, 1000], [-990, 1000], [35, 1000]].entries()) {
    buf.writeInt32BE(num!, accelAt + i * 8);
    buf.writeInt32BE(den!, accelAt + i * 8 + 4);
  }
  if (!inline) id.copy(buf, idAt);
  return buf;
}
