/** Builders for test images carrying an EXIF DateTimeOriginal (JPEG APP1 and HEIC 'Exif' item). */

/** A TIFF block: IFD0 { DateTime, ExifIFD → { DateTimeOriginal } }. */
export function makeTiff(dateTimeOriginal: string, opts: { le?: boolean; ifd0Date?: string } = {}): Buffer {
  const le = opts.le ?? false;
  const b = Buffer.alloc(200);
  const u16 = (o: number, v: number): number => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const u32 = (o: number, v: number): number => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  b.write(le ? 'II' : 'MM', 0, 'latin1');
  u16(2, 42);
  u32(4, 8);
  // IFD0 at 8: 2 entries
  u16(8, 2);
  u16(10, 0x0132); u16(12, 2); u32(14, 20); u32(18, 100); // DateTime → 100
  u16(22, 0x8769); u16(24, 4); u32(26, 1); u32(30, 50); // ExifIFD → 50
  u32(34, 0);
  // Exif IFD at 50: 1 entry
  u16(50, 1);
  u16(52, 0x9003); u16(54, 2); u32(56, 20); u32(60, 130);
  u32(64, 0);
  b.write(`${opts.ifd0Date ?? '2001:01:01 00:00:00'}\0`, 100, 'latin1');
  b.write(`${dateTimeOriginal}\0`, 130, 'latin1');
  return b.subarray(0, 160);
}

/** A JPEG-shaped file: SOI, APP0, APP1 Exif, SOS and `bodySize` bytes of pseudo image data. */
export function makeJpeg(date: string | undefined, bodySize = 1000, seed = 1): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  const app0 = Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1');
  parts.push(Buffer.from([0xff, 0xe0, (app0.length + 2) >> 8, (app0.length + 2) & 255]), app0);
  if (date) {
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), makeTiff(date, { le: true })]);
    parts.push(Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255]), body);
  }
  parts.push(Buffer.from([0xff, 0xda, 0, 2]), noise(bodySize, seed), Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

function box(type: string, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + payload.length, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, payload]);
}

function full(version: number, flags = 0): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE((version << 24) | flags, 0);
  return b;
}

/** A HEIC-shaped ISO-BMFF file: ftyp, meta { hdlr, iinf { infe hvc1, infe Exif }, iloc }, mdat { exif, image }. */
export function makeHeic(date: string | undefined, bodySize = 1000, seed = 1): Buffer {
  const ftyp = box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
  const exifItem = date ? Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from('Exif\0\0', 'latin1'), makeTiff(date)]) : Buffer.alloc(0);
  const image = noise(bodySize, seed);
  const infe = (id: number, type: string): Buffer => {
    const b = Buffer.alloc(9);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(0, 2);
    b.write(type, 4, 'latin1');
    return box('infe', full(2), b); // name = '' (the NUL at b[8])
  };
  const items = date ? [infe(1, 'hvc1'), infe(2, 'Exif')] : [infe(1, 'hvc1')];
  const iinfCount = Buffer.alloc(2);
  iinfCount.writeUInt16BE(items.length, 0);
  const iinf = box('iinf', full(0), iinfCount, ...items);
  const hdlr = box('hdlr', full(0), Buffer.from('\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0', 'latin1'));
  // iloc v1, offset_size 4, length_size 4, base_offset_size 0, index_size 0
  const makeMeta = (mdatDataAt: number): Buffer => {
    const entries: Buffer[] = [];
    const add = (id: number, off: number, len: number): void => {
      const e = Buffer.alloc(2 + 2 + 2 + 2 + 8);
      e.writeUInt16BE(id, 0);
      e.writeUInt16BE(0, 2); // construction method 0
      e.writeUInt16BE(0, 4); // data reference index
      e.writeUInt16BE(1, 6); // extent count
      e.writeUInt32BE(off, 8);
      e.writeUInt32BE(len, 12);
      entries.push(e);
    };
    add(1, mdatDataAt + exifItem.length, image.length);
    if (date) add(2, mdatDataAt, exifItem.length);
    const head = Buffer.from([0x44, 0x00, 0, entries.length]);
    return box('meta', full(0), hdlr, iinf, box('iloc', full(1), head, ...entries));
  };
  const metaLen = makeMeta(0).length;
  const meta = makeMeta(ftyp.length + metaLen + 8);
  return Buffer.concat([ftyp, meta, box('mdat', exifItem, image)]);
}

/** Deterministic pseudo-random bytes. */
export function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 255;
  }
  return b;
}

/** A QuickTime movie with an mvhd time (seconds since 1904, v1 when above 32 bits) and an optional creationdate. */
export function makeMovie(mvhdSecs: number, creation?: string): Buffer {
  const v1 = mvhdSecs > 0xffffffff;
  const mvhd = Buffer.alloc(v1 ? 112 : 100);
  mvhd[0] = v1 ? 1 : 0;
  if (v1) {
    mvhd.writeUInt32BE(Math.floor(mvhdSecs / 2 ** 32), 4);
    mvhd.writeUInt32BE(mvhdSecs % 2 ** 32, 8);
  } else mvhd.writeUInt32BE(mvhdSecs, 4);
  const children = [box('mvhd', mvhd)];
  if (creation !== undefined) {
    const hdlr = box('hdlr', Buffer.alloc(4), Buffer.from('\0\0\0\0mdta', 'latin1'), Buffer.alloc(13));
    const key = (name: string): Buffer => box('mdta', Buffer.from(name, 'latin1'));
    const keys = box('keys', Buffer.alloc(4), Buffer.from([0, 0, 0, 2]), key('com.apple.quicktime.make'), key('com.apple.quicktime.creationdate'));
    const item = (index: number, value: string): Buffer => {
      const b = box('data', Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), Buffer.from(value, 'utf8'));
      const h = Buffer.alloc(8);
      h.writeUInt32BE(8 + b.length, 0);
      h.writeUInt32BE(index, 4);
      return Buffer.concat([h, b]);
    };
    children.push(box('meta', hdlr, keys, box('ilst', item(1, 'Apple'), item(2, creation))));
  }
  return Buffer.concat([box('ftyp', Buffer.from('qt  \0\0\0\0qt  ', 'latin1')), box('mdat', Buffer.alloc(64, 7)), box('moov', ...children)]);
}
