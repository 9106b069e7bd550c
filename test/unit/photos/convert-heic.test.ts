/**
 * --convert-heic jpeg over the real AFC stack (folderDevice) with real HEICs made by heif-enc (libheif-examples):
 * a JPEG beside each HEIC that decodes (sharp) and carries the HEIC's DateTimeOriginal (read back by exiftool, an
 * independent reader), recorded in the manifest and checked by `photos verify`; a name clash never overwrites; a
 * HEIC that does not decode fails alone and is kept; a rerun converts nothing; --heic-original drop removes the
 * HEIC from DEST only after its JPEG is written, never fetches it again and never deletes it from the device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runBackup, type BackupOptions } from '../../../src/photos/backup.ts';
import { convertedKey, uprightTiff } from '../../../src/photos/convert.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { verifyDest } from '../../../src/photos/verify.ts';
import { buildExifTiff } from '../../../src/virtual-iphone/media/exif-tiff.ts';
import { heicParts } from '../../../src/virtual-iphone/media/formats.ts';
import { encodeJpeg } from '../../../src/virtual-iphone/media/jpeg-encode.ts';
import { renderScene } from '../../../src/virtual-iphone/media/scenes.ts';
import { skipUnlessTools } from '../../support/peers.ts';
import { folderDevice } from './afc-device.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A real HEIC of a scene whose Exif says `date` (heif-enc copies the JPEG's Exif into the HEIC). */
function realHeic(dir: string, seed: number, date: Date, w = 320, h = 240): Buffer {
  const jpg = join(dir, `in-${seed}.jpg`);
  const out = join(dir, `out-${seed}.heic`);
  writeFileSync(jpg, encodeJpeg(renderScene(seed, w, h), w, h, { quality: 85, exifTiff: buildExifTiff({ captureDate: date, width: w, height: h }) }));
  execFileSync('heif-enc', ['-q', '60', '-o', out, jpg], { stdio: 'ignore', timeout: 30_000 });
  return readFileSync(out);
}

const DATES = [new Date(Date.UTC(2023, 6, 14, 9, 30, 5)), new Date(Date.UTC(2024, 1, 29, 23, 59, 58)), new Date(Date.UTC(2022, 11, 31, 12, 0, 0))];

interface Rig {
  root: string;
  dest: string;
  dir: string;
  files: Record<string, Buffer>;
  run: (o?: Partial<BackupOptions>) => ReturnType<typeof runBackup>;
  done: () => void;
}

function rig(): Rig {
  const base = mkdtempSync(join(tmpdir(), 'h16-conv-'));
  const root = join(base, 'media');
  const d = join(root, 'DCIM', '100APPLE');
  mkdirSync(d, { recursive: true });
  const work = join(base, 'work');
  mkdirSync(work);
  const files: Record<string, Buffer> = {
    'IMG_0001.HEIC': realHeic(work, 1, DATES[0]!),
    'IMG_0002.HEIC': realHeic(work, 2, DATES[1]!, 256, 192),
    // a HEIC and another photo's JPEG with the same stem: the conversion must not take the JPEG's name
    'IMG_0003.HEIC': realHeic(work, 3, DATES[2]!),
    'IMG_0003.JPG': encodeJpeg(renderScene(9, 64, 48), 64, 48, { quality: 80 }),
    // the virtual iPhone's HEIC: a valid container whose image is filler (not decodable)
    'IMG_0004.HEIC': Buffer.concat(heicParts(4096, { captureDate: DATES[0]! }).map((p) => (typeof p === 'number' ? Buffer.alloc(p, 0x55) : p))),
  };
  for (const [n, b] of Object.entries(files)) writeFileSync(join(d, n), b);
  const dest = join(base, 'dest');
  const dev = folderDevice(root);
  return {
    root, dest, dir: join(dest, dev.name!, '100APPLE'), files,
    run: (o = {}) => runBackup({ dest, device: dev, ...o }),
    done: () => rmSync(base, { recursive: true, force: true }),
  };
}

