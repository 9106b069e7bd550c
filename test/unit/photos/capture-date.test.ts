/**
 * Capture dates: impossible and out-of-range EXIF / QuickTime dates are refused (with a reason), the file's time is
 * used instead and clamped to 1970-01-01 .. now + 1 day, and --split-by-date can never name a folder after a
 * non-date (property tests over random date strings, random EXIF date bytes and random file times), end to end
 * through a backup that reports each fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { checkWallTime, clampWallTime, maxCaptureDate, wallTimeOf } from '../../../src/photos/capture-date.ts';
import { probeCaptureDate, readCaptureDate, type RandomReader } from '../../../src/photos/exif.ts';
import { chooseCaptureDate, fileWallTime, localDateString, targetDirParts, type DeviceFile } from '../../../src/photos/layout.ts';
import { runBackup } from '../../../src/photos/backup.ts';
import type { BackupEvent } from '../../../src/photos/events.ts';
import { makeJpeg, makeMovie } from './media.ts';
import { movParts } from '../../../src/virtual-iphone/media/formats.ts';
import { folderDevice } from './afc-device.ts';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

function reader(buf: Buffer): RandomReader {
  return async (off, len) => buf.subarray(off, Math.min(buf.length, off + len));
}

function file(mtimeMs: number, birthMs = mtimeMs): DeviceFile {
  return { remote: '/DCIM/100APPLE/IMG_0001.JPG', rel: ['100APPLE', 'IMG_0001.JPG'], relPath: '100APPLE/IMG_0001.JPG', size: 1, mtime: new Date(mtimeMs), mtimeNs: 0n, birthtime: new Date(birthMs) };
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A date folder pair is [YYYY, YYYY-MM-DD] of a real date inside 1970-01-01 .. now + 1 day. */
function assertDateFolder(parts: string[], now: number): void {
  assert.equal(parts.length, 2, String(parts));
  const [y, day] = parts as [string, string];
  assert.match(y, /^\d{4}$/);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  assert.ok(m, day);
  assert.equal(m[1], y);
  const [yy, mm, dd] = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.ok(mm >= 1 && mm <= 12, day);
  const leap = (yy % 4 === 0 && yy % 100 !== 0) || yy % 400 === 0;
  assert.ok(dd >= 1 && dd <= (mm === 2 && leap ? 29 : DAYS[mm - 1]!), day);
  assert.ok(day >= '1970-01-01' && day <= maxCaptureDate(now).slice(0, 10), day);
}

test('capture-date: impossible and out-of-range wall times are refused with a reason', () => {
  const ok = ['2024-02-29T10:00:00', '1970-01-01T00:00:00', '2025-06-15T23:59:59', '2000-12-31T00:00:00'];
  for (const s of ok) assert.deepEqual(checkWallTime(s, NOW), { date: s });
  const bad: [string, RegExp][] = [
    ['2023-02-31T10:00:00', /not a real date \(day 31 of month 2\)/],
    ['2023-02-29T10:00:00', /day 29 of month 2/],
    ['1900-02-29T10:00:00', /day 29 of month 2/],
    ['2023-04-31T10:00:00', /day 31 of month 4/],
    ['2023-13-01T10:00:00', /month 13/],
    ['2023-00-10T10:00:00', /month 0/],
    ['2023-01-00T10:00:00', /day 0/],
    ['2023-01-01T25:00:00', /time 25:00:00/],
    ['2023-01-01T10:60:00', /time 10:60:00/],
    ['2023-01-01T10:00:60', /time 10:00:60/],
    ['0000-01-01T00:00:00', /before 1970/],
    ['1969-12-31T23:59:59', /before 1970/],
    ['2025-06-17T12:00:01', /in the future/],
    ['9999-12-31T23:59:59', /in the future/],
    ['10001-02-03T00:00:00', /not a date/],
    ['NaN-NaN-NaNTNaN:NaN:NaN', /not a date/],
    ['', /not a date/],
  ];
  for (const [s, why] of bad) {
    const c = checkWallTime(s, NOW);
    assert.ok('reason' in c, s);
    assert.match(c.reason, why, s);
  }
  assert.equal(wallTimeOf(Number.NaN), undefined);
  assert.equal(wallTimeOf(1e17), undefined);
  assert.equal(wallTimeOf(Date.UTC(10001, 1, 3)), undefined);
  assert.equal(clampWallTime('2999-01-01T00:00:00', NOW), maxCaptureDate(NOW));
  assert.equal(clampWallTime('1960-01-01T00:00:00', NOW), '1970-01-01T00:00:00');
  assert.equal(clampWallTime(undefined, NOW), '1970-01-01T00:00:00');
  assert.equal(clampWallTime('2023-02-31T00:00:00', NOW), '1970-01-01T00:00:00');
});

