import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dateFromJpeg, dateFromTiff, readCaptureDate, type RandomReader } from '../../../src/photos/exif.ts';
import { ProtocolError } from '../../../src/core/errors.ts';
import { makeHeic, makeJpeg, makeTiff } from './media.ts';

function reader(buf: Buffer): RandomReader {
  return async (off, len) => buf.subarray(off, Math.min(buf.length, off + len));
}

test('exif: TIFF in both byte orders, DateTimeOriginal preferred over IFD0 DateTime', () => {
  assert.equal(dateFromTiff(makeTiff('2022:07:14 18:30:05', { le: true })), '2022-07-14T18:30:05');
  assert.equal(dateFromTiff(makeTiff('2022:07:14 18:30:05')), '2022-07-14T18:30:05');
  assert.equal(dateFromTiff(makeTiff('0000:00:00 00:00:00', { ifd0Date: '2019:02:03 04:05:06' })), '2019-02-03T04:05:06');
});

test('exif: JPEG and HEIC capture dates; none when absent; other formats undefined', async () => {
  const j = makeJpeg('2021:12:24 20:00:00', 5000);
  assert.equal(await readCaptureDate(reader(j), j.length), '2021-12-24T20:00:00');
  const h = makeHeic('2020:02:29 09:08:07', 5000);
  assert.equal(await readCaptureDate(reader(h), h.length), '2020-02-29T09:08:07');
  const hn = makeHeic(undefined, 100);
  assert.equal(await readCaptureDate(reader(hn), hn.length), undefined);
  const jn = makeJpeg(undefined, 100);
  assert.equal(await readCaptureDate(reader(jn), jn.length), undefined);
  const mov = Buffer.from('\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\0\x08free', 'latin1');
  assert.equal(await readCaptureDate(reader(mov), mov.length), undefined);
  assert.equal(await readCaptureDate(reader(Buffer.from('hello')), 5), undefined);
});

test('exif: every truncation of a JPEG/HEIC yields a date, undefined or ProtocolError — never RangeError', async () => {
  const j = makeJpeg('2021:12:24 20:00:00', 50);
  for (let n = 0; n < j.length; n++) {
    try {
      dateFromJpeg(j.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof ProtocolError, `cut ${n}: ${String(e)}`);
    }
  }
  const h = makeHeic('2020:02:29 09:08:07', 50);
  for (let n = 0; n < h.length; n++) {
    const cut = h.subarray(0, n);
    const d = await readCaptureDate(reader(cut), cut.length);
    assert.ok(d === undefined || d === '2020-02-29T09:08:07');
  }
});

test('exif: random corruption never escapes as RangeError/TypeError', async () => {
  const bases = [makeJpeg('2021:12:24 20:00:00', 64), makeHeic('2020:02:29 09:08:07', 64)];
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), async (which, edits) => {
      const b = Buffer.from(bases[which]!);
      for (const [at, v] of edits) b[at % b.length] = v;
      const d = await readCaptureDate(reader(b), b.length);
      assert.ok(d === undefined || /^\d{4}-\d\d-\d\dT/.test(d));
    }),
    { numRuns: 300 },
  );
});
