/**
 * Capture date of a QuickTime/MP4 movie (pure over a random-access reader). Two sources, in order of preference:
 * - `moov/meta` (QuickTime metadata: 'hdlr' mdta, 'keys', 'ilst') key `com.apple.quicktime.creationdate`, an ISO 8601
 *   text "YYYY-MM-DDTHH:MM:SS±HHMM" that iPhones write: its wall-time part is the camera's local time;
 * - `moov/mvhd` creation time: seconds since 1904-01-01 UTC (0 = unset), shown in this computer's time zone.
 * Only box headers, the mvhd and a bounded 'meta' box are read. Candidates are checked by the caller (capture-date.ts).
 */
import { wallTimeOf, type DateCandidate } from './capture-date.ts';
import { MAX_TOP_BOXES, View, bad, boxes, type Box, type RandomReader } from './media-view.ts';

/** Seconds from 1904-01-01 (QuickTime epoch) to 1970-01-01. */
const QT_EPOCH = 2_082_844_800;

/** Largest moov/meta box read (bytes); a bigger one is skipped. */
const MAX_MOVIE_META = 1024 * 1024;

const CREATION_KEY = 'com.apple.quicktime.creationdate';

/** Date candidates of a movie: creationdate first, then mvhd. @throws ProtocolError (ERR_PROTOCOL) for malformed boxes */
export async function movieCandidates(read: RandomReader, fileSize: number): Promise<DateCandidate[]> {
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
    if (type === 'moov') return await moovCandidates(read, body, Math.min(off + size, fileSize));
    off += size;
  }
  return [];
}

async function moovCandidates(read: RandomReader, body: number, end: number): Promise<DateCandidate[]> {
  let mvhd: DateCandidate | undefined;
  let created: DateCandidate | undefined;
  for (let p = body, k = 0; p + 8 <= end && k < MAX_TOP_BOXES; k++) {
    const c = new View(await read(p, 28));
    const csize = c.u32(0);
    if (csize < 8) throw bad('child box smaller than its header', p);
    const type = c.str(4, 4);
    if (type === 'mvhd' && !mvhd) mvhd = mvhdCandidate(c);
    else if (type === 'meta' && !created && csize <= MAX_MOVIE_META && p + csize <= end) {
      const buf = await read(p, csize);
      if (buf.length === csize) created = creationDate(new View(buf));
    }
    p += csize;
  }
  return [created, mvhd].filter((x): x is DateCandidate => x !== undefined);
}

/** The mvhd creation time (from the first 28 bytes of the box), undefined when unset (0). */
function mvhdCandidate(c: View): DateCandidate | undefined {
  const version = c.u8(8);
  const secs = version === 1 ? c.u32(12) * 2 ** 32 + c.u32(16) : c.u32(12);
  if (secs === 0) return undefined;
  const wall = wallTimeOf((secs - QT_EPOCH) * 1000);
  return { source: 'QuickTime mvhd creation time', wall, raw: `${secs} s since 1904`, ...(wall === undefined ? { problem: 'out of range' } : {}) };
}

/** The creationdate item of a QuickTime 'meta' box (the whole box in `v`), or undefined. */
function creationDate(v: View): DateCandidate | undefined {
  const [meta] = boxes(v, 0, v.buf.length);
  if (!meta) return undefined;
  // QuickTime's 'meta' has no version/flags; ISO's (MP4) does: look for a known child type at either start.
  const plain = meta.body + 8 <= meta.end && ['hdlr', 'keys', 'ilst'].includes(v.str(meta.body + 4, 4));
  const children = boxes(v, plain ? meta.body : meta.body + 4, meta.end);
  const keys = children.find((b) => b.type === 'keys');
  const ilst = children.find((b) => b.type === 'ilst');
  if (!keys || !ilst) return undefined;
  const index = keyIndex(v, keys, CREATION_KEY);
  if (index === undefined) return undefined;
  for (const item of boxes(v, ilst.body, ilst.end)) {
    if (Buffer.from(item.type, 'latin1').readUInt32BE(0) !== index) continue; // the item's type is its key index
    const data = boxes(v, item.body, item.end).find((b) => b.type === 'data');
    if (!data || data.end - data.body < 8) return undefined;
    const raw = v.buf.toString('utf8', data.body + 8, Math.min(data.end, data.body + 8 + 64));
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(raw);
    return { source: `QuickTime ${CREATION_KEY}`, wall: m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : undefined, raw };
  }
  return undefined;
}

/** 1-based index of `name` in a 'keys' box (full box: version/flags, u32 count, {u32 size, 4cc namespace, name}). */
function keyIndex(v: View, keys: Box, name: string): number | undefined {
  const count = v.u32(keys.body + 4);
  let p = keys.body + 8;
  for (let i = 1; i <= count && p + 8 <= keys.end; i++) {
    const size = v.u32(p);
    if (size < 8 || p + size > keys.end) throw bad('keys entry overruns its box', p);
    if (v.str(p + 4, 4) === 'mdta' && v.str(p + 8, size - 8) === name) return i;
    p += size;
  }
  return undefined;
}
