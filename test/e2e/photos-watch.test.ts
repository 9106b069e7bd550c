/**
 * `iosdevice photos watch DEST` as a service runs it: the real CLI (a child process) watching the virtual
 * iPhone's usbmuxd socket while the test plugs the device in and out (emulator.attach/detach), adds photos to
 * its camera roll between plug-ins, and restarts the usbmuxd socket server (emulator.stopSocket/startSocket).
 * Exactly one run per attach, every new file copied once, a reconnect after the daemon restart, an unpaired
 * device skipped with "pair first", SIGINT / SIGTERM ending in 130 / 143 with the run in flight interrupted and
 * resumable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/virtual-iphone/emulator.ts';
import { noNodeWarnings, runCli, type CliControl, type CliRun } from '../support/cli.ts';
import { filesBelow } from '../support/files.ts';

async function withEmulator(opts: EmulatorOptions, fn: (emu: Emulator, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-watch-'));
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, trust: 'auto', trustDelayMs: 0, dcimCount: 6, dcim: { scale: 0.02, seed: 33 }, ...opts });
  try {
    await fn(emu, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function sha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Adds `n` photos to the phone's camera roll under new names (copies of a generated JPEG/PNG). */
async function addPhotos(emu: Emulator, n: number, from: number): Promise<string[]> {
  const d = emu.devices[0]!;
  const src = d.manifest!.files.find((f) => f.kind === 'jpg' || f.kind === 'png') ?? d.manifest!.files[0]!;
  const ext = src.path.slice(src.path.lastIndexOf('.'));
  const added: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `IMG_${String(from + i).padStart(4, '0')}${ext}`;
    await copyFile(join(d.mediaDir, src.path), join(d.mediaDir, 'DCIM', '100APPLE', name));
    added.push(name);
  }
  return added;
}

/** A running `photos watch`: its output so far, a way to wait for a line, and its exit. */
interface Watch {
  out(): string;
  lines(): Record<string, unknown>[];
  until(what: string, pred: () => boolean | Promise<boolean>, ms?: number): Promise<void>;
  ctl(): CliControl;
  done: Promise<CliRun>;
}

function startWatch(args: string[]): Watch {
  let stdout = '';
  let ctl: CliControl | undefined;
  const done = runCli(['photos', 'watch', ...args], {
    timeoutMs: 150_000,
    onOutput: (s, c) => {
      stdout = s;
      ctl = c;
    },
  });
  let exited: CliRun | undefined;
  void done.then((r) => (exited = r));
  const w: Watch = {
    out: () => stdout,
    lines: () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    async until(what, pred, ms = 60_000) {
      const t0 = Date.now();
      while (!(await pred())) {
        if (exited) assert.fail(`watch exited (${exited.code}) while waiting for ${what}: ${stdout}\n${exited.stderr}`);
        if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}: ${stdout}`);
        await sleep(50);
      }
    },
    ctl: () => ctl!,
    done,
  };
  return w;
}

const ofType = (w: Watch, type: string): Record<string, unknown>[] => w.lines().filter((l) => l.type === type);

test('attach, detach, reattach three times: exactly three runs, every new file copied once; a usbmuxd restart: reconnect and one more run; SIGINT: 130', () =>
  withEmulator({}, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const pair = await runCli(['pair', '--socket', emu.address]);
    assert.equal(pair.code, 0, pair.stderr);
    emu.detach();
    const w = startWatch([dest, '--socket', emu.address, '--json']);
    await w.until('listening', () => ofType(w, 'listening').length === 1);
    const gen = emu.devices[0]!.manifest!.files;
    const expected = [gen.length, 2, 3];
    const added: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) added.push(...(await addPhotos(emu, expected[i]!, 9000 + i * 10)));
      emu.attach();
      await w.until(`run ${i + 1}`, () => ofType(w, 'run').length === i + 1);
      const run = ofType(w, 'run')[i]!;
      assert.equal(run.status, 'complete', JSON.stringify(run));
      assert.equal(run.copied, expected[i], `run ${i + 1} copies only the new files`);
      assert.equal(run.skipped, expected.slice(0, i).reduce((a, b) => a + b, 0));
      if (i < 2) emu.detach();
    }
    await sleep(1000); // nothing else happens: no run without an attach
    assert.equal(ofType(w, 'run').length, 3, 'exactly three runs');
    assert.equal(ofType(w, 'run-start').length, 3);
    // every file on the phone is in DEST exactly once, byte-identical
    const files = await filesBelow(dest);
    assert.equal(files.length, gen.length + added.length, files.join('\n'));
    const names = files.map((f) => f.split('/').pop()!);
    assert.equal(new Set(names).size, names.length, 'no file copied twice');
    for (const a of added) assert.ok(names.includes(a), `${a} copied`);
    const media = emu.devices[0]!.mediaDir;
    for (const f of files) {
      const name = f.split('/').pop()!;
      const onPhone = gen.find((g) => g.path.endsWith(`/${name}`))?.path ?? `DCIM/100APPLE/${name}`;
      assert.equal(await sha(join(dest, f)), await sha(join(media, onPhone)), f);
    }

    // usbmuxd restarts while the phone stays plugged in: the watch reconnects and backs up what is new
    const late = await addPhotos(emu, 1, 9100);
    await emu.stopSocket();
    await w.until('usbmuxd-lost', () => ofType(w, 'usbmuxd-lost').length === 1);
    await sleep(700); // down for a while: at least one reconnect attempt fails
    await emu.startSocket();
    await w.until('reconnected', () => ofType(w, 'listening').length === 2);
    assert.equal(ofType(w, 'listening')[1]!.reconnected, true);
    await w.until('run 4', () => ofType(w, 'run').length === 4);
    const run4 = ofType(w, 'run')[3]!;
    assert.equal(run4.status, 'complete');
    assert.equal(run4.copied, 1);
    assert.ok((await filesBelow(dest)).some((f) => f.endsWith(`/${late[0]}`)));

    w.ctl().child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(noNodeWarnings(r), undefined);
    assert.equal(w.lines().at(-1)!.type, 'stopped');
  }));

test('an unpaired device is skipped with "pair first" (never a prompt); once paired and replugged it is backed up; text lines; SIGTERM: 143', () =>
  withEmulator({}, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const w = startWatch([dest, '--socket', emu.address]);
    await w.until('skip line', () => /skipped: this computer is not trusted by the device; pair first \(iosdevice pair -u [\w-]+\)/.test(w.out()));
    assert.match(w.out(), /watching UNIX:.* for devices; backups go to /);
    assert.deepEqual(await filesBelow(dest), []);
    assert.equal(emu.devices[0]!.iphone.lockdown.trust, 'auto');
    assert.equal(await emu.records.read(emu.devices[0]!.udid), undefined, 'the watch did not pair');

    const pair = await runCli(['pair', '--socket', emu.address]);
    assert.equal(pair.code, 0, pair.stderr);
    emu.detach();
    emu.attach();
    await w.until('run line', () => /: complete: copied \d+ file\(s\)/.test(w.out()));
    const n = emu.devices[0]!.manifest!.files.length;
    const line = w.out().split('\n').find((l) => /: complete: /.test(l))!;
    assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ .+ \\([\\w-]+\\): complete: copied ${n} file\\(s\\), [\\d.]+ [kM]B in [\\d.]+ s; 0 already backed up; 0 failed$`));
    assert.equal((await filesBelow(dest)).length, n);

    w.ctl().child.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 143, r.stderr);
    assert.equal(noNodeWarnings(r), undefined);
  }));

