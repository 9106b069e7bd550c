import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStillContentId } from '../../../src/photos/library/makernote.ts';
import { readMovieContentId } from '../../../src/photos/library/quicktime.ts';
import { sniffType } from '../../../src/photos/library/sniff.ts';
import { generateLibrary } from '../../../src/virtual-iphone/library-generator.ts';

const reader = (b: Buffer) => async (o: number, n: number): Promise<Buffer> => b.subarray(o, o + n);

test('library generator: CPLAssets, edits, shared album, cloud-only rows without files, Live ids in both halves', async () => {
  const root = mkdtempSync(join(tmpdir(), 'h16-gen-'));
  const root2 = mkdtempSync(join(tmpdir(), 'h16-gen2-'));
  try {
    const m = await generateLibrary(root, { count: 40, scale: 0.001, seed: 9 });
    for (const f of m.files) {
      const b = readFileSync(join(root, f.path));
      assert.equal(createHash('sha256').update(b).digest('hex'), f.sha256, f.path);
    }
    const paths = m.files.map((f) => f.path);
    assert.ok(paths.some((p) => /^PhotoData\/CPLAssets\/group\d+\/[0-9A-F-]{36}\.(HEIC|JPG)$/.test(p)));
    assert.ok(paths.some((p) => /^PhotoData\/Mutations\/DCIM\/\d{3}APPLE\/IMG_\d{4}\/Adjustments\/FullSizeRender\.(heic|jpg)$/.test(p)));
    assert.ok(paths.some((p) => p.endsWith('/Adjustments/FullSizeRender.mov')), 'a Live Photo edit has a video render');
    assert.ok(paths.some((p) => p.startsWith('PhotoData/PhotoCloudSharingData/')));
    assert.ok(m.cloudOnly.length >= 2 && m.cloudOnly.some((p) => p.startsWith('DCIM/')) && m.cloudOnly.some((p) => p.startsWith('PhotoData/CPLAssets/')));
    for (const p of m.cloudOnly) assert.ok(!existsSync(join(root, p)), `${p} has no file`);
    assert.equal(m.albums.filter((a) => a.kind === 2).length, 3);
    let mismatched = 0;
    let noFtyp = 0;
    for (const [still, video] of Object.entries(m.livePairs)) {
      const s = readFileSync(join(root, still));
      const v = readFileSync(join(root, video));
      const id = m.assets.find((a) => `${a.dir}/${a.file}` === still)!.contentId;
      assert.ok(id);
      assert.equal(await readStillContentId(reader(s), s.length), id, still);
      assert.equal(await readMovieContentId(reader(v), v.length), id, video);
      if (still.replace(/\.\w+$/, '') !== video.replace(/\.\w+$/, '')) mismatched++;
      if (v.toString('latin1', 4, 8) !== 'ftyp') {
        noFtyp++;
        assert.equal(sniffType(v.subarray(0, 4096), v.length), 'mov');
      }
    }
    assert.ok(mismatched >= 2, 'Live pairs whose names do not match');
    assert.equal(noFtyp, 1, 'one Live video without ftyp');
    const again = await generateLibrary(root2, { count: 40, scale: 0.001, seed: 9 });
    assert.deepEqual(again.files.map((f) => [f.path, f.sha256]), m.files.map((f) => [f.path, f.sha256]), 'deterministic');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(root2, { recursive: true, force: true });
  }
});
