import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLibrary, type LibraryIndex } from '../../../../src/photos/library/read-db.ts';
import { generateLibrary, type LibraryManifest } from '../../../../src/virtual-iphone/library-generator.ts';
import type { DbLayout } from '../../../../src/virtual-iphone/photos-db.ts';
import { skipUnlessTools } from '../../../support/peers.ts';

async function make(layout: DbLayout, count = 30): Promise<{ root: string; m: LibraryManifest; db: string }> {
  const root = mkdtempSync(join(tmpdir(), `h16-db-${layout}-`));
  const m = await generateLibrary(root, { count, scale: 0.001, seed: 5 }, { layout });
  return { root, m, db: join(root, 'PhotoData', 'Photos.sqlite') };
}

function index(db: string): LibraryIndex {
  const r = readLibrary(db);
  assert.ok('index' in r, `schema not understood: ${JSON.stringify(r)}`);
  return r.index;
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

for (const [layout, label] of [['ios17', 'iOS 16–17.5 (ZASSET, Z_28ASSETS)'], ['ios18', 'iOS 18 (ZASSET, Z_30ASSETS)'], ['ios13', 'iOS 13 (ZGENERICASSET, Z_26ASSETS)']] as const) {
  test(`library db (${layout}): schema found by discovery; assets, flags, captions, availability and albums read back`, async () => {
    const { root, m, db } = await make(layout);
    try {
      const before = [sha(db), sha(`${db}-wal`)];
      const idx = index(db);
      assert.deepEqual([sha(db), sha(`${db}-wal`)], before, 'reading leaves the database and its WAL byte-identical');
      assert.equal(idx.schema.label, label);
      assert.equal(idx.assets.length, m.assets.length);
      for (const want of m.assets) {
        const got = idx.byPk.get(want.pk)!;
        assert.equal(got.path, `${want.dir}/${want.file}`);
        assert.equal(got.uuid, want.uuid);
        assert.equal(got.live, want.live);
        assert.equal(got.favorite, want.favorite);
        assert.equal(got.hidden, want.hidden);
        assert.equal(got.trashed, want.trashed);
        assert.equal(got.edited, want.edited);
        assert.equal(got.contentId, want.contentId);
        assert.equal(got.caption, want.caption);
        assert.equal(got.title, want.title);
        assert.equal(got.accessibilityDescription, want.accessibilityDescription);
        assert.equal(got.localOriginal, want.local);
        assert.equal(got.createdMs, want.captured.getTime());
      }
      assert.deepEqual(idx.albums.map((a) => [a.title, a.shared, a.assets]), m.albums.map((a) => [a.title, a.kind === 1505, a.assets]));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('library db: rows only in the WAL are read; without the -wal the copy is silently stale', async () => {
  const { root, m, db } = await make('ios17');
  try {
    assert.ok(m.walOnly.length > 0);
    const idx = index(db);
    for (const pk of m.walOnly) assert.ok(idx.byPk.has(pk), `WAL-only asset ${pk} read`);
    const stale = join(root, 'stale');
    mkdirSync(stale);
    copyFileSync(db, join(stale, 'Photos.sqlite'));
    const old = index(join(stale, 'Photos.sqlite'));
    assert.equal(old.assets.length, m.assets.length - m.walOnly.length, 'this is why the backup always copies Photos.sqlite-wal');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('library db: a layout this version does not know gives "unknown" with a reason; garbage gives ERR_PHOTOS_LIBRARY', async () => {
  const { root, db } = await make('future', 5);
  try {
    const r = readLibrary(db);
    assert.ok('unknown' in r && /ZASSET or ZGENERICASSET/.test(r.reason));
    const junk = join(root, 'junk.sqlite');
    writeFileSync(junk, Buffer.alloc(8192, 0x41));
    assert.throws(() => readLibrary(junk), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_LIBRARY');
    assert.throws(() => readLibrary(join(root, 'missing.sqlite')), (e: unknown) => (e as { code?: string }).code === 'ERR_PHOTOS_LIBRARY');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('library db: an independent reader (python3 sqlite3) sees the same counts', { skip: skipUnlessTools('python3') }, async () => {
  const { root, m, db } = await make('ios17', 40);
  try {
    const idx = index(db);
    const copy = join(root, 'py');
    mkdirSync(copy);
    copyFileSync(db, join(copy, 'Photos.sqlite'));
    copyFileSync(`${db}-wal`, join(copy, 'Photos.sqlite-wal'));
    const py = `
import sqlite3, json, sys
c = sqlite3.connect(sys.argv[1])
q = lambda s: c.execute(s).fetchall()
print(json.dumps({
  'assets': q('select count(*) from ZASSET')[0][0],
  'cloudOnly': q('select count(distinct ZASSET) from ZINTERNALRESOURCE where ZDATASTORESUBTYPE = 1 and ZLOCALAVAILABILITY != 1')[0][0],
  'favorites': q('select count(*) from ZASSET where ZFAVORITE = 1')[0][0],
  'captions': q('select count(*) from ZASSETDESCRIPTION where ZLONGDESCRIPTION is not null')[0][0],
  'albums': q("select g.ZTITLE, count(j.Z_3ASSETS) from ZGENERICALBUM g left join Z_28ASSETS j on j.Z_28ALBUMS = g.Z_PK where g.ZKIND in (2, 1505) group by g.Z_PK order by g.Z_PK"),
}))`;
    const got = JSON.parse(execFileSync('python3', ['-c', py, join(copy, 'Photos.sqlite')], { encoding: 'utf8' })) as Record<string, unknown>;
    assert.equal(got['assets'], idx.assets.length);
    assert.equal(got['cloudOnly'], idx.assets.filter((a) => a.localOriginal === false).length);
    assert.equal(got['cloudOnly'], m.cloudOnly.length);
    assert.equal(got['favorites'], idx.assets.filter((a) => a.favorite).length);
    assert.equal(got['captions'], idx.assets.filter((a) => a.caption).length);
    assert.deepEqual(got['albums'], idx.albums.map((a) => [a.title, a.assets.length]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