const exifDates = (paths: string[]): Record<string, unknown>[] =>
  JSON.parse(execFileSync('exiftool', ['-j', '-DateTimeOriginal', '-Orientation#', '-FileType', ...paths], { encoding: 'utf8' })) as Record<string, unknown>[];

test('--convert-heic jpeg: a JPEG beside each HEIC, decodable, with the HEIC\'s EXIF dates; recorded and verified; clash-safe; an undecodable HEIC fails alone and is kept; a rerun converts nothing', { skip: skipUnlessTools('heif-enc', 'exiftool') }, async () => {
  const r = rig();
  try {
    const s = await r.run({ convertHeic: 'jpeg' });
    assert.equal(s.copied, 5);
    assert.deepEqual(s.converted, { to: 'jpeg', original: 'keep', written: 3, upToDate: 0, dropped: 0, failed: 1 });
    assert.equal(s.status, 'partial', 'a HEIC that could not be converted is a failure of the run');
    assert.deepEqual(s.failed.map((f) => [f.remote, f.code]), [['/DCIM/100APPLE/IMG_0004.HEIC', 'ERR_PHOTOS_CONVERT']]);
    // every original is there, byte-identical (the device's IMG_0003.JPG too)
    for (const [n, b] of Object.entries(r.files)) assert.equal(sha(readFileSync(join(r.dir, n))), sha(b), n);
    assert.deepEqual(readdirSync(r.dir).sort(), ['IMG_0001.HEIC', 'IMG_0001.JPG', 'IMG_0002.HEIC', 'IMG_0002.JPG', 'IMG_0003-1.JPG', 'IMG_0003.HEIC', 'IMG_0003.JPG', 'IMG_0004.HEIC']);
    const made = { 'IMG_0001.HEIC': 'IMG_0001.JPG', 'IMG_0002.HEIC': 'IMG_0002.JPG', 'IMG_0003.HEIC': 'IMG_0003-1.JPG' };
    const m = await Manifest.open(r.dest, { readOnly: true });
    try {
      for (const [heic, jpg] of Object.entries(made)) {
        const buf = readFileSync(join(r.dir, jpg));
        const meta = await sharp(buf).metadata();
        assert.equal(meta.format, 'jpeg', jpg);
        const want = await sharp(r.files[heic]).metadata().catch(() => undefined); // sharp has no HEVC: the size comes from the HEIC's ispe
        if (want?.width) assert.equal(meta.width, want.width);
        const stats = await sharp(buf).stats();
        assert.ok(stats.channels.some((c) => c.max - c.min > 50), `${jpg} holds the picture, not a flat image`);
        const e = m.get(s.udid, convertedKey(`/DCIM/100APPLE/${heic}`));
        assert.ok(e, `${jpg} recorded`);
        assert.equal(e.local, `Folder iPhone/100APPLE/${jpg}`);
        assert.equal(e.sha256, sha(buf));
        assert.equal(e.size, buf.length);
      }
      assert.deepEqual([(await sharp(readFileSync(join(r.dir, 'IMG_0002.JPG'))).metadata()).width, (await sharp(readFileSync(join(r.dir, 'IMG_0002.JPG'))).metadata()).height], [256, 192]);
    } finally {
      await m.close();
    }
    // EXIF through an independent reader: the JPEG has the HEIC's DateTimeOriginal
    const tags = exifDates([join(r.dir, 'IMG_0001.JPG'), join(r.dir, 'IMG_0002.JPG'), join(r.dir, 'IMG_0003-1.JPG'), join(r.dir, 'IMG_0001.HEIC')]);
    assert.deepEqual(tags.map((t) => t['DateTimeOriginal']), ['2023:07:14 09:30:05', '2024:02:29 23:59:58', '2022:12:31 12:00:00', '2023:07:14 09:30:05']);
    assert.deepEqual(tags.slice(0, 3).map((t) => t['FileType']), ['JPEG', 'JPEG', 'JPEG']);
    assert.ok(tags.slice(0, 3).every((t) => t['Orientation'] === 1));
    // photos verify checks the JPEGs like every other file
    const v = await verifyDest({ dest: r.dest });
    assert.equal(v.files, 8);
    assert.equal(v.ok, 8);
    assert.ok(v.clean, JSON.stringify(v));
    // a rerun converts nothing and copies nothing
    const again = await r.run({ convertHeic: 'jpeg' });
    assert.equal(again.copied, 0);
    assert.deepEqual(again.converted, { to: 'jpeg', original: 'keep', written: 0, upToDate: 3, dropped: 0, failed: 1 });
    assert.equal(readdirSync(r.dir).length, 8);
    // a JPEG removed by the user is made again (from the local HEIC), under its name
    rmSync(join(r.dir, 'IMG_0002.JPG'));
    const third = await r.run({ convertHeic: 'jpeg' });
    assert.equal(third.converted!.written, 1);
    assert.ok(existsSync(join(r.dir, 'IMG_0002.JPG')));
  } finally {
    r.done();
  }
});

