import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile, readFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGlob } from '../../../src/photos/glob.ts';
import { ensureSafeDir, resolveInside, unsafeNameReason } from '../../../src/photos/safe-path.ts';
import { UnsafePathError } from '../../../src/photos/errors.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { groupFiles, suffixOf, withSuffix, type DeviceFile } from '../../../src/photos/layout.ts';
import { makeSelection, isSelected } from '../../../src/photos/selection.ts';
import { InvalidArgumentError } from '../../../src/core/errors.ts';

test('glob: names, folders, classes, braces, case-insensitive', () => {
  const cases: [string, string, boolean][] = [
    ['*.heic', '100APPLE/IMG_0001.HEIC', true],
    ['*.heic', '100APPLE/IMG_0001.MOV', false],
    ['IMG_000?.*', '100APPLE/IMG_0003.JPG', true],
    ['IMG_00[0-1]*', '100APPLE/IMG_0021.JPG', false],
    ['IMG_00[!2]*', '100APPLE/IMG_0011.JPG', true],
    ['*.{mov,mp4}', '101APPLE/IMG_0100.MP4', true],
    ['100APPLE/*', '100APPLE/IMG_0001.HEIC', true],
    ['100APPLE/*', '101APPLE/IMG_0001.HEIC', false],
    ['**/*.aae', '100APPLE/IMG_0001.AAE', true],
    ['100*/**', '100APPLE/x/y.JPG', true],
    ['a.b', 'aXb', false],
  ];
  for (const [g, p, want] of cases) assert.equal(compileGlob(g).test(p), want, `${g} ~ ${p}`);
  for (const badGlob of ['[abc', '{a,b', '']) {
    assert.throws(() => compileGlob(badGlob), (e: unknown) => e instanceof InvalidArgumentError && e.code === 'ERR_INVALID_ARG');
  }
});

test('safe-path: hostile names are refused, joins stay inside', () => {
  for (const n of ['', '.', '..', 'a/b', '/etc', 'a\0b', 'a\\b', 'x\ny', 'z'.repeat(256)]) assert.ok(unsafeNameReason(n), JSON.stringify(n));
  for (const n of ['IMG_0001.HEIC', '.hidden', '..x', 'é.jpg']) assert.equal(unsafeNameReason(n), undefined);
  assert.equal(resolveInside('/d', ['a', 'b.jpg']), '/d/a/b.jpg');
  assert.throws(() => resolveInside('/d', ['..', 'x']), (e: unknown) => e instanceof UnsafePathError && e.code === 'ERR_PHOTOS_UNSAFE_PATH');
});

test('safe-path: ensureSafeDir refuses symlinks and files in the way', async () => {
  const root = await mkdtemp(join(tmpdir(), 'photos-safe-'));
  const outside = await mkdtemp(join(tmpdir(), 'photos-outside-'));
  try {
    assert.equal(await ensureSafeDir(root, ['2024', '2024-01-02']), join(root, '2024', '2024-01-02'));
    await symlink(outside, join(root, 'evil'));
    await assert.rejects(ensureSafeDir(root, ['evil', 'x']), (e: unknown) => e instanceof UnsafePathError && e.code === 'ERR_PHOTOS_UNSAFE_PATH');
    await writeFile(join(root, 'file'), 'x');
    await assert.rejects(ensureSafeDir(root, ['file', 'x']), (e: unknown) => e instanceof UnsafePathError);
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  }
});

