/**
 * Hostile-device suite (issue 12): the real CLI (`iosdevice photos backup`, a child process) against an
 * independent raw AFC responder (test/support/hostile-afc.ts) behind the project's usbmuxd server and
 * lockdownd. One test per attack. Each checks the exit code (0 complete, 1 something refused or failed,
 * 3 device lost), the message/code, the child's peak RSS, that nothing was written outside DEST (an strace
 * write trace where marked, else the sandbox around DEST), and that nothing was removed from the device
 * without a byte-identical copy in DEST.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hugeListing } from '../support/hostile-afc.ts';
import { HAS_STRACE, destFiles, summaryOf, violations, withHostile, type CliRun } from '../support/hostile-run.ts';
import { skipUnlessTools } from '../support/peers.ts';

const MB = 1024 * 1024;
/** Peak RSS any attack may cost the CLI (its baseline with tsx is about 130 MB). */
const RSS_CAP = 320 * MB;

function photo(seed: number, size = 3000): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  b[0] = 0xff;
  b[1] = 0xd8; // looks like a JPEG to a sniffer; no EXIF (the file date is used)
  return b;
}

/** The emulated device's folder below DEST (its DeviceName, photos/device-folder.ts), with the separator. */
const D = 'Virtual iPhone/';

function report(t: TestContext, name: string, r: CliRun): void {
  t.diagnostic(`${name}: exit ${r.code}, ${(r.peakRss / MB).toFixed(0)} MB peak RSS, ${(r.ms / 1000).toFixed(1)} s`);
}

test('hostile: a device folder named .iosdevice (/DCIM/.iosdevice/parts/IMG_7777.JPG) with --delete-after-import, then a normal run: nothing lost', (t) =>
  withHostile({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/.iosdevice/parts', 'IMG_7777.JPG', photo(7777, 9000));
    afc.file('/DCIM/.IOSDEVICE', 'lock', photo(2));
  }, async (h) => {
    const before = h.afc.files();
    const r1 = await h.backup(['--delete-after-import']);
    report(t, 'delete run', r1);
    assert.equal(r1.code, 0, r1.stderr + r1.stdout.slice(-800));
    const s1 = summaryOf(r1);
    assert.equal(s1.copied, 3);
    assert.deepEqual(h.afc.removed.sort(), [...before.keys()].sort());
    const r2 = await h.backup();
    assert.equal(r2.code, 0, r2.stderr);
    const files = await destFiles(h.dest);
    assert.equal(files.get(`${D}_.iosdevice/parts/IMG_7777.JPG`), (await import('node:crypto')).createHash('sha256').update(before.get('/DCIM/.iosdevice/parts/IMG_7777.JPG')!).digest('hex'));
    assert.ok(files.has(`${D}_.IOSDEVICE/lock`));
    assert.ok(files.has(`${D}100APPLE/IMG_0001.JPG`));
    assert.deepEqual(await violations(h, before, r1), []);
    assert.ok(r1.peakRss < RSS_CAP);
  }));

