/**
 * The issue's "Must show", end to end over the real AFC stack (folderDevice: AfcClient ⇄ serveAfc on a generated
 * library): a whole library backs up completely and byte-identically with the summary matching python3's sqlite3;
 * an unknown schema degrades to the file-only inventory; Live pairs stay together by content identifier; --album;
 * --albums sidecars; safe deletion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runBackup, type BackupOptions, type BackupSummary } from '../../../../src/photos/backup.ts';
import { Manifest } from '../../../../src/photos/manifest.ts';
import { generateLibrary, type LibraryManifest } from '../../../../src/virtual-iphone/library-generator.ts';
import { brokenPhotos } from '../../../../src/virtual-iphone/photos-app.ts';
import type { DbLayout } from '../../../../src/virtual-iphone/photos-db.ts';
import { skipUnlessTools } from '../../../support/peers.ts';
import { folderDevice } from '../afc-device.ts';

interface Rig {
  root: string;
  dest: string;
  /** The device's folder below DEST (device-folder.ts: its name), where Albums/, library.json, safe-to-delete.* go. */
  devDir: string;
  m: LibraryManifest;
  run: (o?: Partial<BackupOptions>) => Promise<BackupSummary>;
  locals: () => Promise<Map<string, string>>;
  done: () => void;
}

