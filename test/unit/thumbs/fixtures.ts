/**
 * Decodable media for thumbnail tests, made on the fly (nothing binary in git): JPEGs from the emulator's own
 * encoder with or without an EXIF IFD1 thumbnail, HEICs from Debian's heif-enc (libheif-examples), and a minimal
 * QuickTime movie around an HEVC picture (the primary image of such a HEIC) to stand in for an iPhone video.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeJpeg } from '../../../src/virtual-iphone/media/jpeg-encode.ts';
import { renderScene } from '../../../src/virtual-iphone/media/scenes.ts';
import { itemData, parseHeifMeta } from '../../../src/thumbs/heif.ts';
import { boxes, View } from '../../../src/thumbs/bmff.ts';

/** A TIFF block (big-endian) with IFD0 Orientation and an IFD1 pointing at `thumb`. */
export function tiffWithThumbnail(thumb: Buffer | undefined, orientation = 1): Buffer {
  const ifd0 = Buffer.alloc(2 + 12 + 4);
  ifd0.writeUInt16BE(1, 0);
  ifd0.writeUInt16BE(0x0112, 2);
  ifd0.writeUInt16BE(3, 4); // SHORT
  ifd0.writeUInt32BE(1, 6);
  ifd0.writeUInt16BE(orientation, 10);
  const ifd1At = 8 + ifd0.length;
  ifd0.writeUInt32BE(thumb ? ifd1At : 0, 14);
  if (!thumb) return Buffer.concat([Buffer.from('MM\0*\0\0\0\x08', 'latin1'), ifd0]);
  const ifd1 = Buffer.alloc(2 + 3 * 12 + 4);
  const thumbAt = ifd1At + ifd1.length;
  ifd1.writeUInt16BE(3, 0);
  const entries: [number, number, number][] = [[0x0103, 3, 6], [0x0201, 4, thumbAt], [0x0202, 4, thumb.length]];
  entries.forEach(([tag, type, value], i) => {
    const e = 2 + i * 12;
    ifd1.writeUInt16BE(tag, e);
    ifd1.writeUInt16BE(type, e + 2);
    ifd1.writeUInt32BE(1, e + 4);
    if (type === 3) ifd1.writeUInt16BE(value, e + 8);
    else ifd1.writeUInt32BE(value, e + 8);
  });
  return Buffer.concat([Buffer.from('MM\0*\0\0\0\x08', 'latin1'), ifd0, ifd1, thumb]);
}

/** A scene as JPEG. */
export function sceneJpeg(seed: number, w: number, h: number, exifTiff?: Buffer): Buffer {
  return encodeJpeg(renderScene(seed, w, h), w, h, { quality: 85, ...(exifTiff ? { exifTiff } : {}) });
}

/** A 640×480 JPEG whose EXIF carries a 160×120 thumbnail of another scene (so the source is recognisable). */
export function jpegWithExifThumbnail(orientation = 1): { jpeg: Buffer; thumb: Buffer } {
  const thumb = sceneJpeg(2, 160, 120);
  return { jpeg: sceneJpeg(1, 640, 480, tiffWithThumbnail(thumb, orientation)), thumb };
}

/** heif-enc's HEIC of a scene (`thumb` > 0 adds a thmb item of that size). */
export function heifEncScene(seed: number, w: number, h: number, thumb: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'thumbs-heic-'));
  try {
    writeFileSync(join(dir, 'in.jpg'), sceneJpeg(seed, w, h));
    execFileSync('heif-enc', ['-q', '60', ...(thumb > 0 ? ['-t', String(thumb)] : []), '-o', join(dir, 'out.heic'), join(dir, 'in.jpg')], { stdio: 'ignore', timeout: 30_000 });
    return readFileSync(join(dir, 'out.heic'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + body.length, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, body]);
}
const full = (type: string, ...parts: Buffer[]): Buffer => box(type, Buffer.alloc(4), ...parts);
const u32 = (...v: number[]): Buffer => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
};

/**
 * A QuickTime movie with one video track of one HEVC sample: the primary picture of `heic` (its data and hvcC).
 * `rotate90` sets the tkhd matrix of a portrait recording. Layout: ftyp, mdat (the sample), moov at the end.
 */
export async function movieFromHeic(heic: Buffer, rotate90 = false): Promise<Buffer> {
  const v = new View(heic);
  const metaBox = boxes(v, 0, heic.length).find((b) => b.type === 'meta')!;
  const meta = parseHeifMeta(heic.subarray(metaBox.start, metaBox.end));
  const props = (meta.assoc.get(meta.primary) ?? []).map((i) => meta.props[i - 1]!);
  const hvcC = props.find((p) => p.toString('latin1', 4, 8) === 'hvcC')!;
  const ispe = props.find((p) => p.toString('latin1', 4, 8) === 'ispe')!;
  const width = ispe.readUInt32BE(12);
  const height = ispe.readUInt32BE(16);
  const frame = await itemData(async (o, l) => heic.subarray(o, o + l), meta, meta.primary, 1 << 24);
  const ftyp = box('ftyp', Buffer.from('qt  \0\0\0\0qt  ', 'latin1'));
  const mdat = box('mdat', frame);
  const frameAt = ftyp.length + 8;
  const one = 0x10000;
  const matrix = rotate90 ? [0, one, 0, -one, 0, 0, 0, 0, 0x40000000] : [one, 0, 0, 0, one, 0, 0, 0, 0x40000000];
  const tkhd = full('tkhd', u32(0, 0, 1, 0, 600), Buffer.alloc(8), Buffer.alloc(8), u32(...matrix), u32(width << 16, height << 16));
  const mvhd = full('mvhd', u32(0, 0, 600, 1200, 0x10000), Buffer.from([1, 0]), Buffer.alloc(10), u32(one, 0, 0, 0, one, 0, 0, 0, 0x40000000), Buffer.alloc(24), u32(2));
  const entry = Buffer.alloc(78);
  entry.writeUInt16BE(1, 6); // data_reference_index
  entry.writeUInt16BE(width, 24);
  entry.writeUInt16BE(height, 26);
  entry.writeUInt32BE(0x00480000, 28);
  entry.writeUInt32BE(0x00480000, 32);
  entry.writeUInt16BE(1, 40); // frame count
  entry.writeUInt16BE(24, 74); // depth
  entry.writeInt16BE(-1, 76);
  const stsd = full('stsd', u32(1), box('hvc1', entry, hvcC));
  const stbl = box('stbl', stsd, full('stts', u32(1, 1, 600)), full('stss', u32(1, 1)), full('stsc', u32(1, 1, 1, 1)), full('stsz', u32(0, 1, frame.length)), full('stco', u32(1, frameAt)));
  const hdlr = full('hdlr', u32(0), Buffer.from('vide', 'latin1'), Buffer.alloc(12), Buffer.from([0]));
  const trak = box('trak', tkhd, box('mdia', full('mdhd', u32(0, 0, 600, 1200), Buffer.alloc(4)), hdlr, box('minf', full('vmhd', Buffer.alloc(8)), stbl)));
  return Buffer.concat([ftyp, mdat, box('moov', mvhd, trak)]);
}