test('hostile: names with .., /, \\, NUL, 10k characters, NFC/NFD and case-only twins; nothing written outside DEST (write trace)', { skip: HAS_STRACE ? false : skipUnlessTools('strace') }, (t) =>
  withHostile(
    {
      listing: (p) =>
        p === '/DCIM/100APPLE'
          ? ['IMG_0001.JPG', '../../../../../../tmp/iosdevice-escape.JPG', '..', '.', '', 'sub/IMG_0002.JPG', 'IMG_0003\\..\\..\\x.JPG', 'IMG_0004\0.JPG', 'X'.repeat(10_000), 'Cafe\u0301.JPG', 'Caf\u00e9.JPG', 'img_0001.jpg']
          : undefined,
    },
    (afc) => {
      afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
      afc.file('/DCIM/100APPLE', '../../../../../../tmp/iosdevice-escape.JPG', photo(66));
      afc.file('/DCIM/100APPLE', 'sub/IMG_0002.JPG', photo(2));
      afc.file('/DCIM/100APPLE', 'IMG_0003\\..\\..\\x.JPG', photo(3));
      afc.file('/DCIM/100APPLE', 'X'.repeat(10_000), photo(4));
      afc.file('/DCIM/100APPLE', 'Cafe\u0301.JPG', photo(5));
      afc.file('/DCIM/100APPLE', 'Caf\u00e9.JPG', photo(6));
      afc.file('/DCIM/100APPLE', 'img_0001.jpg', photo(7));
    },
    async (h) => {
      const before = h.afc.files();
      const r = await h.backup([], { strace: true });
      report(t, 'names', r);
      assert.equal(r.code, 1, r.stderr + r.stdout.slice(-800));
      const s = summaryOf(r);
      const refused = new Map(s.rejected.map((x) => [x.remote.slice('/DCIM/100APPLE/'.length), x.reason]));
      assert.equal(refused.get('../../../../../../tmp/iosdevice-escape.JPG'), 'unsafe-name');
      assert.equal(refused.get('sub/IMG_0002.JPG'), 'unsafe-name');
      assert.equal(refused.get('IMG_0003\\..\\..\\x.JPG'), 'unsafe-name');
      assert.equal(refused.get('X'.repeat(10_000)), 'unsafe-name');
      assert.equal(refused.get(''), 'unsafe-name');
      // the NUL splits the name on the wire: 'IMG_0004' and '.JPG' are stat'ed and do not exist
      assert.equal(refused.get('IMG_0004'), 'vanished');
      // twins are distinct device files: each is copied, byte-identical, none overwrites another
      const files = await destFiles(h.dest);
      const want = ['IMG_0001.JPG', 'img_0001.jpg', 'Cafe\u0301.JPG', 'Caf\u00e9.JPG'];
      assert.deepEqual([...files.keys()].map((k) => k.slice(`${D}100APPLE/`.length)).sort(), want.sort());
      assert.equal(new Set(files.values()).size, 4);
      assert.ok(r.writes && r.writes.length > 0, 'the trace saw the writes');
      assert.deepEqual(await violations(h, before, r), []);
      assert.ok(r.peakRss < RSS_CAP);
    },
  ));

test('hostile: lying st_size (bigger and smaller than the data) fails those files, places nothing for them, removes nothing', (t) =>
  withHostile({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_0002.JPG', photo(2, 3000), { info: { st_size: '5000' } });
    afc.file('/DCIM/100APPLE', 'IMG_0003.JPG', photo(3, 3000), { info: { st_size: '1000' } });
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup(['--delete-after-import']);
    report(t, 'st_size', r);
    assert.equal(r.code, 1, r.stderr + r.stdout.slice(-800));
    const s = summaryOf(r);
    assert.deepEqual(s.failed.map((f) => [f.remote, f.code]).sort(), [['/DCIM/100APPLE/IMG_0002.JPG', 'ERR_PHOTOS_VERIFY'], ['/DCIM/100APPLE/IMG_0003.JPG', 'ERR_PHOTOS_VERIFY']]);
    assert.deepEqual([...(await destFiles(h.dest)).keys()], [`${D}100APPLE/IMG_0001.JPG`]);
    assert.deepEqual(h.afc.removed, [], 'nothing is removed when anything failed');
    assert.deepEqual(await violations(h, before, r), []);
  }));

test('hostile: symlinks out of the media folder are reported and never followed', (t) =>
  withHostile({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.symlink('/DCIM/100APPLE', 'IMG_0002.JPG', '/etc/passwd');
    afc.symlink('/DCIM/100APPLE', 'IMG_0003.JPG', '../../../../etc/hostname');
    afc.symlink('/DCIM', '103APPLE', '/');
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup(['--delete-after-import']);
    report(t, 'symlinks', r);
    assert.equal(r.code, 1);
    const s = summaryOf(r);
    assert.deepEqual(s.rejected.map((x) => [x.remote, x.reason]).sort(), [
      ['/DCIM/100APPLE/IMG_0002.JPG', 'symlink'], ['/DCIM/100APPLE/IMG_0003.JPG', 'symlink'], ['/DCIM/103APPLE', 'symlink'],
    ]);
    assert.deepEqual([...new Set(h.afc.readPaths)], ['/DCIM/100APPLE/IMG_0001.JPG'], 'no symlink was opened');
    assert.deepEqual(h.afc.removed, ['/DCIM/100APPLE/IMG_0001.JPG']);
    assert.deepEqual(await violations(h, before, r), []);
  }));

