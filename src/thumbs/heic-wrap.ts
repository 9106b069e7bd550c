/**
 * Builds a minimal one-image HEIC around one HEVC-coded picture, so a HEIF decoder can decode an embedded
 * thumbnail item or a video key frame on its own (pure, no I/O):
 * ```
 * ftyp heic [mif1 heic]
 * meta v0: hdlr 'pict' | pitm 1 | iloc v0 (4-byte offset/length, 1 extent → mdat body) | iinf (infe v2 #1 'hvc1')
 *          | iprp: ipco (the given property boxes, e.g. hvcC + ispe [+ irot]) + ipma (item 1 → all of them)
 * mdat: the coded picture (length-prefixed NAL units, as both HEIF items and MP4/MOV samples store them)
 * ```
 */

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, Buffer.from([version, (flags >> 16) & 255, (flags >> 8) & 255, flags & 255]), ...parts);
}

/** An `ispe` property (image spatial extents). */
export function ispeBox(width: number, height: number): Buffer {
  return fullBox('ispe', 0, 0, u32(width), u32(height));
}

/** One-item HEIC of `data` with the property boxes `props` (at most 127, each a whole box). */
export function singleItemHeic(props: readonly Buffer[], data: Buffer): Buffer {
  const n = Math.min(props.length, 127);
  const ftyp = box('ftyp', Buffer.from('heic', 'latin1'), u32(0), Buffer.from('mif1heic', 'latin1'));
  const meta = (mdatBodyAt: number): Buffer =>
    fullBox('meta', 0, 0,
      fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(13)),
      fullBox('pitm', 0, 0, u16(1)),
      fullBox('iloc', 0, 0, Buffer.from([0x44, 0x00]), u16(1), u16(1), u16(0), u16(1), u32(mdatBodyAt), u32(data.length)),
      fullBox('iinf', 0, 0, u16(1), fullBox('infe', 2, 0, u16(1), u16(0), Buffer.from('hvc1', 'latin1'), Buffer.from([0]))),
      box('iprp', box('ipco', ...props.slice(0, n)), fullBox('ipma', 0, 0, u32(1), u16(1), Buffer.from([n, ...Array.from({ length: n }, (_, i) => 0x80 | (i + 1))]))),
    );
  const metaLength = meta(0).length;
  return Buffer.concat([ftyp, meta(ftyp.length + metaLength + 8), box('mdat', data)]);
}