test('capture-date: EXIF Feb 31 / year 0 / 10001-like values are refused, the next tag is tried, else the reason is given', async () => {
  const feb31 = makeJpeg('2023:02:31 10:00:00');
  const p = await probeCaptureDate(reader(feb31), feb31.length, NOW);
  assert.equal(p.date, '2001-01-01T00:00:00'); // IFD0 DateTime of the builder is usable
  const cases: [string, RegExp][] = [
    ['2023:02:31 10:00:00', /EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date \(day 31 of month 2\)/],
    ['0000:00:00 00:00:00', /EXIF DateTimeOriginal "0000:00:00 00:00:00" is not a real date \(month 0\)/],
    ['1001:02:03 04:05:06', /before 1970/],
    ['2023:1x:01 10:00:00', /is not a date/],
    ['2031:01:01 10:00:00', /in the future/],
  ];
  for (const [raw, why] of cases) {
    const tiffDates = makeJpeg(raw);
    // make IFD0 DateTime unusable too, so nothing is usable
    const at = tiffDates.indexOf(Buffer.from('2001:01:01 00:00:00'));
    tiffDates.write('2001:01:32 00:00:00', at, 'latin1');
    const r = await probeCaptureDate(reader(tiffDates), tiffDates.length, NOW);
    assert.equal(r.date, undefined, raw);
    assert.match(r.rejected ?? '', why, raw);
    assert.equal(await readCaptureDate(reader(tiffDates), tiffDates.length, NOW), undefined);
  }
  const blank = makeJpeg('                   ');
  const bl = await probeCaptureDate(reader(blank), blank.length, NOW);
  assert.equal(bl.date, '2001-01-01T00:00:00', 'blank = unknown: the next tag');
  const broken = Buffer.from(makeJpeg('2023:01:01 10:00:00'));
  broken[2] = 0x00; // no marker where one must be
  assert.match((await probeCaptureDate(reader(broken), broken.length, NOW)).rejected ?? '', /metadata unreadable/);
});

const QT = 2_082_844_800;

test('capture-date: QuickTime creationdate (camera wall time) over mvhd; bad values refused with the source named', async () => {
  const mvhdOk = QT + Date.UTC(2022, 6, 4, 12, 30, 0) / 1000;
  const local = localDateString(new Date(Date.UTC(2022, 6, 4, 12, 30, 0)));
  const probe = async (b: Buffer): Promise<{ date?: string; rejected?: string }> => probeCaptureDate(reader(b), b.length, NOW);
  assert.deepEqual(await probe(makeMovie(mvhdOk, '2022-07-05T09:08:07+0200')), { date: '2022-07-05T09:08:07' });
  assert.deepEqual(await probe(makeMovie(mvhdOk, '2022-02-30T09:08:07+0200')), { date: local }, 'a bad creationdate: mvhd');
  assert.deepEqual(await probe(makeMovie(mvhdOk)), { date: local });
  assert.deepEqual(await probe(makeMovie(0)), {}, 'mvhd 0 = unset, no report');
  assert.match((await probe(makeMovie(1000))).rejected ?? '', /QuickTime mvhd creation time "1000 s since 1904" is before 1970/);
  assert.match((await probe(makeMovie(2 ** 52))).rejected ?? '', /mvhd creation time .* is out of range/);
  const y10001 = QT + Date.UTC(10001, 1, 3) / 1000;
  assert.match((await probe(makeMovie(y10001))).rejected ?? '', /out of range/);
  assert.match((await probe(makeMovie(2 ** 52, 'garbage\u0001'))).rejected ?? '', /QuickTime com\.apple\.quicktime\.creationdate "garbage\?" is not a date/);
  const noFtyp = Buffer.concat(movParts(4000, new Date(Date.UTC(2022, 6, 4, 12, 30, 0)), { noFtyp: true }).map((x) => (typeof x === 'number' ? Buffer.alloc(x) : x)));
  assert.deepEqual(await probe(noFtyp), { date: local }, 'a Live Photo video without ftyp (wide/mdat/moov) is still read');
});