test('hostile: malformed stat replies (st_size -1, garbage st_mtime, no st_ifmt) cost one entry each; no reconnect', (t) =>
  withHostile({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_0002.JPG', photo(2), { info: { st_size: '-1' } });
    afc.file('/DCIM/100APPLE', 'IMG_0003.JPG', photo(3), { info: { st_mtime: 'last tuesday' } });
    afc.file('/DCIM/100APPLE', 'IMG_0004.JPG', photo(4), { info: { st_ifmt: undefined } });
    afc.file('/DCIM/100APPLE', 'IMG_0005.JPG', photo(5));
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup();
    report(t, 'stat', r);
    assert.equal(r.code, 1);
    const s = summaryOf(r);
    assert.deepEqual(s.rejected.map((x) => [x.remote.slice(-12), x.reason, x.code]).sort(), [
      ['IMG_0002.JPG', 'bad-entry', 'ERR_AFC_BAD_REPLY'], ['IMG_0003.JPG', 'bad-entry', 'ERR_AFC_BAD_REPLY'], ['IMG_0004.JPG', 'bad-entry', 'ERR_AFC_BAD_REPLY'],
    ]);
    assert.match(s.rejected.find((x) => x.remote.endsWith('IMG_0002.JPG'))!.detail, /st_size is not a non-negative safe integer: "-1"/);
    assert.equal(s.copied, 2);
    assert.equal(h.afc.connections, 2, 'the two connection slots, never replaced');
    assert.equal(r.stdout.includes('"type":"reconnect"'), false);
    assert.deepEqual(await violations(h, before, r), []);
  }));

test('hostile: a name listed three times is copied once and removed once', (t) =>
  withHostile({ listing: (p) => (p === '/DCIM/100APPLE' ? ['IMG_0001.JPG', 'IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0001.JPG'] : undefined) }, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_0002.JPG', photo(2));
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup(['--delete-after-import']);
    report(t, 'duplicates', r);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-500));
    assert.equal(summaryOf(r).copied, 2);
    assert.deepEqual(h.afc.removed.sort(), ['/DCIM/100APPLE/IMG_0001.JPG', '/DCIM/100APPLE/IMG_0002.JPG']);
    assert.deepEqual(h.afc.readPaths.filter((p) => p.endsWith('IMG_0001.JPG')).length, 2, 'read once to copy, once to re-check before the removal');
    assert.deepEqual(await violations(h, before, r), []);
  }));

for (const kind of ['packet_num', 'length', 'magic'] as const) {
  test(`hostile: a reply with a bad ${kind} ends that connection (ERR_PROTOCOL); persistent: exit 3 after the reconnects, nothing lost`, (t) =>
    withHostile({ corrupt: (q) => (q.op === 10 && q.path === '/DCIM/100APPLE/IMG_0003.JPG' ? kind : undefined) }, (afc) => {
      for (let i = 1; i <= 5; i++) afc.file('/DCIM/100APPLE', `IMG_000${i}.JPG`, photo(i));
    }, async (h) => {
      const before = h.afc.files();
      const r = await h.backup(['--delete-after-import', '--connections', '1']);
      report(t, kind, r);
      assert.equal(r.code, 3, r.stderr + r.stdout.slice(-800));
      const s = summaryOf(r);
      assert.equal(s.status, 'device-lost');
      assert.equal((s as { stopped?: { code: string } }).stopped?.code, 'ERR_PHOTOS_DISCONNECTED');
      assert.match((s as { stopped?: { message: string } }).stopped?.message ?? '', /reconnect budget is spent \(last: afc: /);
      assert.equal(h.afc.connections, 4, 'the first connection and 3 reconnects');
      assert.deepEqual(h.afc.removed, []);
      assert.deepEqual(await violations(h, before, r), []);
    }));
}

test('hostile: a bad frame on the first connection only: the run reconnects and completes (exit 0)', (t) =>
  withHostile({ corrupt: (q) => (q.conn === 1 && q.op === 10 && q.path?.endsWith('IMG_0002.JPG') ? 'magic' : undefined) }, (afc) => {
    for (let i = 1; i <= 4; i++) afc.file('/DCIM/100APPLE', `IMG_000${i}.JPG`, photo(i));
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup(['--connections', '1']);
    report(t, 'transient', r);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-800));
    assert.equal(summaryOf(r).copied, 4);
    assert.ok(r.stdout.includes('"type":"reconnect"'));
    assert.deepEqual(await violations(h, before, r), []);
  }));

