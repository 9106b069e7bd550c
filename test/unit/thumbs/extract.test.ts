/**
 * Thumbnail extractors on bytes: the emulator's JPEG encoder decodes (sharp as the oracle), EXIF IFD1 thumbnails
 * in JPEG are found byte-exactly with their orientation, hostile EXIF never throws, the one-item HEIC wrapper and
 * the HEIF meta parser agree, and malformed boxes give ProtocolError (never RangeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sharp from 'sharp';
import { IDeviceError } from '../../../src/core/errors.ts';
import { exifOrientation, exifThumbnail, jpegExifTiff } from '../../../src/thumbs/exif-thumb.ts';
import { boxes, View } from '../../../src/thumbs/bmff.ts';
import { ispeBox, singleItemHeic } from '../../../src/thumbs/heic-wrap.ts';
import { itemData, parseHeifMeta } from '../../../src/thumbs/heif.ts';
import { thumbFromEncoded } from '../../../src/thumbs/decode.ts';
import { encodeJpeg } from '../../../src/virtual-iphone/media/jpeg-encode.ts';
import { renderScene } from '../../../src/virtual-iphone/media/scenes.ts';
import { storeThumbnail } from '../../../src/virtual-iphone/thumbnail-store.ts';
import { jpegWithExifThumbnail, sceneJpeg, tiffWithThumbnail } from './fixtures.ts';

test('jpeg-encode: odd sizes and qualities decode to the pixels encoded (mean error within what the quality allows)', async () => {
  for (const [w, h, q] of [[160, 120, 85], [33, 17, 50], [1, 1, 90], [203, 77, 20]] as const) {
    const rgb = renderScene(w * 7 + h, w, h);
    const jpg = encodeJpeg(rgb, w, h, { quality: q });
    const { data, info } = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [w, h, 3]);
    let err = 0;
    for (let i = 0; i < data.length; i++) err += Math.abs(data[i]! - rgb[i]!);
    assert.ok(err / data.length < (q >= 80 ? 3 : q >= 50 ? 7 : 10), `${w}×${h} q${q}: mean error ${err / data.length}`); // a wrong encoder is off by tens
  }
  assert.deepEqual(storeThumbnail('DCIM/100APPLE/IMG_0001.HEIC'), storeThumbnail('DCIM/100APPLE/IMG_0001.HEIC'), 'deterministic');
  assert.throws(() => encodeJpeg(new Uint8Array(5), 2, 2), RangeError);
});

test('EXIF IFD1: the thumbnail JPEG is found byte-exactly, with IFD0 orientation', () => {
  const { jpeg, thumb } = jpegWithExifThumbnail(6);
  const tiff = jpegExifTiff(jpeg.subarray(0, 128 * 1024));
  assert.ok(tiff);
  const t = exifThumbnail(tiff);
  assert.ok(t);
  assert.ok(t.jpeg.equals(thumb));
  assert.equal(t.orientation, 6);
  assert.equal(exifOrientation(tiff), 6);
  assert.equal(exifThumbnail(tiffWithThumbnail(undefined, 3)), undefined, 'no IFD1');
  assert.equal(jpegExifTiff(sceneJpeg(1, 16, 16)), undefined, 'no APP1');
  assert.equal(jpegExifTiff(Buffer.from('not a jpeg')), undefined);
});

test('EXIF IFD1: random corruption of the TIFF block never throws', () => {
  const { thumb } = jpegWithExifThumbnail(1);
  const base = tiffWithThumbnail(thumb.subarray(0, 200), 1);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { maxLength: 8 }), fc.nat(base.length), (edits, cut) => {
      const b = Buffer.from(base.subarray(0, cut));
      for (const [i, v] of edits) if (i < b.length) b[i] = v;
      const t = exifThumbnail(b);
      if (t) assert.ok(t.jpeg[0] === 0xff && t.jpeg[1] === 0xd8);
      const o = exifOrientation(b);
      assert.ok(o >= 1 && o <= 8);
      jpegExifTiff(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0, 0]), b]));
    }),
    { numRuns: 300, seed: 15 },
  );
});

test('orientation is applied: a 160×120 thumbnail with orientation 6 comes out portrait', async () => {
  const { thumb } = jpegWithExifThumbnail(6);
  const out = await thumbFromEncoded(thumb, 'test', 6);
  const m = await sharp(out).metadata();
  assert.deepEqual([m.width, m.height], [120, 160]);
  const plain = await sharp(await thumbFromEncoded(sceneJpeg(3, 1024, 768), 'big')).metadata();
  assert.deepEqual([plain.width, plain.height], [256, 192], 'scaled to fit 256');
});

test('one-item HEIC wrapper round-trips through the HEIF meta parser', async () => {
  const hvcC = Buffer.concat([Buffer.from([0, 0, 0, 12]), Buffer.from('hvcC', 'latin1'), Buffer.from([1, 2, 3, 4])]);
  const data = Buffer.from('coded picture bytes');
  const heic = singleItemHeic([hvcC, ispeBox(320, 240)], data);
  const v = new View(heic);
  const top = boxes(v, 0, heic.length);
  assert.deepEqual(top.map((b) => b.type), ['ftyp', 'meta', 'mdat']);
  const metaBox = top[1]!;
  const meta = parseHeifMeta(heic.subarray(metaBox.start, metaBox.end));
  assert.equal(meta.primary, 1);
  assert.equal(meta.items.get(1)?.type, 'hvc1');
  assert.deepEqual(meta.assoc.get(1), [1, 2]);
  assert.ok(meta.props[0]!.equals(hvcC));
  const got = await itemData(async (o, l) => heic.subarray(o, o + l), meta, 1, 1 << 20);
  assert.ok(got.equals(data));
});

test('HEIF meta parser: truncated or mutated boxes give ProtocolError, never RangeError', () => {
  const heic = singleItemHeic([ispeBox(1, 1)], Buffer.alloc(10));
  const v = new View(heic);
  const m = boxes(v, 0, heic.length)[1]!;
  const meta = heic.subarray(m.start, m.end);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(meta.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(meta.length), (edits, cut) => {
      const b = Buffer.from(meta.subarray(0, Math.max(8, cut)));
      for (const [i, x] of edits) if (i < b.length) b[i] = x;
      try {
        parseHeifMeta(b);
      } catch (e) {
        assert.ok(e instanceof IDeviceError && e.code === 'ERR_PROTOCOL', String(e));
      }
    }),
    { numRuns: 400, seed: 15 },
  );
});