test('capture-date: the file-time fallback is clamped and every fallback carries a reason', () => {
  const jan = Date.UTC(2023, 0, 10, 12);
  assert.deepEqual(chooseCaptureDate(file(jan), { date: '2022-05-01T10:00:00' }, NOW), { date: '2022-05-01T10:00:00' });
  assert.deepEqual(chooseCaptureDate(file(jan), {}, NOW), { date: localDateString(new Date(jan)) }, 'no metadata date: silent');
  const f = chooseCaptureDate(file(jan), { rejected: 'EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date (day 31 of month 2)' }, NOW);
  assert.equal(f.date, localDateString(new Date(jan)));
  assert.match(f.fallback ?? '', /day 31 of month 2\); dated 2023-01-1\d by the file's time/);
  for (const t of [Number.NaN, -1e12, 1e17, Date.UTC(2999, 0, 1)]) {
    const c = chooseCaptureDate(file(t, t), undefined, NOW);
    assert.match(c.fallback ?? '', /the file's time \(.*\) is .*; clamped to (1970-01-01|2025-06-1[67])/, String(t));
    assertDateFolder(targetDirParts('date', file(t, t), undefined, undefined, NOW), NOW);
  }
  assert.equal(fileWallTime(file(Number.NaN, jan), NOW).date, localDateString(new Date(jan)), 'a good time of the two is used');
});

test('capture-date: property: --split-by-date folders are always a real date in range (random strings, file times, EXIF bytes)', async () => {
  const times = fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: -1e13, max: 4e12 }), fc.constantFrom(Number.NaN, 0, -1, 8.64e15, 8.64e15 + 1));
  const dateLike = fc.oneof(
    fc.string(),
    fc.tuple(fc.integer({ min: 0, max: 10001 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }))
      .map(([y, mo, d, h, mi, s]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`),
  );
  fc.assert(
    fc.property(dateLike, times, times, (captured, m, b) => {
      assertDateFolder(targetDirParts('date', file(m, b), captured, undefined, NOW), NOW);
      const c = chooseCaptureDate(file(m, b), { date: captured }, NOW);
      assertDateFolder(targetDirParts('date', file(m, b), c.date, undefined, NOW), NOW);
    }),
    { numRuns: 2000 },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 19, maxLength: 19 }), fc.uint8Array({ minLength: 19, maxLength: 19 }), times, async (orig, ifd0, t) => {
      const j = Buffer.from(makeJpeg('2020:01:01 00:00:00'));
      j.set(orig, j.indexOf(Buffer.from('2020:01:01 00:00:00')));
      j.set(ifd0, j.indexOf(Buffer.from('2001:01:01 00:00:00')));
      const probe = await probeCaptureDate(reader(j), j.length, NOW);
      const c = chooseCaptureDate(file(t), probe, NOW);
      assertDateFolder(targetDirParts('date', file(t), c.date, undefined, NOW), NOW);
      if (probe.date === undefined && probe.rejected === undefined) assert.ok(/^[\s:\0]*$/.test(Buffer.from(orig).toString('latin1')) && /^[\s:\0]*$/.test(Buffer.from(ifd0).toString('latin1')));
    }),
    { numRuns: 1000 },
  );
});

test('capture-date: a backup with --split-by-date files bad-dated photos by file time and reports each fallback', async () => {
  const media = await mkdtemp(join(tmpdir(), 'photos-dates-'));
  const dest = await mkdtemp(join(tmpdir(), 'photos-dates-dest-'));
  try {
    const dir = join(media, 'DCIM', '100APPLE');
    await mkdir(dir, { recursive: true });
    const bad = makeJpeg('2023:02:31 10:00:00');
    bad.write('2023:13:01 00:00:00', bad.indexOf(Buffer.from('2001:01:01 00:00:00')), 'latin1');
    const when = new Date(Date.UTC(2024, 2, 10, 12));
    await writeFile(join(dir, 'IMG_0001.JPG'), bad);
    await writeFile(join(dir, 'IMG_0002.JPG'), makeJpeg('2022:08:09 10:11:12'));
    await writeFile(join(dir, 'IMG_0003.MOV'), makeMovie(2 ** 52));
    for (const n of ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003.MOV']) await utimes(join(dir, n), when, when);
    const events: BackupEvent[] = [];
    const device = folderDevice(media);
    const s = await runBackup({ dest, device, layout: 'date', onEvent: (e) => events.push(e) });
    assert.deepEqual(s.failed, []);
    assert.equal(s.copied, 3);
    const day = localDateString(when).slice(0, 10);
    const mine = join(dest, device.name!); // the device's folder below DEST
    assert.deepEqual((await readdir(join(mine, day.slice(0, 4), day))).sort(), ['IMG_0001.JPG', 'IMG_0003.MOV']);
    assert.deepEqual(await readdir(join(mine, '2022', '2022-08-09')), ['IMG_0002.JPG']);
    const fb = [...s.dateFallbacks].sort((a, b) => (a.remote < b.remote ? -1 : 1));
    assert.deepEqual(fb.map((x) => x.remote), ['/DCIM/100APPLE/IMG_0001.JPG', '/DCIM/100APPLE/IMG_0003.MOV']);
    assert.match(fb[0]!.reason, /EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date.*dated \d{4}-\d\d-\d\d by the file's time/);
    assert.match(fb[1]!.reason, /mvhd creation time .* out of range/);
    assert.deepEqual(events.filter((e) => e.type === 'date-fallback').map((e) => (e as { remote: string }).remote).sort(), fb.map((x) => x.remote));
    const top = (await readdir(mine)).sort();
    assert.ok(top.every((n) => /^\d{4}$/.test(n)), top.join(','));
  } finally {
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});
