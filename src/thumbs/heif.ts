/**
 * What the thumbnailer needs from a HEIF/HEIC file (ISO/IEC 23008-12), read through a random-access reader:
 * the items of the `meta` box (iinf), where their bytes are (iloc, incl. construction method 1 = idat), how they
 * are linked (iref: `thmb` thumbnail → primary, `cdsc` Exif → primary) and their properties (iprp: ipco + ipma).
 *
 * iPhone HEICs keep a ~320×240 HEVC thumbnail as a `thmb` item (hidden tiles + a `grid` primary + the thumbnail
 * + an Exif item). {@link heifThumbnail} returns that item as a standalone one-item HEIC (its bytes plus its own
 * `hvcC`/`ispe`/`irot`… properties) that a HEVC decoder turns into pixels in milliseconds, or the bytes
 * themselves when the thumbnail item is a JPEG. Caps: meta box ≤ 4 MiB, any item read ≤ `maxItem` bytes.
 */
import { bad, boxes, child, topLevelBoxes, View, type Box, type RandomReader } from './bmff.ts';
import { singleItemHeic } from './heic-wrap.ts';

const MAX_META = 4 * 1024 * 1024;
const MAX_ITEMS = 10_000;

export interface HeifItem {
  id: number;
  type: string;
  hidden: boolean;
  /** 0 = file offsets, 1 = offsets into the idat box. */
  method: number;
  extents: { offset: number; length: number }[];
}

export interface HeifMeta {
  primary: number;
  items: Map<number, HeifItem>;
  refs: { type: string; from: number; to: number[] }[];
  /** The ipco child boxes, raw (property index i is props[i - 1]). */
  props: Buffer[];
  /** item id → property indices (1-based, essential bit removed), in order. */
  assoc: Map<number, number[]>;
  /** The idat body, when present. */
  idat?: Buffer;
}

/** True when the first bytes are an ISO-BMFF `ftyp` with a HEIF/AVIF brand. */
export function isHeif(head: Buffer): boolean {
  if (head.length < 12 || head.toString('latin1', 4, 8) !== 'ftyp') return false;
  const brands = head.toString('latin1', 8, Math.min(head.length, 8 + head.readUInt32BE(0) - 8));
  return /heic|heix|hevc|heim|heis|mif1|msf1|avif/.test(brands);
}

/**
 * Reads and parses the top-level `meta` box.
 * @throws ProtocolError (ERR_PROTOCOL) when there is none, it is over 4 MiB, or it does not parse
 */
export async function readHeifMeta(read: RandomReader, fileSize: number): Promise<HeifMeta> {
  const meta = (await topLevelBoxes(read, fileSize)).find((b) => b.type === 'meta');
  if (!meta) throw bad('no meta box');
  if (meta.size > MAX_META) throw bad(`meta box of ${meta.size} bytes`);
  const buf = await read(meta.start, meta.size);
  if (buf.length !== meta.size) throw bad('meta box cut short');
  return parseHeifMeta(buf);
}

