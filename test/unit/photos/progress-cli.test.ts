import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatBar, formatBytes, formatDuration, formatSummary, ProgressRenderer } from '../../../src/cli/photos-progress.ts';
import type { BackupSummary } from '../../../src/photos/events.ts';
import { main } from '../../../src/cli/main.ts';

function sink(isTTY = false): PassThrough & { text(): string; isTTY?: boolean; columns?: number } {
  const s = new PassThrough() as PassThrough & { text(): string; isTTY?: boolean; columns?: number };
  let buf = '';
  s.on('data', (c: Buffer) => (buf += c.toString()));
  s.text = () => buf;
  s.isTTY = isTTY;
  s.columns = 100;
  return s;
}

const summary: BackupSummary = {
  status: 'partial', udid: 'U', dest: '/d', dryRun: false, found: 5, selected: 4, toCopy: 4, toCopyBytes: 4_000_000, copied: 3, copiedBytes: 3_000_000, skipped: 1,
  failed: [{ remote: '/DCIM/100APPLE/IMG_0004.JPG', code: 'ERR_AFC_PERM_DENIED', reason: 'denied' }],
  rejected: [{ remote: '/DCIM/100APPLE/..', reason: 'unsafe-name', detail: 'dot component' }],
  dateFallbacks: [{ remote: '/DCIM/100APPLE/IMG_0002.JPG', reason: 'EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date (day 31 of month 2); dated 2023-03-01 by the file\'s time' }],
  repaired: [], deleted: [], keptOnDevice: [], deleteSkipped: '1 file(s) failed', wouldCopy: [], wouldCopyBytes: 0, elapsedMs: 1500,
};