async function rig(layout: DbLayout = 'ios17', count = 40): Promise<Rig> {
  const base = mkdtempSync(join(tmpdir(), 'h16-lib-'));
  const root = join(base, 'media');
  mkdirSync(root);
  const m = await generateLibrary(root, { count, scale: 0.001, seed: 11 }, { layout });
  const dest = join(base, 'dest');
  const dev = folderDevice(root);
  return {
    root, dest, devDir: join(dest, dev.name!), m,
    run: (o = {}) => runBackup({ dest, device: dev, library: true, ...o }),
    locals: async () => {
      const man = await Manifest.open(dest, { readOnly: true });
      const out = new Map<string, string>();
      for (const f of m.files) {
        const e = man.get(dev.udid, `/${f.path}`);
        if (e) out.set(f.path, e.local);
      }
      await man.close();
      return out;
    },
    done: () => rmSync(base, { recursive: true, force: true }),
  };
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

test('library backup: DCIM + iCloud originals + edits + shared album, byte-identical; edits as IMG_E…; Live pairs together; cloud-only listed', async () => {
  const r = await rig();
  try {
    const s = await r.run();
    assert.equal(s.status, 'complete', JSON.stringify({ failed: s.failed, rejected: s.rejected }));
    assert.equal(s.library?.source, 'photos.sqlite');
    assert.equal(s.library?.schema, 'iOS 16–17.5 (ZASSET, Z_28ASSETS)');
    const locals = await r.locals();
    for (const f of r.m.files) {
      const local = locals.get(f.path);
      assert.ok(local, `${f.path} backed up`);
      assert.equal(sha(join(r.dest, local)), f.sha256, `${f.path} byte-identical`);
    }
    assert.equal(s.copied, r.m.files.length);
    // edits beside their original, with Image Capture's names
    for (const [orig, renders] of Object.entries(r.m.edits)) {
      const o = locals.get(orig)!;
      for (const p of renders) {
        const l = locals.get(p)!;
        assert.equal(dirname(l), dirname(o), `${p} next to ${orig}`);
        if (p.includes('FullSizeRender')) assert.match(l, /\/IMG_E\d{4}\.(HEIC|JPG|MOV)$/);
        else assert.match(l, /\/IMG_E?\d{4}\.AAE$/);
      }
    }
    // Live pairs in one folder with one stem family, also when the device names differ
    for (const [still, video] of Object.entries(r.m.livePairs)) assert.equal(dirname(locals.get(video)!), dirname(locals.get(still)!), `${still} + ${video}`);
    assert.ok((s.library?.livePairedById ?? 0) >= 3, `paired by id: ${s.library?.livePairedById}`);
    const cpl = Object.entries(r.m.livePairs).find(([st]) => st.startsWith('PhotoData/CPLAssets/'))!;
    assert.equal(locals.get(cpl[1])!.replace(/\.MOV$/, ''), locals.get(cpl[0])!.replace(/\.(HEIC|JPG)$/, ''), 'an iCloud Live video takes its still\'s name');
    assert.match(locals.get(cpl[0])!, /^Folder iPhone\/iCloud\/group\d+\/IMG_7\d{3}\.(HEIC|JPG)$/, 'iCloud originals keep their original file name');
    // cloud-only: counted and listed, never silently skipped
    assert.deepEqual(s.library!.cloudOnly.map((c) => c.path).sort(), [...r.m.cloudOnly].sort());
    assert.ok(s.library!.cloudOnly.every((c) => c.reason === 'icloud'));
    // a second run copies nothing
    const again = await r.run();
    assert.equal(again.copied, 0);
    assert.equal(again.skipped, r.m.files.length);
  } finally {
    r.done();
  }
});

test('library backup: the summary counts match an independent reader (python3 sqlite3) of the same database', { skip: skipUnlessTools('python3') }, async () => {
  const r = await rig();
  try {
    const s = await r.run({ albums: true });
    const copy = join(r.root, '..', 'py');
    mkdirSync(copy);
    const db = join(r.root, 'PhotoData', 'Photos.sqlite');
    copyFileSync(db, join(copy, 'p.sqlite'));
    copyFileSync(`${db}-wal`, join(copy, 'p.sqlite-wal'));
    const py = `
import sqlite3, json, sys, os
c = sqlite3.connect(sys.argv[1]); root = sys.argv[2]
rows = c.execute('select Z_PK, ZDIRECTORY, ZFILENAME, ZTRASHEDSTATE from ZASSET').fetchall()
live = {r[0] for r in rows if r[3] == 0}
missing = [r for r in rows if r[3] == 0 and not os.path.exists(os.path.join(root, r[1], r[2]))]
icloud = {r[0] for r in c.execute('select ZASSET from ZINTERNALRESOURCE where ZDATASTORESUBTYPE = 1 and ZLOCALAVAILABILITY = -1')}
albums = c.execute("select g.ZTITLE, count(j.Z_3ASSETS) from ZGENERICALBUM g left join Z_28ASSETS j on j.Z_28ALBUMS = g.Z_PK where g.ZKIND in (2, 1505) and g.ZTRASHEDSTATE = 0 group by g.Z_PK order by g.Z_PK").fetchall()
here = lambda r: os.path.exists(os.path.join(root, r[0], r[1]))
flag = lambda col: len([r for r in c.execute('select ZDIRECTORY, ZFILENAME from ZASSET where %s = 1' % col) if here(r)])
edited = [r for r in c.execute('select ZDIRECTORY, ZFILENAME from ZASSET where ZHASADJUSTMENTS = 1 and ZTRASHEDSTATE = 0') if here(r)]
edit_files = 0
for d, f in edited:
  adj = os.path.join(root, 'PhotoData', 'Mutations', d, os.path.splitext(f)[0], 'Adjustments')
  edit_files += len(os.listdir(adj)) if os.path.isdir(adj) else 0
livephotos = [r for r in c.execute('select ZDIRECTORY, ZFILENAME, ZUUID from ZASSET where (ZKINDSUBTYPE = 2 or ZPLAYBACKSTYLE = 3) and ZTRASHEDSTATE = 0') if here(r)]
print(json.dumps({'assets': len(live), 'cloudOnly': len(missing), 'icloudFlag': len([r for r in missing if r[0] in icloud]), 'albums': albums,
  'favorites': flag('ZFAVORITE'), 'hidden': flag('ZHIDDEN'), 'edited': len(edited), 'editFiles': edit_files,
  'live': sorted(r[2] for r in livephotos), 'backedUp': len([r for r in rows if here((r[1], r[2]))])}))`;
    const py3 = JSON.parse(execFileSync('python3', ['-c', py, join(copy, 'p.sqlite'), r.root], { encoding: 'utf8' })) as Record<string, unknown>;
    assert.ok((py3['edited'] as number) >= 1 && (py3['live'] as string[]).length >= 4 && (py3['hidden'] as number) >= 1, JSON.stringify(py3));
    assert.equal(s.library!.assets, py3['assets']);
    assert.equal(s.library!.cloudOnly.length, py3['cloudOnly']);
    assert.equal(s.library!.cloudOnly.filter((c) => c.reason === 'icloud').length, py3['icloudFlag']);
    assert.deepEqual(s.library!.albums.map((a) => [a.title, a.count]), py3['albums']);
    assert.equal(s.library!.albums.filter((a) => !a.shared).length, 3);
    // --albums: one sidecar per album, XMP for flagged assets
    assert.equal(readdirSync(join(r.devDir, 'Albums')).length, 4);
    assert.equal(s.sidecars!.albums, 4);
    const lib = JSON.parse(readFileSync(join(r.devDir, 'library.json'), 'utf8')) as { assets: { uuid: string; files: string[]; favorite: boolean; hidden: boolean; edited: boolean; live: boolean }[] };
    assert.equal(lib.assets.length, py3['backedUp'], 'every asset whose original is on the phone is in library.json');
    assert.equal(lib.assets.filter((a) => a.favorite).length, py3['favorites']);
    assert.equal(lib.assets.filter((a) => a.hidden).length, py3['hidden']);
    // edits: the assets Photos marks as adjusted, and every file of their Adjustments folders
    assert.equal(lib.assets.filter((a) => a.edited).length, py3['edited']);
    assert.equal(s.library!.files.edits, py3['editFiles']);
    assert.ok(lib.assets.filter((a) => a.edited).every((a) => a.files.some((f) => /\/IMG_E\d{4}\.\w+$/.test(f))), 'each edited asset has its IMG_E… render');
    // Live Photos: the same assets, each backed up with its still and its video
    const live = lib.assets.filter((a) => a.live);
    assert.deepEqual(live.map((a) => a.uuid).sort(), py3['live']);
    assert.ok(live.every((a) => a.files.some((f) => /\.(HEIC|JPG)$/i.test(f)) && a.files.some((f) => /\.MOV$/i.test(f))), 'Live pairs whole');
  } finally {
    r.done();
  }
});

test('library backup: a Photos.sqlite of an unknown layout gives the file-only inventory, a warning, and loses nothing', async () => {
  const r = await rig('future');
  try {
    const s = await r.run();
    assert.equal(s.status, 'complete');
    assert.equal(s.library?.source, 'files');
    assert.match(s.library?.warning ?? '', /layout this version does not know/);
    const locals = await r.locals();
    for (const f of r.m.files) assert.equal(sha(join(r.dest, locals.get(f.path)!)), f.sha256, f.path);
    for (const [still, video] of Object.entries(r.m.livePairs)) assert.equal(dirname(locals.get(video)!), dirname(locals.get(still)!), 'Live pairs by content id from the files alone');
    assert.ok((s.library?.livePairedById ?? 0) >= 3);
  } finally {
    r.done();
  }
});

test('library backup --split-by-date: Live pairs with different names and edits share the date folder', async () => {
  const r = await rig();
  try {
    const s = await r.run({ layout: 'date' });
    assert.equal(s.status, 'complete');
    const locals = await r.locals();
    for (const [still, video] of Object.entries(r.m.livePairs)) {
      assert.match(locals.get(still)!, /^Folder iPhone\/\d{4}\/\d{4}-\d{2}-\d{2}\//);
      assert.equal(dirname(locals.get(video)!), dirname(locals.get(still)!), `${still} + ${video}`);
    }
    for (const [orig, renders] of Object.entries(r.m.edits)) for (const p of renders) assert.equal(dirname(locals.get(p)!), dirname(locals.get(orig)!));
  } finally {
    r.done();
  }
});

test('library backup --album NAME: only that album\'s assets (with their Live videos and edits); an unknown album selects nothing', async () => {
  const r = await rig();
  try {
    const holidays = r.m.albums.find((a) => a.title === 'Holidays')!;
    const s = await r.run({ album: 'holidays' });
    assert.equal(s.status, 'complete');
    const locals = await r.locals();
    const want = new Set<string>();
    for (const pk of holidays.assets) {
      const a = r.m.assets.find((x) => x.pk === pk)!;
      const p = `${a.dir}/${a.file}`;
      want.add(p);
      if (r.m.livePairs[p]) want.add(r.m.livePairs[p]!);
      for (const e of r.m.edits[p] ?? []) want.add(e);
    }
    const aae = [...want].map((p) => p.replace(/\.\w+$/, '.AAE')).filter((p) => r.m.files.some((f) => f.path === p));
    for (const p of aae) want.add(p);
    assert.deepEqual([...locals.keys()].sort(), [...want].sort());
    const none = await r.run({ album: 'No such album' });
    assert.equal(none.status, 'partial');
    assert.equal(none.albumNotFound, 'No such album');
    assert.equal(none.selected, 0);
  } finally {
    r.done();
  }
});

test('library backup --albums: XMP sidecars photo managers read (exiftool), album sidecars, a foreign sidecar is never replaced', { skip: skipUnlessTools('exiftool') }, async () => {
  const r = await rig();
  try {
    await r.run({ albums: true });
    const locals = await r.locals();
    const fav = r.m.assets.find((a) => a.favorite && a.local && a.caption === undefined)!;
    const cap = r.m.assets.find((a) => a.caption && a.local)!;
    const x1 = join(r.dest, `${locals.get(`${fav.dir}/${fav.file}`)!}.xmp`);
    const x2 = join(r.dest, `${locals.get(`${cap.dir}/${cap.file}`)!}.xmp`);
    const out = JSON.parse(execFileSync('exiftool', ['-j', '-XMP:all', x1, x2], { encoding: 'utf8' })) as Record<string, unknown>[];
    assert.equal(out[0]!['Rating'], 5);
    assert.equal(out[1]!['Description'], cap.caption);
    const holidays = JSON.parse(readFileSync(join(r.devDir, 'Albums', 'Holidays.json'), 'utf8')) as { items: { files: string[] }[] };
    assert.ok(holidays.items.every((i) => i.files.every((f) => existsSync(join(r.dest, f)))));
    assert.ok(existsSync(join(r.devDir, 'Albums', 'Family_Kids.json')), 'a "/" in a title never makes a folder');
    writeFileSync(x2, '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="darktable"/>\n');
    const s2 = await r.run({ albums: true });
    assert.ok(s2.sidecars!.keptForeign.some((p) => x2.endsWith(p)), 'reported');
    assert.match(readFileSync(x2, 'utf8'), /darktable/, 'left alone');
  } finally {
    r.done();
  }
});

test('library backup --delete-after-import: refused on a phone with a Photos library (report instead); forced, whole groups only and the Photos app shows them broken', async () => {
  const r = await rig();
  try {
    const s = await r.run({ deleteAfterImport: true });
    assert.equal(s.deleted.length, 0);
    assert.match(s.deleteSkipped ?? '', /broken/);
    assert.ok(s.safeToDelete && s.safeToDelete.items > 0 && s.safeToDelete.ranges.length > 0);
    assert.match(readFileSync(join(r.devDir, 'safe-to-delete.txt'), 'utf8'), /Date ranges/);
    assert.deepEqual(brokenPhotos(r.root), [], 'nothing deleted, nothing broken');
    const f = await r.run({ deleteAfterImport: true, deleteEvenIfPhotosBreaks: true });
    assert.ok(f.deleted.length > 0);
    assert.ok(f.deleted.every((p) => !p.startsWith('/PhotoData/CPLAssets/') && !p.startsWith('/PhotoData/PhotoCloudSharingData/')), 'iCloud originals stay');
    const broken = brokenPhotos(r.root);
    assert.ok(broken.length > 0 && broken.every((p) => f.deleted.includes(`/${p}`)), 'the stale-database consequence the warning describes');
    // whole groups: a deleted original took its Live video, edits and .AAE with it
    for (const [still, video] of Object.entries(r.m.livePairs)) {
      if (f.deleted.includes(`/${still}`)) assert.ok(f.deleted.includes(`/${video}`), video);
    }
    for (const [orig, renders] of Object.entries(r.m.edits)) if (f.deleted.includes(`/${orig}`)) for (const p of renders) assert.ok(f.deleted.includes(`/${p}`), p);
  } finally {
    r.done();
  }
});
