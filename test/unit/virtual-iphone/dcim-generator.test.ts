import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDcim, planDcim } from '../../../src/virtual-iphone/dcim-generator.ts';
import { exifDateString } from '../../../src/virtual-iphone/media/exif-tiff.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { parsePlist } from '../../../src/plist/index.ts';
import { dateFromHeif, dateFromJpeg } from '../../../src/photos/exif.ts';
import { isPlistDict } from '../../../src/plist/types.ts';

/** Minimal EXIF reader for the test: TIFF block → { tag: value } for IFD0 and the Exif IFD (ASCII/SHORT/LONG only). */
function readTiff(t: Buffer): Map<number, string | number> {
  const le = t.toString('latin1', 0, 2) === 'II';
  const u16 = (o: number): number => (le ? t.readUInt16LE(o) : t.readUInt16BE(o));
  const u32 = (o: number): number => (le ? t.readUInt32LE(o) : t.readUInt32BE(o));
  assert.equal(u16(2), 42);
  const out = new Map<number, string | number>();
  const readIfd = (at: number): void => {
    const n = u16(at);
    for (let i = 0; i < n; i++) {
      const e = at + 2 + i * 12;
      const tag = u16(e);
      const type = u16(e + 2);
      const count = u32(e + 4);
      if (type === 2) {
        const off = count <= 4 ? e + 8 : u32(e + 8);
        out.set(tag, t.toString('latin1', off, off + count - 1));
      } else if (type === 3) out.set(tag, u16(e + 8));
      else if (type === 4) out.set(tag, u32(e + 8));
    }
  };
  readIfd(u32(4));
  const exifAt = out.get(0x8769);
  assert.equal(typeof exifAt, 'number');
  readIfd(exifAt as number);
  return out;
}