test('progress: units, durations, bar (files, bytes, rate, ETA) within the width', () => {
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1_234_567), '1.2 MB');
  assert.equal(formatBytes(250_000_000_000), '250 GB');
  assert.equal(formatDuration(7_000), '0:07');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  const bar = formatBar({ filesDone: 10, filesTotal: 40, bytesDone: 20_000_000, bytesTotal: 80_000_000, elapsedMs: 1000 }, 100);
  assert.match(bar, /^\[#+\.+\] 10\/40 files {2}20\.0 MB\/80\.0 MB {2}20\.0 MB\/s {2}ETA 0:03$/);
  assert.ok(formatBar({ filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 1, elapsedMs: 0 }, 40).length <= 39);
  const text = formatSummary(summary);
  assert.match(text, /copied 3 file\(s\), 3\.0 MB in 1\.5 s \(2\.0 MB\/s\); 1 already backed up; 1 failed/);
  assert.match(text, /failed: \/DCIM\/100APPLE\/IMG_0004\.JPG \[ERR_AFC_PERM_DENIED\]/);
  assert.match(text, /unsafe-name: "\/DCIM\/100APPLE\/\.\."/);
  assert.match(text, /nothing removed from the device/);
  assert.match(text, /1 file\(s\) dated by their file's time:\n {2}\/DCIM\/100APPLE\/IMG_0002\.JPG: EXIF DateTimeOriginal "2023:02:31 10:00:00" is not a real date/);
});

test('progress: JSON mode writes one parseable line per event and the summary; TTY mode redraws one line', () => {
  const out = sink();
  let t = 0;
  const r = new ProgressRenderer(out, 'json', () => t);
  r.onEvent({ type: 'plan', found: 2, selected: 2, toCopy: 2, toCopyBytes: 10 });
  r.onEvent({ type: 'file', status: 'copied', remote: '/DCIM/a', local: 'a', bytes: 5 });
  t = 1000;
  r.onEvent({ type: 'progress', filesDone: 1, filesTotal: 2, bytesDone: 5, bytesTotal: 10 });
  r.finish(summary);
  const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.deepEqual(lines.map((l) => l.type), ['plan', 'file', 'progress', 'summary']);

  const tty = sink(true);
  const r2 = new ProgressRenderer(tty, 'tty', () => t);
  r2.onEvent({ type: 'plan', found: 2, selected: 2, toCopy: 2, toCopyBytes: 10 });
  t += 200;
  r2.onEvent({ type: 'progress', filesDone: 1, filesTotal: 2, bytesDone: 5, bytesTotal: 10 });
  r2.onEvent({ type: 'file', status: 'failed', remote: '/DCIM/b', bytes: 5, code: 'ERR_X', reason: 'boom' });
  r2.finish(summary);
  assert.ok(tty.text().includes('\r\u001b[K['), 'the bar is redrawn in place');
  assert.match(tty.text(), /\[#+\.*\] 1\/2 files/);
  assert.match(tty.text(), /failed: \/DCIM\/b \[ERR_X\] boom\n/);
});

test('cli: photos rejects bad usage with exit 2 (ERR_INVALID_ARG) before touching a device', async () => {
  const ac = new AbortController();
  for (const args of [['photos'], ['photos', 'restore', 'x'], ['photos', 'backup'], ['photos', 'backup', 'a', 'b'],
    ['photos', 'backup', 'd', '--since', '2024-02-30'], ['photos', 'backup', 'd', '--connections', '9'], ['photos', 'backup', 'd', '--include'],
    ['photos', 'backup', 'd', '--include', '[x'], ['photos', 'backup', 'd', '--bogus']]) {
    const out = sink();
    const err = sink();
    const code = await main(args, { stdout: out, stderr: err, env: {}, signal: ac.signal });
    assert.equal(code, 2, `${args.join(' ')}: ${err.text()}`);
    assert.match(err.text(), /ERR_INVALID_ARG/);
  }
  const out = sink();
  assert.equal(await main(['photos', '--help'], { stdout: out, stderr: sink(), env: {}, signal: ac.signal }), 0);
  assert.match(out.text(), /--delete-after-import/);
});

test('photos CLI: a usbmuxd that accepts but never answers gives ERR_TIMEOUT, not a hang', { timeout: 20_000 }, async () => {
  const { createServer } = await import('node:net');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openPhotoDevice } = await import('../../../src/cli/photos-run.ts');
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-silent-'));
  const sock = join(dir, 'usbmuxd');
  const server = createServer((s) => {
    s.on('data', () => {});
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
    await assert.rejects(openPhotoDevice({ socket: `UNIX:${sock}` }, io, false, { requestMs: 200 }), { code: 'ERR_TIMEOUT' });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo CLI: device options do not apply and are refused with exit 2 (before any emulator starts)', async () => {
  for (const extra of [['--json'], ['--socket', 'UNIX:/tmp/x'], ['-u', 'X'], ['--usb']]) {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d: Buffer) => (text += d.toString()));
    const code = await main(['demo', ...extra], { stdout: new PassThrough(), stderr: err, env: {}, signal: new AbortController().signal });
    assert.equal(code, 2);
    assert.match(text, /ERR_INVALID_ARG/);
  }
});

test('progress: a failure is shown once (live, not again in the summary); interrupted and device-lost runs end in one headline on stderr', () => {
  const out = sink(true);
  const err = sink();
  let t = 0;
  const r = new ProgressRenderer(out, 'tty', () => t, { err });
  r.onEvent({ type: 'plan', found: 5, selected: 4, toCopy: 4, toCopyBytes: 4_000_000 });
  r.onEvent({ type: 'file', status: 'failed', remote: '/DCIM/100APPLE/IMG_0004.JPG', bytes: 1, code: 'ERR_AFC_PERM_DENIED', reason: 'denied' });
  t = 500;
  r.onEvent({ type: 'progress', filesDone: 4, filesTotal: 4, bytesDone: 4_000_000, bytesTotal: 4_000_000 });
  r.finish(summary);
  assert.equal(out.text().split('IMG_0004.JPG').length - 1, 1, 'listed once');
  assert.equal(err.text(), '');

  for (const [status, headline] of [
    ['interrupted', 'interrupted: 3 of 4 copied, rerun to resume'],
    ['device-lost', 'device disconnected: 3 of 4 copied; plug it back in and run again to resume'],
  ] as const) {
    for (const verbose of [false, true]) {
      const o = sink(true);
      const e = sink();
      const rr = new ProgressRenderer(o, 'tty', () => t, { err: e, verbose });
      rr.onEvent({ type: 'plan', found: 5, selected: 4, toCopy: 4, toCopyBytes: 4_000_000 });
      t += 200;
      rr.onEvent({ type: 'progress', filesDone: 3, filesTotal: 4, bytesDone: 3_000_000, bytesTotal: 4_000_000 });
      const lost = { remote: '/DCIM/100APPLE/IMG_0005.JPG', code: 'ERR_PHOTOS_DISCONNECTED', reason: 'gone' };
      if (status === 'device-lost') rr.onEvent({ type: 'file', status: 'failed', bytes: 1, ...lost });
      rr.finish({ ...summary, status, failed: status === 'device-lost' ? [lost] : [] });
      assert.ok(o.text().endsWith('\n'), 'the bar line is ended before the headline');
      assert.doesNotMatch(o.text(), /IMG_0005|copied 3 file/, 'no per-file line, no summary block');
      const want = status === 'device-lost' && verbose ? `${headline}\n  not copied: ${lost.remote} [${lost.code}]\n` : `${headline}\n`;
      assert.equal(e.text(), want, `${status} verbose=${verbose}`);
    }
  }
});

test('progress: abandon() ends the bar line so an error printed next starts on its own line', () => {
  const out = sink(true);
  let t = 0;
  const r = new ProgressRenderer(out, 'tty', () => t);
  r.onEvent({ type: 'plan', found: 1, selected: 1, toCopy: 1, toCopyBytes: 10 });
  t = 200;
  r.onEvent({ type: 'progress', filesDone: 0, filesTotal: 1, bytesDone: 5, bytesTotal: 10 });
  assert.ok(!out.text().endsWith('\n'));
  r.abandon();
  assert.ok(out.text().endsWith('\n'));
});
