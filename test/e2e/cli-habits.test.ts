/**
 * The smaller habits of real use (issue 18, item 7), each through the real CLI (a child process) against the
 * emulator: `--socket /path` as well as `UNIX:/path`; `list -u` of a device that is not there; `listen --usb` as
 * `list --usb`; `listen` naming the UDID in detached/paired events; JSON results of `afc mkdir/mv/rm`; `afc rm` of a
 * folder that is not empty; formatted rates on a terminal; `afc <sub> --help`; no Node warnings anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { noNodeWarnings, runCli, skipUnlessPty, type CliRun } from '../support/cli.ts';

async function withEmulator(fn: (emu: Emulator, sock: string, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'cli-habits-'));
  const sock = join(tmp, 'mux.sock');
  const emu = await startEmulator({ socket: sock, dcimCount: 4, dcim: { scale: 0.005, seed: 5 }, trust: 'auto' });
  try {
    await fn(emu, sock, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

function clean(r: CliRun): CliRun {
  const w = noNodeWarnings(r);
  assert.equal(w, undefined, `a Node warning was printed: ${w}`);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  return r;
}

const json = (r: CliRun): Record<string, unknown> => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

test('--socket takes a bare /path as well as UNIX:/path (list, afc); the environment keeps the strict syntax', () =>
  withEmulator(async (emu, sock) => {
    const udid = emu.devices[0]!.udid;
    for (const s of [sock, `UNIX:${sock}`]) {
      const r = clean(await runCli(['list', '--socket', s, '--json']));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { udid: string }[]).map((d) => d.udid), [udid]);
      const ls = clean(await runCli(['afc', 'ls', '/', '--socket', s]));
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /^DCIM$/m);
    }
    // libimobiledevice ignores a bare path in USBMUXD_SOCKET_ADDRESS: we say so instead of using another daemon
    const env = clean(await runCli(['list'], { env: { USBMUXD_SOCKET_ADDRESS: sock } }));
    assert.equal(env.code, 2);
    assert.match(env.stderr, /^error \[ERR_INVALID_ARG\]: usbmuxd address .* looks like a path: write UNIX:/m);
  }));

test('list -u of a device that is not attached: says so, exit 3 (an error object with --json); the attached one still lists', () =>
  withEmulator(async (emu, sock) => {
    const r = clean(await runCli(['list', '-u', 'nope', '--socket', sock]));
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error [ERR_DEVICE_NOT_FOUND]: device nope is not attached (usbmuxd at UNIX:${sock}: ${emu.devices[0]!.udid})\n`);
    const j = clean(await runCli(['list', '-u', 'nope', '--socket', sock, '--json']));
    assert.equal(j.code, 3);
    assert.deepEqual((json(j).error as { code: string }).code, 'ERR_DEVICE_NOT_FOUND');
    const ok = clean(await runCli(['list', '-u', emu.devices[0]!.udid, '--socket', sock]));
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, new RegExp(`^${emu.devices[0]!.udid} `));
  }));

test('listen --usb is accepted and behaves as list --usb (same exit code and error on a host without USB)', async () => {
  const list = clean(await runCli(['list', '--usb', '--json']));
  const listen = clean(await runCli(['listen', '--usb', '--json', '--count', '1'], { timeoutMs: 20_000 }));
  assert.doesNotMatch(listen.stderr, /not supported/);
  if (list.code === 0) {
    // a USB stack: listen reports what list sees (an attached line per device) or keeps waiting for one
    const devs = JSON.parse(list.stdout) as { udid: string }[];
    if (devs.length > 0) {
      assert.equal(listen.code, 0, listen.stderr);
      assert.equal(json(listen).event, 'attached');
    }
    return;
  }
  assert.equal(listen.code, list.code);
  assert.deepEqual(json(listen).error, json(list).error);
  assert.equal(listen.stderr.split('\n').find((l) => l.startsWith('error')), list.stderr.split('\n').find((l) => l.startsWith('error')));
});

test('listen: attached, paired, detached and re-attached each name the UDID (JSON lines and text lines)', async () => {
  for (const mode of ['json', 'text'] as const) {
    await withEmulator(async (emu, sock) => {
      const udid = emu.devices[0]!.udid;
      let step = 0;
      let paired: Promise<void> = Promise.resolve();
      const r = await runCli(['listen', '--socket', sock, '--count', '4', ...(mode === 'json' ? ['--json'] : [])], {
        timeoutMs: 30_000,
        onOutput: (out) => {
          const n = out.split('\n').filter(Boolean).length;
          if (n >= 1 && step === 0) {
            step = 1; // the device is listed: pair (Paired), then unplug (Detached), then plug back in
            paired = runCli(['pair', '--socket', sock]).then((p) => assert.equal(p.code, 0, p.stderr));
          } else if (n >= 2 && step === 1) {
            step = 2; // Paired is published when the record is saved: unplug once pair has finished its session
            void paired.then(() => emu.detach(), () => emu.detach());
          } else if (n >= 3 && step === 2) {
            step = 3;
            emu.attach();
          }
        },
      });
      await paired;
      clean(r);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 4, r.stdout);
      if (mode === 'json') {
        const evs = lines.map((l) => JSON.parse(l) as { event: string; udid: string; deviceId: number });
        assert.deepEqual(evs.map((e) => e.event), ['attached', 'paired', 'detached', 'attached']);
        for (const e of evs) assert.equal(e.udid, udid, JSON.stringify(e));
        assert.equal(evs[2]!.deviceId, evs[0]!.deviceId);
        assert.notEqual(evs[3]!.deviceId, evs[0]!.deviceId, 'a replug gets a new DeviceID');
      } else {
        assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), ['attached', 'paired', 'detached', 'attached']);
        for (const l of lines) assert.match(l, new RegExp(`^\\w+\\s+${udid}\\s+`), l);
      }
    });
  }
});

test('afc mkdir / mv / rm print a JSON result; rm of a folder that is not empty is refused with a -r hint, -r removes it', () =>
  withEmulator(async (emu, sock) => {
    const media = emu.devices[0]!.mediaDir;
    const afc = (...a: string[]): Promise<CliRun> => runCli(['afc', ...a, '--socket', sock]);
    let r = clean(await afc('mkdir', '/Downloads/a/b', '--json'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { created: '/Downloads/a/b' });
    assert.ok((await stat(join(media, 'Downloads/a/b'))).isDirectory());
    r = clean(await afc('mv', '/Downloads/a', '/Downloads/z', '--json'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { from: '/Downloads/a', to: '/Downloads/z' });
    assert.ok((await stat(join(media, 'Downloads/z/b'))).isDirectory());

    r = clean(await afc('rm', '/Downloads/z'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_AFC_DIR_NOT_EMPTY\]: \/Downloads\/z is a folder that is not empty: use -r to remove it with everything in it$/m);
    r = clean(await afc('rm', '/Downloads/z', '--json'));
    assert.equal(r.code, 1);
    assert.deepEqual(json(r).error, {
      code: 'ERR_AFC_DIR_NOT_EMPTY', name: 'AfcDirNotEmptyError', path: '/Downloads/z',
      message: '/Downloads/z is a folder that is not empty: use -r to remove it with everything in it',
    });
    assert.ok((await stat(join(media, 'Downloads/z/b'))).isDirectory(), 'nothing removed without -r');

    r = clean(await afc('rm', '-r', '/Downloads/z', '--json'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { removed: '/Downloads/z', recursive: true });
    await assert.rejects(stat(join(media, 'Downloads/z')));
    await writeFile(join(media, 'Downloads/f.txt'), 'x');
    r = clean(await afc('rm', '/Downloads/f.txt', '--json'));
    assert.deepEqual(JSON.parse(r.stdout), { removed: '/Downloads/f.txt', recursive: false });
    r = clean(await afc('rm', '/Downloads/f.txt'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_AFC_OBJECT_NOT_FOUND\]/m, 'a missing path is not called a folder');
  }));

test('afc pull on a terminal: the summary rate is formatted ("333.3 B/s", "12.3 MB/s"), never a raw float',
  { skip: skipUnlessPty() }, () =>
    withEmulator(async (emu, sock, tmp) => {
      await writeFile(join(emu.devices[0]!.mediaDir, 'Downloads/tiny.txt'), 'hi');
      for (const remote of ['/Downloads/tiny.txt', '/DCIM']) {
        const r = clean(await runCli(['afc', 'pull', remote, join(tmp, `out-${remote.length}`), '--socket', sock], { tty: true }));
        assert.equal(r.code, 0, r.stdout);
        const summary = r.stdout.replace(/\r\n/g, '\n').split('\n').map((l) => l.split('\r').at(-1)!.replaceAll('\u001b[K', '')).find((l) => /^pulled \d+ files, /.test(l));
        assert.ok(summary, r.stdout);
        assert.match(summary, /^pulled \d+ files, \d+ directories, \d+ links, \d+(\.\d+)? (B|kB|MB|GB) in \d+\.\d s \(\d+(\.\d{1,2})? (B|kB|MB|GB)\/s\)$/, summary);
      }
    }));

test('afc <command> --help shows that command (pull: the cp -r rules); afc --help the overview', async () => {
  const pull = clean(await runCli(['afc', 'pull', '--help']));
  assert.equal(pull.code, 0);
  assert.match(pull.stdout, /^usage: iosdevice afc pull REMOTE \[LOCAL\]/);
  assert.match(pull.stdout, /cp -r/);
  assert.match(pull.stdout, /newdir\/100APPLE/);
  assert.doesNotMatch(pull.stdout, /^commands:/m);
  for (const sub of ['ls', 'stat', 'cat', 'push', 'rm', 'mkdir', 'mv', 'df']) {
    const r = clean(await runCli(['afc', sub, '--socket', '/x.sock', '-h']));
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^usage: iosdevice afc ${sub}\\b`));
    assert.match(r.stdout, /--socket ADDR/);
  }
  const rm = clean(await runCli(['afc', 'rm', '--help']));
  assert.match(rm.stdout, /-r/);
  const all = clean(await runCli(['afc', '--help']));
  assert.match(all.stdout, /^usage: iosdevice afc <command>/);
  assert.match(all.stdout, /^commands:/m);
  assert.match(all.stdout, /afc <command> --help/);
});
