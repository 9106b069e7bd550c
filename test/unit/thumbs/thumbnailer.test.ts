/**
 * The thumbnail routes end to end over the real AFC stack (AfcClient ⇄ serveAfc on a folder laid out like the
 * device's media partition): device store → EXIF IFD1 → HEIC thmb item → full decode → HEVC video key frame →
 * none. HEICs come from Debian's heif-enc (libheif-examples; required in CI, skipped locally without it).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { AfcClient } from '../../../src/afc/client.ts';
import { serveAfc } from '../../../src/afc/server.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { afcThumbFiles } from '../../../src/thumbs/afc-files.ts';
import { HeicDecoder } from '../../../src/thumbs/decode.ts';
import { makeThumbnail, THUMBNAIL_STORE } from '../../../src/thumbs/thumbnailer.ts';
import { readMovie } from '../../../src/thumbs/mov.ts';
import { heicParts, movParts } from '../../../src/virtual-iphone/media/formats.ts';
import { storeThumbnail } from '../../../src/virtual-iphone/thumbnail-store.ts';
import { skipUnlessTools } from '../../support/peers.ts';
import { heifEncScene, jpegWithExifThumbnail, movieFromHeic, sceneJpeg } from './fixtures.ts';

const heic = new HeicDecoder({ idleMs: 1000 });
after(() => heic.close());

function expand(parts: (Buffer | number)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p, 0x5a) : p)));
}

async function withMedia(files: Record<string, Buffer>, fn: (afc: AfcClient) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'thumbs-media-'));
  try {
    for (const [p, data] of Object.entries(files)) {
      await mkdir(join(root, p, '..'), { recursive: true });
      await writeFile(join(root, p), data);
    }
    const [host, device] = duplexPair();
    serveAfc(device, { root });
    const afc = new AfcClient(host);
    try {
      await fn(afc);
    } finally {
      afc.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function size(jpeg: Buffer): Promise<[number, number]> {
  const m = await sharp(jpeg).metadata();
  return [m.width!, m.height!];
}

test('thumbnail routes without a HEVC encoder: store, EXIF, decoded JPEG and PNG, sniffed type, none', () => {
  const store = storeThumbnail('DCIM/100APPLE/IMG_0001.HEIC');
  const exif = jpegWithExifThumbnail(8);
  const date = { captureDate: new Date(Date.UTC(2024, 4, 1)) };
  const png = sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366cc' } }).png().toBuffer();
  return png.then((pngBuf) =>
    withMedia(
      {
        'DCIM/100APPLE/IMG_0001.HEIC': expand(heicParts(5000, date)), // the emulator's: not decodable
        [`${THUMBNAIL_STORE.slice(1)}/DCIM/100APPLE/IMG_0001.HEIC/5003.JPG`]: sceneJpeg(9, 64, 48),
        [`${THUMBNAIL_STORE.slice(1)}/DCIM/100APPLE/IMG_0001.HEIC/5005.JPG`]: store,
        'DCIM/100APPLE/IMG_0002.JPG': exif.jpeg,
        'DCIM/100APPLE/IMG_0003.JPG': sceneJpeg(4, 800, 600),
        'DCIM/100APPLE/IMG_0004.HEIC': sceneJpeg(5, 300, 200), // a ".HEIC" that is a JPEG
        'DCIM/100APPLE/IMG_0005.PNG': pngBuf,
        'DCIM/100APPLE/IMG_0006.HEIC': expand(heicParts(5000, date)), // no store entry, nothing decodable
        'DCIM/100APPLE/IMG_0007.MOV': expand(movParts(4000, date.captureDate)), // no tracks
      },
      async (afc) => {
        const files = afcThumbFiles(async () => afc);
        const t = (p: string) => makeThumbnail(files, `/DCIM/100APPLE/${p}`, { heic });
        const t1 = await t('IMG_0001.HEIC');
        assert.equal(t1?.source, 'device-store');
        assert.deepEqual(await size(t1!.jpeg), [160, 120], 'the highest-numbered store JPEG');
        const t2 = await t('IMG_0002.JPG');
        assert.equal(t2?.source, 'exif');
        assert.deepEqual(await size(t2!.jpeg), [120, 160], 'orientation 8 turned');
        const t3 = await t('IMG_0003.JPG');
        assert.equal(t3?.source, 'decoded');
        assert.deepEqual(await size(t3!.jpeg), [256, 192]);
        assert.equal((await t('IMG_0004.HEIC'))?.source, 'decoded');
        const t5 = await t('IMG_0005.PNG');
        assert.equal(t5?.source, 'decoded');
        assert.deepEqual(await size(t5!.jpeg), [256, 192]);
        assert.equal(await t('IMG_0006.HEIC'), undefined);
        assert.equal(await t('IMG_0007.MOV'), undefined);
        assert.equal(await t('IMG_9999.JPG'), undefined, 'a file that is gone');
      },
    ),
  );
});

test('HEIC thumbnail item, full HEIC decode and HEVC video key frame', { skip: skipUnlessTools('heif-enc') }, async () => {
  const withThumb = heifEncScene(11, 640, 480, 160);
  const noThumb = heifEncScene(12, 320, 240, 0);
  const movie = await movieFromHeic(heifEncScene(13, 256, 144, 0), true);
  const info = await readMovie(async (o, l) => movie.subarray(o, o + l), movie.length);
  assert.equal(info.codec, 'hvc1');
  assert.equal(info.durationS, 2);
  assert.ok(info.heic);
  await withMedia(
    { 'DCIM/100APPLE/IMG_0010.HEIC': withThumb, 'DCIM/100APPLE/IMG_0011.HEIC': noThumb, 'DCIM/100APPLE/IMG_0012.MOV': movie },
    async (afc) => {
      const files = afcThumbFiles(async () => afc);
      const t = (p: string) => makeThumbnail(files, `/DCIM/100APPLE/${p}`, { heic });
      const a = await t('IMG_0010.HEIC');
      assert.equal(a?.source, 'embedded');
      assert.deepEqual(await size(a!.jpeg), [160, 120], 'the 160 px thmb item, not the 640 px image');
      const b = await t('IMG_0011.HEIC');
      assert.equal(b?.source, 'decoded');
      assert.deepEqual(await size(b!.jpeg), [256, 192]);
      const c = await t('IMG_0012.MOV');
      assert.equal(c?.source, 'video-frame');
      assert.deepEqual(await size(c!.jpeg), [144, 256], 'portrait track: rotated by the tkhd matrix');
    },
  );
});