test('manifest: records survive reopen; a torn last line is ignored and the next append starts clean', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'photos-manifest-'));
  try {
    const m = await Manifest.open(dest);
    await Promise.all([1, 2, 3].map((i) => m.record({ udid: 'U', remote: `/DCIM/100APPLE/IMG_000${i}.JPG`, size: i, mtimeNs: '5', sha256: 'ab', local: `100APPLE/IMG_000${i}.JPG` })));
    await m.recordDeleted('U', '/DCIM/100APPLE/IMG_0002.JPG');
    await m.close();
    await appendFile(m.path, '{"v":1,"udid":"U","remote":"/DCIM/1');
    const m2 = await Manifest.open(dest);
    assert.equal(m2.size, 2);
    assert.equal(m2.badLines, 1);
    assert.equal(m2.get('U', '/DCIM/100APPLE/IMG_0003.JPG')?.local, '100APPLE/IMG_0003.JPG');
    assert.equal(m2.get('U', '/DCIM/100APPLE/IMG_0002.JPG'), undefined);
    await m2.record({ udid: 'U', remote: '/DCIM/x', size: 1, mtimeNs: '1', sha256: 'cd', local: 'x' });
    await m2.close();
    const m3 = await Manifest.open(dest);
    assert.equal(m3.size, 3);
    assert.equal(m3.badLines, 1);
    await m3.close();
    const ro = await Manifest.open(join(dest, 'nope'), { readOnly: true });
    assert.equal(ro.size, 0);
    await assert.rejects(ro.record({ udid: 'U', remote: '/a', size: 1, mtimeNs: '1', sha256: 'x', local: 'a' }), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_MANIFEST');
    await ro.close();
    assert.ok((await readFile(m.path, 'utf8')).split('\n').length >= 6);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});

function df(relPath: string, birth = new Date(2024, 0, 1)): DeviceFile {
  return { remote: `/DCIM/${relPath}`, rel: relPath.split('/'), relPath, size: 1, mtime: birth, mtimeNs: 0n, birthtime: birth };
}

test('manifest: entries read back exactly as recorded (packed mtime / SHA-256 and values that fit no column), across reopen, updates, stale/dropped marks and deletes', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'photos-manifest-'));
  try {
    const sha = 'a'.repeat(63) + 'f';
    const odd = [
      { remote: '/DCIM/a', size: 5, mtimeNs: '1700000000123456789', sha256: sha, local: 'a' },
      { remote: '/DCIM/b', size: 0, mtimeNs: '0', sha256: sha.toUpperCase(), local: 'b' }, // not lowercase hex: kept as is
      { remote: '/DCIM/c', size: 2 ** 40, mtimeNs: '-5', sha256: 'ab', local: 'c', captured: '2024-05-01T10:00:00' },
      { remote: '/DCIM/d', size: 7, mtimeNs: '99999999999999999999', sha256: sha, local: 'd' }, // above int64
      { remote: '/DCIM/e', size: 7, mtimeNs: '007', sha256: sha, local: 'e' }, // not canonical
      { remote: '/DCIM/f', size: 7, mtimeNs: '-9223372036854775808', sha256: '', local: 'f' },
      // local paths: the device name below a folder (only the folder is kept), another name, a leading '/', a trailing '/'
      { remote: '/DCIM/100APPLE/IMG_0001.JPG', size: 1, mtimeNs: '1', sha256: sha, local: "Anna's iPhone/100APPLE/IMG_0001.JPG" },
      { remote: '/DCIM/100APPLE/IMG_0002.JPG', size: 1, mtimeNs: '1', sha256: sha, local: "Anna's iPhone/100APPLE/IMG_0002-1.JPG" },
      { remote: '/DCIM/100APPLE/IMG_0003.JPG', size: 1, mtimeNs: '1', sha256: sha, local: '/IMG_0003.JPG' },
      { remote: '/DCIM/100APPLE/IMG_0004.JPG', size: 1, mtimeNs: '1', sha256: sha, local: 'x/' },
      { remote: 'IMG_0005.JPG', size: 1, mtimeNs: '1', sha256: sha, local: 'IMG_0005.JPG' },
    ];
    const m = await Manifest.open(dest);
    for (const e of odd) await m.record({ udid: 'U', ...e });
    const check = (mm: Manifest, list: typeof odd): void => {
      for (const e of list) assert.deepEqual(mm.get('U', e.remote), { udid: 'U', ...e }, e.remote);
    };
    check(m, odd);
    await m.recordDeleted('U', '/DCIM/a');
    await m.record({ udid: 'U', remote: '/DCIM/g', size: 1, mtimeNs: '12', sha256: sha, local: 'g' }); // may reuse a's slot
    await m.record({ udid: 'U', remote: '/DCIM/b', size: 3, mtimeNs: '13', sha256: sha, local: 'b2' }); // a new version
    await m.recordStale('U', '/DCIM/c');
    await m.close();
    const m2 = await Manifest.open(dest);
    const now = [
      ...odd.slice(2).map((e) => (e.remote === '/DCIM/c' ? { ...e, stale: true } : e)),
      { remote: '/DCIM/g', size: 1, mtimeNs: '12', sha256: sha, local: 'g' },
      { remote: '/DCIM/b', size: 3, mtimeNs: '13', sha256: sha, local: 'b2' },
    ];
    assert.equal(m2.size, now.length);
    assert.equal(m2.get('U', '/DCIM/a'), undefined);
    check(m2, now);
    assert.deepEqual(m2.entries('U').map((e) => e.remote).sort(), now.map((e) => e.remote).sort());
    // every local file ever recorded: a (removed from the device) and b (superseded) too
    assert.deepEqual(m2.recorded().map((r) => `${r.local}:${r.sha256}`).sort(), [
      'a:' + sha, 'b:' + sha.toUpperCase(), 'b2:' + sha, 'c:ab', 'd:' + sha, 'e:' + sha, 'f:', 'g:' + sha,
      ...["Anna's iPhone/100APPLE/IMG_0001.JPG", "Anna's iPhone/100APPLE/IMG_0002-1.JPG", '/IMG_0003.JPG', 'x/', 'IMG_0005.JPG'].map((l) => `${l}:${sha}`),
    ].sort());
    await m2.close();
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});