test('SIGTERM during a run: the run ends interrupted (its line printed), exit 143; photos backup resumes it', () =>
  withEmulator({ dcimCount: 30, dcim: { scale: 0.05, seed: 34 }, link: { bytesPerSecond: 3_000_000, roundTripMs: 0.5 } }, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const pair = await runCli(['pair', '--socket', emu.address]);
    assert.equal(pair.code, 0, pair.stderr);
    const w = startWatch([dest, '--socket', emu.address, '--json']);
    await w.until('run-start', () => ofType(w, 'run-start').length === 1);
    await w.until('a few files copied', async () => (await filesBelow(dest)).length >= 3);
    w.ctl().child.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 143, r.stderr);
    const runs = ofType(w, 'run');
    assert.equal(runs.length, 1, w.out());
    assert.equal(runs[0]!.status, 'interrupted');
    const copied = runs[0]!.copied as number;
    const total = emu.devices[0]!.manifest!.files.length;
    assert.ok(copied < total, `interrupted before the end (${copied} of ${total})`);
    const again = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const s = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { copied: number; status: string };
    assert.equal(s.status, 'complete');
    assert.equal(copied + s.copied, total, 'the rerun copies exactly what was left');
  }));

test('replugged twice while its run is going: one more run after it (coalesced), not two; every file once', () =>
  withEmulator({ dcimCount: 30, dcim: { scale: 0.05, seed: 35 }, link: { bytesPerSecond: 3_000_000, roundTripMs: 0.5 } }, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const pair = await runCli(['pair', '--socket', emu.address]);
    assert.equal(pair.code, 0, pair.stderr);
    const w = startWatch([dest, '--socket', emu.address, '--json']);
    await w.until('a few files copied', async () => ofType(w, 'run-start').length === 1 && (await filesBelow(dest)).length >= 3);
    // two quick replugs (the four events reach the watch together, while run 1 is still going)
    emu.detach();
    emu.attach();
    emu.detach();
    emu.attach();
    await w.until('two runs', () => ofType(w, 'run').length === 2 && ofType(w, 'run')[1]!.status === 'complete', 90_000);
    await sleep(1000);
    assert.equal(ofType(w, 'run').length, 2, w.out());
    assert.equal(ofType(w, 'run-start').length, 2);
    // run 1 either lost its device or (the provider finds the replugged phone by UDID) went on; either way one run follows
    const [r1, r2] = ofType(w, 'run') as { status: string; copied: number; skipped: number }[];
    const total = emu.devices[0]!.manifest!.files.length;
    assert.equal(r1!.copied + r2!.copied, total, 'each file copied once over the two runs');
    const files = await filesBelow(dest);
    assert.equal(files.length, total);
    w.ctl().child.kill('SIGINT');
    assert.equal((await w.done).code, 130);
  }));