test('--convert-heic jpeg --heic-original drop: the HEIC leaves DEST only once its JPEG is written; never fetched again; never deleted from the device', { skip: skipUnlessTools('heif-enc', 'exiftool') }, async () => {
  const r = rig();
  try {
    const s = await r.run({ convertHeic: 'jpeg', heicOriginal: 'drop' });
    assert.deepEqual(s.converted, { to: 'jpeg', original: 'drop', written: 3, upToDate: 0, dropped: 3, failed: 1 });
    assert.deepEqual(readdirSync(r.dir).sort(), ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003-1.JPG', 'IMG_0003.JPG', 'IMG_0004.HEIC'], 'the HEIC that did not convert is kept');
    assert.deepEqual(exifDates([join(r.dir, 'IMG_0001.JPG')]).map((t) => t['DateTimeOriginal']), ['2023:07:14 09:30:05']);
    // verify: the dropped HEICs are neither missing nor checked; the JPEGs are
    const v = await verifyDest({ dest: r.dest });
    assert.ok(v.clean && v.missing.length === 0, JSON.stringify(v));
    assert.equal(v.files, 5);
    // a rerun does not fetch the dropped HEICs again
    const again = await r.run({ convertHeic: 'jpeg', heicOriginal: 'drop' });
    assert.equal(again.copied, 0);
    assert.equal(again.converted!.written, 0);
    assert.deepEqual(readdirSync(r.dir).sort(), ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003-1.JPG', 'IMG_0003.JPG', 'IMG_0004.HEIC']);
    // the device copy of a dropped HEIC is the only original: --delete-after-import leaves it (and its group)
    const del = await r.run({ deleteAfterImport: true, deleteCheck: 'stat' });
    for (const n of ['IMG_0001.HEIC', 'IMG_0002.HEIC', 'IMG_0003.HEIC']) assert.ok(existsSync(join(r.root, 'DCIM', '100APPLE', n)), `${n} still on the device`);
    assert.ok(!del.deleted.some((p) => /IMG_000[123]\.HEIC$/.test(p)), JSON.stringify(del.deleted));
  } finally {
    r.done();
  }
});

test('uprightTiff: Orientation becomes 1 in either byte order; the rest of the block is unchanged', () => {
  const be = buildExifTiff({ captureDate: DATES[0]! });
  const i = be.indexOf(Buffer.from([0x01, 0x12, 0x00, 0x03]));
  assert.ok(i > 0);
  be.writeUInt16BE(6, i + 8);
  const up = uprightTiff(be);
  assert.equal(up.readUInt16BE(i + 8), 1);
  assert.equal(Buffer.compare(up.subarray(0, i + 8), be.subarray(0, i + 8)), 0);
  assert.equal(Buffer.compare(up.subarray(i + 10), be.subarray(i + 10)), 0);
  const le = Buffer.from('II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x08\0\0\0\0\0\0\0', 'latin1');
  assert.equal(uprightTiff(le).readUInt16LE(8 + 2 + 8), 1);
});
