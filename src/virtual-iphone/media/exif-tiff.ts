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
 *     value area (ASCII strings longer than 4 bytes), each value at an even offset
 * ```
 * Dates are written in UTC ("YYYY:MM:DD HH:MM:SS") with OffsetTimeOriginal "+00:00", so a reader gets the exact
 * instant back.
 */

/** Field type numbers from TIFF 6.0. */
const TYPE_ASCII = 2;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;

interface Entry {
  tag: number;
  type: typeof TYPE_ASCII | typeof TYPE_SHORT | typeof TYPE_LONG;
  /** ASCII text (NUL added here) or an integer. */
  value: string | number;
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
}

/** Formats a date the EXIF way, in UTC: "YYYY:MM:DD HH:MM:SS". */
export function exifDateString(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}:${p(d.getUTCMonth() + 1)}:${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function entrySize(e: Entry): number {
  if (e.type === TYPE_ASCII) return Buffer.byteLength(e.value as string, 'latin1') + 1;
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
    buf.writeUInt32BE(e.type === TYPE_ASCII ? size : 1, p + 4);
    if (e.type === TYPE_ASCII) {
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
    if (e.type === TYPE_ASCII && s > 4) n += s + (s & 1);
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
