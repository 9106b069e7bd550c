/**
 * A poster frame for QuickTime/MP4 videos without a video decoder of our own: the first sync sample of the
 * video track, when it is HEVC (`hvc1`/`hev1`, what iPhones record by default), wrapped with the track's
 * `hvcC` as a one-item HEIC (heic-wrap.ts) for the HEIF decoder. H.264 (`avc1`, the "Most Compatible" setting)
 * is reported but not decoded here. Also the duration (mvhd) for the video label.
 *
 * moov/trak(hdlr 'vide')/mdia/minf/stbl: stsd (sample entry: 78 bytes of visual fields, width at +24, height
 * at +26, then child boxes such as hvcC), stss (sync samples, 1-based; absent = all are sync), stsz (sizes),
 * stsc (chunk runs: first_chunk, samples_per_chunk), stco/co64 (chunk offsets). tkhd's matrix gives the
 * display rotation, passed on as an `irot` property. Caps: moov ≤ 32 MiB, the frame ≤ 8 MiB.
 */
import { bad, boxes, child, topLevelBoxes, View, type Box, type RandomReader } from './bmff.ts';
import { ispeBox, singleItemHeic } from './heic-wrap.ts';

const MAX_MOOV = 32 * 1024 * 1024;
const MAX_FRAME = 8 * 1024 * 1024;
const MAX_CHUNK_WALK = 1_000_000;

/** What {@link readMovie} found. */
export interface MovieInfo {
  /** Seconds, from mvhd. */
  durationS?: number;
  /** Sample-entry type of the first video track ('hvc1', 'hev1', 'avc1', …). */
  codec?: string;
  width?: number;
  height?: number;
  /** The first key frame as a one-item HEIC (HEVC tracks only). */
  heic?: Buffer;
}

/**
 * Reads the movie header and, for HEVC, the first key frame.
 * @throws ProtocolError (ERR_PROTOCOL) when there is no moov box, it is too large, or it does not parse
 */
export async function readMovie(read: RandomReader, fileSize: number): Promise<MovieInfo> {
  const moovAt = (await topLevelBoxes(read, fileSize)).find((b) => b.type === 'moov');
  if (!moovAt) throw bad('no moov box');
  if (moovAt.size > MAX_MOOV) throw bad(`moov box of ${moovAt.size} bytes`);
  const buf = await read(moovAt.start, moovAt.size);
  if (buf.length !== moovAt.size) throw bad('moov box cut short');
  const v = new View(buf);
  const [moov] = boxes(v, 0, buf.length, 1);
  if (!moov) throw bad('no moov box');
  const out: MovieInfo = {};
  const mvhd = child(v, moov, 'mvhd');
  if (mvhd) {
    const ver = v.u8(mvhd.body);
    const scale = v.u32(mvhd.body + (ver === 1 ? 20 : 12));
    const dur = ver === 1 ? v.uN(mvhd.body + 24, 8) : v.u32(mvhd.body + 16);
    if (scale > 0) out.durationS = dur / scale;
  }
  for (const trak of boxes(v, moov.body, moov.end).filter((b) => b.type === 'trak')) {
    const mdia = child(v, trak, 'mdia');
    const hdlr = mdia && child(v, mdia, 'hdlr');
    if (!mdia || !hdlr || v.str(hdlr.body + 8, 4) !== 'vide') continue;
    const minf = child(v, mdia, 'minf');
    const stbl = minf && child(v, minf, 'stbl');
    const stsd = stbl && child(v, stbl, 'stsd');
    if (!stbl || !stsd) continue;
    const [entry] = boxes(v, stsd.body + 8, stsd.end, 16);
    if (!entry) continue;
    out.codec = entry.type;
    out.width = v.u16(entry.body + 24);
    out.height = v.u16(entry.body + 26);
    if (entry.type !== 'hvc1' && entry.type !== 'hev1') return out;
    const hvcC = boxes(v, entry.body + 78, entry.end).find((b) => b.type === 'hvcC');
    if (!hvcC) return out;
    const at = keyFrameLocation(v, stbl);
    if (at.size > MAX_FRAME || at.offset + at.size > fileSize) throw bad(`key frame of ${at.size} bytes at ${at.offset}`);
    const frame = await read(at.offset, at.size);
    if (frame.length !== at.size) throw bad('key frame cut short');
    const props = [v.slice(hvcC.start, hvcC.end - hvcC.start), ispeBox(out.width, out.height)];
    const irot = rotationOf(v, child(v, trak, 'tkhd'));
    if (irot) props.push(Buffer.from([0, 0, 0, 9, 0x69, 0x72, 0x6f, 0x74, irot])); // 'irot' box: angle × 90° anticlockwise
    out.heic = singleItemHeic(props, frame);
    return out;
  }
  return out;
}

/** File offset and size of the first sync sample of a track. */
function keyFrameLocation(v: View, stbl: Box): { offset: number; size: number } {
  const stss = child(v, stbl, 'stss');
  const sync = stss && v.u32(stss.body + 4) > 0 ? v.u32(stss.body + 8) : 1;
  const stsz = child(v, stbl, 'stsz');
  const stsc = child(v, stbl, 'stsc');
  const stco = child(v, stbl, 'stco') ?? child(v, stbl, 'co64');
  if (!stsz || !stsc || !stco || sync < 1) throw bad('video track without sample tables');
  const fixed = v.u32(stsz.body + 4);
  const sampleSize = (n: number): number => fixed || v.u32(stsz.body + 12 + (n - 1) * 4);
  const wide = stco.type === 'co64';
  const nChunks = v.u32(stco.body + 4);
  const chunkOffset = (c: number): number => (wide ? v.uN(stco.body + 8 + (c - 1) * 8, 8) : v.u32(stco.body + 8 + (c - 1) * 4));
  const runs = v.u32(stsc.body + 4);
  let sample = 1;
  let walked = 0;
  for (let r = 0; r < runs; r++) {
    const first = v.u32(stsc.body + 8 + r * 12);
    const per = v.u32(stsc.body + 12 + r * 12);
    const last = r + 1 < runs ? v.u32(stsc.body + 8 + (r + 1) * 12) - 1 : nChunks;
    for (let c = first; c <= last; c++) {
      if (++walked > MAX_CHUNK_WALK) throw bad('sample tables too long');
      if (sync < sample + per) {
        let off = chunkOffset(c);
        for (let s = sample; s < sync; s++) off += sampleSize(s);
        return { offset: off, size: sampleSize(sync) };
      }
      sample += per;
    }
  }
  throw bad(`sync sample ${sync} not in any chunk`);
}

/** tkhd matrix → irot angle (anticlockwise quarter turns), 0 for none or anything but a pure rotation. */
function rotationOf(v: View, tkhd: Box | undefined): number {
  if (!tkhd) return 0;
  const m = tkhd.body + (v.u8(tkhd.body) === 1 ? 52 : 40);
  const s32 = (o: number): number => v.u32(o) | 0;
  const a = s32(m), b = s32(m + 4), c = s32(m + 12), d = s32(m + 16);
  const one = 0x10000;
  if (a === 0 && b === one && c === -one && d === 0) return 3; // displayed 90° clockwise
  if (a === -one && b === 0 && c === 0 && d === -one) return 2;
  if (a === 0 && b === -one && c === one && d === 0) return 1; // 90° anticlockwise
  return 0;
}