test('layout: Live Photo pairs, sidecars and E/O variants group together, image first', () => {
  const g = groupFiles(['100APPLE/IMG_0001.MOV', '100APPLE/IMG_0001.HEIC', '100APPLE/IMG_O0001.AAE', '100APPLE/IMG_E0001.HEIC', '100APPLE/IMG_0002.JPG', '101APPLE/IMG_0001.JPG'].map((p) => df(p)));
  assert.equal(g.length, 3);
  assert.deepEqual(g[0]!.members.map((f) => f.relPath), ['100APPLE/IMG_0001.HEIC', '100APPLE/IMG_E0001.HEIC', '100APPLE/IMG_0001.MOV', '100APPLE/IMG_O0001.AAE']);
  assert.equal(withSuffix('IMG_0001.HEIC', 2), 'IMG_0001-2.HEIC');
  assert.equal(suffixOf('IMG_0001.HEIC', 'IMG_0001-2.HEIC'), 2);
  assert.equal(suffixOf('IMG_0001.HEIC', 'IMG_0001.HEIC'), 0);
  assert.equal(suffixOf('IMG_0001.HEIC', 'OTHER.HEIC'), undefined);
});

test('selection: since/until by birth time (until inclusive of the day), include/exclude', () => {
  const sel = makeSelection({ since: '2024-01-01', until: '2024-01-31', include: ['*.heic', '*.mov'], exclude: ['IMG_9*'] });
  assert.equal(isSelected(sel, df('100APPLE/IMG_0001.HEIC', new Date(2024, 0, 31, 23, 0))), true);
  assert.equal(isSelected(sel, df('100APPLE/IMG_0001.HEIC', new Date(2024, 1, 1, 0, 0))), false);
  assert.equal(isSelected(sel, df('100APPLE/IMG_0001.HEIC', new Date(2023, 11, 31, 23, 59))), false);
  assert.equal(isSelected(sel, df('100APPLE/IMG_0001.JPG', new Date(2024, 0, 5))), false);
  assert.equal(isSelected(sel, df('100APPLE/IMG_9001.MOV', new Date(2024, 0, 5))), false);
  for (const bad of [{ since: '2024-13-01' }, { since: 'yesterday' }, { since: '2024-02-01', until: '2024-01-01' }]) {
    assert.throws(() => makeSelection(bad), (e: unknown) => e instanceof InvalidArgumentError);
  }
});

test('ensureSafeDir accepts an existing real folder tree', async () => {
  const root = await mkdtemp(join(tmpdir(), 'photos-safe2-'));
  try {
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    assert.equal(await ensureSafeDir(root, ['a', 'b']), join(root, 'a', 'b'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
