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

test('exif: QuickTime mvhd creation time (v0 and v1) for videos, in local time', async () => {
  const when = new Date(Date.UTC(2022, 6, 4, 12, 30, 0));
  const secs = when.getTime() / 1000 + 2_082_844_800;
  for (const version of [0, 1]) {
    const mvhd = Buffer.alloc(version === 1 ? 112 : 100);
    mvhd[0] = version;
    if (version === 1) mvhd.writeBigUInt64BE(BigInt(secs), 4);
    else mvhd.writeUInt32BE(secs, 4);
    const box = (t: string, b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, (b.length + 8) >> 8, (b.length + 8) & 255]), Buffer.from(t, 'latin1'), b]);
    const mov = Buffer.concat([box('ftyp', Buffer.from('qt  \0\0\0\0qt  ', 'latin1')), box('mdat', Buffer.alloc(300, 7)), box('moov', box('mvhd', mvhd))]);
    const local = new Date(when);
    const want = `${local.getFullYear()}-${String(local.getMonth() + 1).padStart(2, '0')}-${String(local.getDate()).padStart(2, '0')}T${String(local.getHours()).padStart(2, '0')}:30:00`;
    assert.equal(await readCaptureDate(reader(mov), mov.length), want);
    for (let n = 0; n < mov.length; n += 7) {
      const d = await readCaptureDate(reader(mov.subarray(0, n)), n);
      assert.ok(d === undefined || d === want);
    }
  }
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