/** Parses a whole `meta` box (header included). */
export function parseHeifMeta(buf: Buffer): HeifMeta {
  const v = new View(buf);
  const [metaBox] = boxes(v, 0, buf.length, 1);
  if (!metaBox || metaBox.type !== 'meta') throw bad('not a meta box');
  const kids = boxes(v, metaBox.body + 4, metaBox.end);
  const get = (t: string): Box | undefined => kids.find((k) => k.type === t);
  const pitm = get('pitm');
  if (!pitm) throw bad('no pitm');
  const primary = v.u8(pitm.body) === 0 ? v.u16(pitm.body + 4) : v.u32(pitm.body + 4);
  const items = new Map<number, HeifItem>();
  const iinf = get('iinf');
  if (!iinf) throw bad('no iinf');
  const iinfV = v.u8(iinf.body);
  for (const infe of boxes(v, iinf.body + 4 + (iinfV === 0 ? 2 : 4), iinf.end, MAX_ITEMS)) {
    if (infe.type !== 'infe') continue;
    const ver = v.u8(infe.body);
    if (ver < 2) continue; // v0/v1 entries carry no item type
    const q = infe.body + 4;
    const id = ver === 2 ? v.u16(q) : v.u32(q);
    const typeAt = q + (ver === 2 ? 4 : 6);
    items.set(id, { id, type: v.str(typeAt, 4), hidden: (v.u8(infe.body + 3) & 1) === 1, method: 0, extents: [] });
  }
  const iloc = get('iloc');
  if (!iloc) throw bad('no iloc');
  parseIloc(v, iloc, items);
  const refs: HeifMeta['refs'] = [];
  const iref = get('iref');
  if (iref) {
    const w = v.u8(iref.body) === 0 ? 2 : 4;
    for (const r of boxes(v, iref.body + 4, iref.end, MAX_ITEMS)) {
      const from = v.uN(r.body, w);
      const n = v.u16(r.body + w);
      const to: number[] = [];
      for (let k = 0; k < n; k++) to.push(v.uN(r.body + w + 2 + k * w, w));
      refs.push({ type: r.type, from, to });
    }
  }
  const props: Buffer[] = [];
  const assoc = new Map<number, number[]>();
  const iprp = get('iprp');
  const ipco = iprp && child(v, iprp, 'ipco');
  if (iprp && ipco) {
    for (const p of boxes(v, ipco.body, ipco.end, MAX_ITEMS)) props.push(v.slice(p.start, p.end - p.start));
    for (const ipma of boxes(v, iprp.body, iprp.end).filter((b) => b.type === 'ipma')) parseIpma(v, ipma, assoc);
  }
  const idat = get('idat');
  return { primary, items, refs, props, assoc, ...(idat ? { idat: v.slice(idat.body, idat.end - idat.body) } : {}) };
}

function parseIloc(v: View, iloc: Box, items: Map<number, HeifItem>): void {
  const ver = v.u8(iloc.body);
  let p = iloc.body + 4;
  const sizes = v.u8(p);
  const sizes2 = v.u8(p + 1);
  const offSize = sizes >> 4;
  const lenSize = sizes & 15;
  const baseSize = sizes2 >> 4;
  const idxSize = ver >= 1 ? sizes2 & 15 : 0;
  p += 2;
  const count = ver < 2 ? v.u16(p) : v.u32(p);
  p += ver < 2 ? 2 : 4;
  if (count > MAX_ITEMS) throw bad(`iloc with ${count} items`);
  for (let i = 0; i < count; i++) {
    const id = ver < 2 ? v.u16(p) : v.u32(p);
    p += ver < 2 ? 2 : 4;
    let method = 0;
    if (ver >= 1) {
      method = v.u16(p) & 15;
      p += 2;
    }
    p += 2; // data_reference_index
    const base = v.uN(p, baseSize);
    p += baseSize;
    const extents = v.u16(p);
    p += 2;
    const list: { offset: number; length: number }[] = [];
    for (let k = 0; k < extents; k++) {
      p += idxSize;
      const offset = v.uN(p, offSize);
      p += offSize;
      const length = v.uN(p, lenSize);
      p += lenSize;
      list.push({ offset: base + offset, length });
    }
    const it = items.get(id);
    if (it) {
      it.method = method;
      it.extents = list;
    }
  }
}

function parseIpma(v: View, ipma: Box, assoc: Map<number, number[]>): void {
  const ver = v.u8(ipma.body);
  const wide = (v.u8(ipma.body + 3) & 1) === 1;
  let p = ipma.body + 4;
  const n = v.u32(p);
  p += 4;
  if (n > MAX_ITEMS) throw bad(`ipma with ${n} entries`);
  for (let i = 0; i < n; i++) {
    const id = ver < 1 ? v.u16(p) : v.u32(p);
    p += ver < 1 ? 2 : 4;
    const c = v.u8(p++);
    const list = assoc.get(id) ?? [];
    for (let k = 0; k < c; k++) {
      list.push(wide ? v.u16(p) & 0x7fff : v.u8(p) & 0x7f);
      p += wide ? 2 : 1;
    }
    assoc.set(id, list);
  }
}

