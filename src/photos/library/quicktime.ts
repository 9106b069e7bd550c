/**
 * The Live Photo content identifier of a QuickTime movie: the metadata item
 * `com.apple.quicktime.content.identifier` (AVFoundation's quickTimeMetadataContentIdentifier) in
 * `moov/meta` (also looked for in `moov/udta/meta` and `moov/trak/meta`).
 *
 * Atom layout (Apple QTFF "Metadata atoms and types"; facts only):
 * ```
 * meta  container (QuickTime) — or a FullBox with 4 version/flags bytes (ISO-BMFF): detected by peeking
 *  ├ hdlr  ver/flags(4) predefined(4) handler_type(4) = 'mdta' …
 *  ├ keys  ver/flags(4) entry_count u32, entries: key_size u32 (incl. these 8 bytes) namespace(4) = 'mdta' key(UTF-8)
 *  └ ilst  children typed by the 1-based key index (u32), each holding 'data' atoms:
 *          data: size(4) 'data'(4) type u32 (byte 0 = 0; 1 = UTF-8) locale u32 value…
 * ```
 * Big-endian; size 1 = 64-bit largesize, size 0 = to the end. In iPhone movies `moov` usually follows
 * `mdat`, and Live Photo videos read over AFC may start with `wide`/`mdat` and no `ftyp`: the top-level walk
 * reads only 16-byte headers and the children of `moov` (never `mdat`). Caps: 64 top-level atoms, 256 children
 * of moov, a meta atom of at most 1 MiB, 1024 keys.
 */
import { Bytes, childBoxes, topLevelBoxes, type BoxHeader, type RandomReader } from './bytes.ts';
import { MediaFormatError } from './errors.ts';
import { normaliseContentId } from './makernote.ts';

export const CONTENT_ID_KEY = 'com.apple.quicktime.content.identifier';
const MAX_TOP = 64;
const MAX_MOOV_CHILDREN = 256;
const MAX_META = 1024 * 1024;
const MAX_KEYS = 1024;
/** Container atoms below moov that may hold a meta atom. */
const META_PARENTS = new Set(['udta', 'trak']);
const MAX_PARENT = 4 * 1024 * 1024;

/** Offset of the first child of a `meta` atom: QuickTime's is a plain container, ISO-BMFF's a FullBox. */
function metaChildStart(v: Bytes, meta: BoxHeader): number {
  if (meta.body + 12 <= meta.end && v.u32(meta.body) === 0) {
    const t = v.latin1(meta.body + 8, 4);
    if (t === 'hdlr' || t === 'keys' || t === 'ilst') return meta.body + 4;
  }
  return meta.body;
}

/**
 * The content identifier in a `meta` atom (the buffer holds the whole atom from its header), or undefined.
 * @throws MediaFormatError (ERR_PHOTOS_MEDIA) when malformed or over a cap
 */
export function contentIdFromMeta(buf: Buffer): string | undefined {
  const v = new Bytes(buf, 'quicktime');
  const meta = childBoxes(v, 0, buf.length, 1)[0];
  if (!meta || meta.type !== 'meta') throw v.fail('not a meta atom', 0);
  const kids = childBoxes(v, metaChildStart(v, meta), meta.end, MAX_TOP);
  const hdlr = kids.find((b) => b.type === 'hdlr');
  if (hdlr && v.latin1(hdlr.body + 8, 4) !== 'mdta') return undefined; // not the mdta key/value form
  const keys = kids.find((b) => b.type === 'keys');
  const ilst = kids.find((b) => b.type === 'ilst');
  if (!keys || !ilst) return undefined;
  const count = v.u32(keys.body + 4);
  if (count > MAX_KEYS) throw v.fail(`${count} metadata keys`, keys.body + 4);
  let index = 0;
  for (let i = 1, p = keys.body + 8; i <= count; i++) {
    const size = v.u32(p);
    if (size < 8 || p + size > keys.end) throw v.fail('metadata key overruns keys', p);
    if (v.latin1(p + 4, 4) === 'mdta' && v.buf.toString('utf8', p + 8, p + size) === CONTENT_ID_KEY) {
      index = i;
      break;
    }
    p += size;
  }
  if (index === 0) return undefined;
  for (const item of childBoxes(v, ilst.body, ilst.end, MAX_KEYS * 4)) {
    if (v.u32(item.start + 4) !== index) continue;
    for (const data of childBoxes(v, item.body, item.end, 16)) {
      if (data.type !== 'data' || data.end - data.body < 8) continue;
      const type = v.u32(data.body);
      if (type >>> 24 !== 0 || (type & 0xffffff) !== 1) continue; // well-known type 1 = UTF-8
      return normaliseContentId(v.buf.toString('utf8', data.body + 8, data.end));
    }
  }
  return undefined;
}

/**
 * The content identifier of a QuickTime/MP4 movie read through `read`, or undefined when it has none.
 * Works whether or not the file starts with `ftyp`. @throws MediaFormatError (ERR_PHOTOS_MEDIA)
 */
export async function readMovieContentId(read: RandomReader, fileSize: number): Promise<string | undefined> {
  const moov = (await topLevelBoxes(read, fileSize, 'quicktime', MAX_TOP)).find((b) => b.type === 'moov');
  if (!moov) return undefined;
  const metas: BoxHeader[] = [];
  const parents: BoxHeader[] = [];
  for (let p = moov.body, n = 0; p + 8 <= moov.end; n++) {
    if (n >= MAX_MOOV_CHILDREN) throw new MediaFormatError('quicktime', `more than ${MAX_MOOV_CHILDREN} atoms in moov`, p);
    const head = await read(p, 16);
    if (head.length < 8) break;
    const v = new Bytes(head, 'quicktime');
    let size = v.u32(0);
    const type = v.latin1(4, 4);
    if (size === 1) size = v.uN(8, 8);
    else if (size === 0) size = moov.end - p;
    if (size < 8 || p + size > moov.end) throw v.fail(`atom ${JSON.stringify(type)} overruns moov`, p);
    if (type === 'meta') metas.push({ type, start: p, body: p + 8, end: p + size });
    else if (META_PARENTS.has(type)) parents.push({ type, start: p, body: p + 8, end: p + size });
    p += size;
  }
  const tryMeta = async (m: BoxHeader): Promise<string | undefined> => {
    if (m.end - m.start > MAX_META) throw new MediaFormatError('quicktime', `meta atom of ${m.end - m.start} bytes`, m.start);
    return contentIdFromMeta(await read(m.start, m.end - m.start));
  };
  for (const m of metas) {
    const id = await tryMeta(m);
    if (id) return id;
  }
  for (const parent of parents) {
    if (parent.end - parent.start > MAX_PARENT) continue; // a track with a huge sample table: not where Live ids live
    const buf = await read(parent.start, parent.end - parent.start);
    const v = new Bytes(buf, 'quicktime');
    for (const m of childBoxes(v, 8, buf.length, MAX_MOOV_CHILDREN).filter((b) => b.type === 'meta')) {
      if (m.end - m.start > MAX_META) continue;
      const id = contentIdFromMeta(buf.subarray(m.start, m.end));
      if (id) return id;
    }
  }
  return undefined;
}