/** Walks JPEG segments SOI..SOS and returns the APP1 Exif TIFF block and the SOF0 dimensions. */
function parseJpeg(b: Buffer): { tiff: Buffer; width: number; height: number } {
  assert.equal(b.readUInt16BE(0), 0xffd8);
  assert.equal(b.readUInt16BE(b.length - 2), 0xffd9, 'ends with EOI');
  let p = 2;
  let tiff: Buffer | undefined;
  let dims: [number, number] | undefined;
  while (p < b.length) {
    assert.equal(b[p], 0xff, `marker at ${p}`);
    const marker = b[p + 1]!;
    const len = b.readUInt16BE(p + 2);
    const body = b.subarray(p + 4, p + 2 + len);
    if (marker === 0xe1 && body.toString('latin1', 0, 6) === 'Exif\0\0') tiff = body.subarray(6);
    if (marker === 0xc0) dims = [body.readUInt16BE(3), body.readUInt16BE(1)];
    p += 2 + len;
    if (marker === 0xda) break; // entropy data follows
  }
  assert.ok(tiff && dims);
  assert.equal(b.length - p, 3, 'one byte of scan data then EOI');
  return { tiff, width: dims[0], height: dims[1] };
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dcim-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('same seed gives byte-identical trees; another seed differs', async () => {
  await withTemp(async (dir) => {
    const a = await generateDcim(join(dir, 'a'), { count: 25, seed: 42, scale: 0.005 });
    const b = await generateDcim(join(dir, 'b'), { count: 25, seed: 42, scale: 0.005 });
    const c = await generateDcim(join(dir, 'c'), { count: 25, seed: 43, scale: 0.005 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.files.map((f) => f.sha256),
      c.files.map((f) => f.sha256),
    );
  });
});

test('manifest matches the files on disk: size, sha256, mtime = capture date', async () => {
  await withTemp(async (dir) => {
    const m = await generateDcim(dir, { count: 40, seed: 3, scale: 0.004 });
    let total = 0;
    for (const f of m.files) {
      const full = join(dir, f.path);
      const data = await readFile(full);
      const st = await stat(full);
      assert.equal(data.length, f.size, f.path);
      assert.equal(createHash('sha256').update(data).digest('hex'), f.sha256, f.path);
      assert.equal(st.mtimeMs, f.captureDate.getTime(), f.path);
      total += f.size;
    }
    assert.equal(m.totalBytes, total);
    const onDisk = (await readdir(join(dir, 'DCIM', '100APPLE'))).length;
    assert.equal(onDisk, m.files.length);
    // dates spread over years and increase with the file number
    const years = new Set(m.files.map((f) => f.captureDate.getUTCFullYear()));
    assert.ok(years.size >= 3, `years ${[...years]}`);
    const dates = m.files.map((f) => f.captureDate.getTime());
    assert.deepEqual(
      dates,
      [...dates].sort((x, y) => x - y),
    );
  });
});

test('JPEGs are structurally valid baseline images with EXIF DateTimeOriginal = capture date', async () => {
  await withTemp(async (dir) => {
    const m = await generateDcim(dir, { count: 12, seed: 9, scale: 0.01, mix: { jpg: 1, heic: 0, png: 0, mov: 0, live: 0 } });
    assert.equal(m.files.filter((f) => f.kind === 'jpg').length, 12);
    for (const f of m.files.filter((x) => x.kind === 'jpg')) {
      const { tiff, width, height } = parseJpeg(await readFile(join(dir, f.path)));
      assert.deepEqual([width, height], [8, 8]);
      const tags = readTiff(tiff);
      assert.equal(tags.get(0x9003), exifDateString(f.captureDate));
      assert.equal(tags.get(0x9011), '+00:00');
      assert.equal(tags.get(0x010f), 'Apple');
      const head = await readFile(join(dir, f.path));
      assert.equal(dateFromJpeg(head), f.captureDate.toISOString().slice(0, 19), 'the photo engine reads the same date');
      // sizes are realistic JPEG sizes scaled by 0.01 (2-5 MB → 20-50 kB)
      assert.ok(f.size >= 19_000 && f.size <= 51_000, `${f.size}`);
    }
  });
});

test('PNG (eXIf) and HEIC (Exif item) carry the capture date; HEIC/MOV have the right containers', async () => {
  await withTemp(async (dir) => {
    const m = await generateDcim(dir, { count: 30, seed: 5, scale: 0.002, mix: { png: 1, heic: 1, mov: 1, live: 1, jpg: 0 } });
    const kinds = new Set(m.files.map((f) => f.kind));
    for (const k of ['png', 'heic', 'mov'] as const) assert.ok(kinds.has(k), k);
    for (const f of m.files) {
      const b = await readFile(join(dir, f.path));
      if (f.kind === 'png') {
        assert.equal(b.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
        const i = b.indexOf('eXIf', 8, 'latin1');
        const len = b.readUInt32BE(i - 4);
        assert.equal(readTiff(b.subarray(i + 4, i + 4 + len)).get(0x9003), exifDateString(f.captureDate));
      } else if (f.kind === 'heic') {
        assert.equal(b.toString('latin1', 4, 12), 'ftypheic');
        // read by the photo engine's independent HEIF parser (meta → iinf 'Exif' → iloc → TIFF)
        const read = async (off: number, len: number): Promise<Buffer> => b.subarray(off, off + len);
        assert.equal(await dateFromHeif(read, b.length), f.captureDate.toISOString().slice(0, 19), f.path);
      } else if (f.kind === 'mov') {
        assert.equal(b.toString('latin1', 4, 12), 'ftypqt  ');
        const mvhd = b.indexOf('mvhd', 0, 'latin1');
        assert.equal(b.readUInt32BE(mvhd + 8) - 2082844800, f.captureDate.getTime() / 1000);
      }
    }
  });
});

test('Live Photo pairs share a stem and folder; sidecars are XML plists; folders hold at most perFolder files', async () => {
  await withTemp(async (dir) => {
    const m = await generateDcim(dir, { count: 60, seed: 11, scale: 0.001, perFolder: 7, aaeRate: 0.5 });
    const byFolder = new Map<string, number>();
    for (const f of m.files) {
      const folder = f.path.split('/')[1]!;
      assert.match(folder, /^\d{3}APPLE$/);
      assert.match(f.path, /\/IMG_\d{4}\.(HEIC|JPG|PNG|MOV|AAE)$/);
      byFolder.set(folder, (byFolder.get(folder) ?? 0) + 1);
    }
    assert.ok(byFolder.size > 1);
    for (const n of byFolder.values()) assert.ok(n <= 7);
    const live = m.files.filter((f) => f.livePhoto);
    assert.ok(live.length >= 2);
    for (const f of live) {
      const other = live.find((g) => g !== f && g.livePhoto === f.livePhoto);
      assert.ok(other, f.path);
      assert.equal(other.path.replace(/\.[A-Z]+$/, ''), f.path.replace(/\.[A-Z]+$/, ''));
    }
    const aae = m.files.filter((f) => f.kind === 'aae');
    assert.ok(aae.length > 0);
    for (const f of aae) {
      const raw = await readFile(join(dir, f.path));
      assert.ok(raw.toString('utf8').startsWith('<?xml'));
      const sidecar = parsePlist(raw);
      assert.ok(isPlistDict(sidecar) && sidecar.adjustmentFormatIdentifier === 'com.apple.photo');
      assert.ok(m.files.some((g) => g.kind !== 'aae' && g.path.replace(/\.[A-Z]+$/, '') === f.path.replace(/\.AAE$/, '')));
    }
  });
});

test('bad options are ERR_INVALID_ARG', () => {
  for (const o of [{ count: -1 }, { count: 1.5 }, { count: 1, perFolder: 1000 }, { count: 1, scale: 0 }, { count: 1, mix: { heic: 0, jpg: 0, png: 0, mov: 0, live: 0 } }]) {
    assert.throws(
      () => planDcim(o),
      (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG',
    );
  }
});

test('plan: 999 files per folder by default, IMG numbers wrap after 9999 (pure, nothing written)', () => {
  const plan = planDcim({ count: 10_500, seed: 2, aaeRate: 0, mix: { heic: 1, jpg: 0, png: 0, mov: 0, live: 0 } });
  const folders = new Map<string, number>();
  for (const f of plan) folders.set(f.path.split('/')[1]!, (folders.get(f.path.split('/')[1]!) ?? 0) + 1);
  assert.deepEqual([...folders.keys()].slice(0, 3), ['100APPLE', '101APPLE', '102APPLE']);
  assert.ok([...folders.values()].every((n) => n <= 999));
  assert.equal(folders.get('100APPLE'), 999);
  assert.equal(plan[9998]!.path.endsWith('IMG_9999.HEIC'), true);
  assert.equal(plan[9999]!.path.endsWith('IMG_0001.HEIC'), true);
  assert.equal(new Set(plan.map((f) => f.path)).size, plan.length, 'paths are unique');
});