/**
 * The bytes of one item (extents joined), at most `maxBytes`.
 * @throws ProtocolError when the item has no location, an extent of length 0 ("to the end"), or is too large
 */
export async function itemData(read: RandomReader, m: HeifMeta, id: number, maxBytes: number): Promise<Buffer> {
  const it = m.items.get(id);
  if (!it || it.extents.length === 0) throw bad(`item ${id} has no data`);
  const total = it.extents.reduce((a, e) => a + e.length, 0);
  if (total > maxBytes || it.extents.some((e) => e.length === 0)) throw bad(`item ${id} of ${total} bytes`);
  const parts: Buffer[] = [];
  for (const e of it.extents) {
    if (it.method === 1) {
      if (!m.idat || e.offset + e.length > m.idat.length) throw bad(`item ${id} outside idat`);
      parts.push(m.idat.subarray(e.offset, e.offset + e.length));
    } else if (it.method === 0) {
      const b = await read(e.offset, e.length);
      if (b.length !== e.length) throw bad(`item ${id} cut short`);
      parts.push(b);
    } else throw bad(`item ${id}: construction method ${it.method}`);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The TIFF block of the Exif item describing the primary image (HEIF Annex A: u32 offset to the TIFF header,
 * then "Exif\0\0" on iPhones), or undefined when there is none.
 */
export async function heifExifTiff(read: RandomReader, m: HeifMeta): Promise<Buffer | undefined> {
  const linked = m.refs.find((r) => r.type === 'cdsc' && r.to.includes(m.primary) && m.items.get(r.from)?.type === 'Exif');
  const item = linked ? m.items.get(linked.from) : [...m.items.values()].find((i) => i.type === 'Exif');
  if (!item) return undefined;
  const d = await itemData(read, m, item.id, 1024 * 1024);
  if (d.length < 8) return undefined;
  const at = 4 + d.readUInt32BE(0);
  const isTiff = (o: number): boolean => o + 4 <= d.length && (d.toString('latin1', o, o + 4) === 'II*\0' || d.toString('latin1', o, o + 4) === 'MM\0*');
  if (isTiff(at)) return d.subarray(at);
  for (let o = 4; o + 4 <= Math.min(d.length, 64); o += 2) if (isTiff(o)) return d.subarray(o); // writers that get the offset wrong
  return undefined;
}

/** The primary image's embedded thumbnail: a one-item HEIC to decode, or a JPEG as it is. */
export type HeifThumbnail = { kind: 'heic'; data: Buffer } | { kind: 'jpeg'; data: Buffer };

/** Largest thumbnail item read, bytes. */
const MAX_THUMB_ITEM = 2 * 1024 * 1024;

/** The `thmb` item of the primary image, if there is one of a supported kind (hvc1 or jpeg). */
export async function heifThumbnail(read: RandomReader, m: HeifMeta): Promise<HeifThumbnail | undefined> {
  const candidates = m.refs.filter((r) => r.type === 'thmb' && r.to.includes(m.primary)).map((r) => m.items.get(r.from)).filter((i) => i !== undefined);
  const item = candidates.find((i) => i.type === 'hvc1') ?? candidates.find((i) => i.type === 'jpeg');
  if (!item) return undefined;
  const data = await itemData(read, m, item.id, MAX_THUMB_ITEM);
  if (item.type === 'jpeg') return { kind: 'jpeg', data };
  const props = (m.assoc.get(item.id) ?? []).map((i) => m.props[i - 1]).filter((p) => p !== undefined);
  if (!props.some((p) => p.toString('latin1', 4, 8) === 'hvcC')) return undefined;
  return { kind: 'heic', data: singleItemHeic(props, data) };
}