test('hostile: one listing of 10^6 names fails fast with the cap error (ERR_PHOTOS_LIMIT), below 512 MB; the rest is copied', (t) => {
  let big: Buffer | undefined;
  return withHostile({ listing: (p) => (p === '/DCIM/999APPLE' ? (big ??= hugeListing(1_000_000)) : undefined) }, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
    afc.dir('/DCIM/999APPLE');
  }, async (h) => {
    const before = h.afc.files();
    const r = await h.backup();
    report(t, '10^6 listing', r);
    assert.equal(r.code, 1, r.stderr + r.stdout.slice(-800));
    const s = summaryOf(r);
    assert.deepEqual(s.rejected.map((x) => [x.remote, x.reason, x.code]), [['/DCIM/999APPLE', 'limit', 'ERR_PHOTOS_LIMIT']]);
    assert.match(s.rejected[0]!.detail, /more than 100,000 entries/);
    assert.equal(s.copied, 1);
    assert.ok(r.peakRss < 512 * MB, `${r.peakRss / MB} MB`);
    assert.ok(h.afc.requests < 50, `${h.afc.requests} requests: no stat per listed name`);
    assert.deepEqual(await violations(h, before, r), []);
  });
});

test('hostile: a self-referencing fan-out tree (8 folders per folder) ends quickly with the cap error and bounded RSS', (t) =>
  withHostile(
    {
      lookup: (p) => (p.startsWith('/DCIM/FAN/') ? { kind: 'dir' } : undefined),
      listing: (p) => (p === '/DCIM/FAN' || p.startsWith('/DCIM/FAN/') ? ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] : undefined),
    },
    (afc) => {
      afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', photo(1));
      afc.dir('/DCIM/FAN');
    },
    async (h) => {
      const before = h.afc.files();
      const r = await h.backup([], { timeoutMs: 120_000 });
      report(t, 'fan-out', r);
      assert.equal(r.code, 1, r.stderr + r.stdout.slice(-800));
      const s = summaryOf(r);
      const lim = s.rejected.filter((x) => x.reason === 'limit');
      assert.equal(lim.length, 1);
      assert.equal(lim[0]!.code, 'ERR_PHOTOS_LIMIT');
      assert.match(lim[0]!.detail, /more than 10,000 folders/);
      assert.ok(h.afc.requests < 15_000, `${h.afc.requests} requests`);
      assert.ok(r.peakRss < RSS_CAP, `${r.peakRss / MB} MB`);
      assert.deepEqual(await violations(h, before, r), []);
    },
  ));

test('hostile: the manifest of a run is readable JSON lines whatever the names (no line a later run could misread)', (t) =>
  withHostile({}, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_"quoted"\u2028.JPG', photo(1));
    afc.file('/DCIM/100APPLE', 'IMG_{"v":1}.JPG', photo(2));
  }, async (h) => {
    const r = await h.backup();
    report(t, 'manifest', r);
    assert.equal(r.code, 0, r.stderr);
    const all = (await readFile(join(h.dest, '.iosdevice', 'manifest.jsonl'), 'utf8')).trim().split('\n');
    const lines = all.filter((l) => (JSON.parse(l) as { op?: string }).op !== 'device'); // the device's folder (device-folder.ts)
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(typeof (JSON.parse(l) as { remote: string }).remote, 'string');
    const r2 = await h.backup();
    assert.equal(summaryOf(r2).skipped, 2);
  }));
