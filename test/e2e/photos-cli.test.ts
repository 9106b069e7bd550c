/**
 * End to end: the real CLI (`bin/iosdevice.mjs photos backup`, a child process) against the virtual
 * iPhone behind its usbmuxd socket (started in this process): pairing, byte-identical copies, an
 * incremental rerun, kill -9 and unplug mid-run then resume, --delete-after-import, hostile names,
 * and `iosdevice demo`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type EmulatorOptions, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import type { DcimManifest } from '../../src/virtual-iphone/dcim-generator.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'iosdevice.mjs');
const CHILD_TIMEOUT_MS = 60_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the CLI with a hard timeout; `onLine` sees each stdout line and may kill the child. */
function cli(args: string[], onLine?: (line: string, child: ChildProcess) => void): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    pending += s;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      onLine?.(line, child);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function summaryOf(r: Run): Record<string, unknown> & { copied: number; skipped: number; failed: unknown[]; rejected: { reason: string }[]; deleted: string[] } {
  const line = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).find((e) => e.type === 'summary');
  assert.ok(line, `no summary in: ${r.stdout.slice(-500)} ${r.stderr}`);
  return line as never;
}

async function sha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** The emulated device's name: its folder below DEST. */
const DEVICE_FOLDER = 'Virtual iPhone';

/** DEST holds exactly the generated files (device layout, in the device's folder), byte-identical, and no .part file. */
async function assertBackup(gen: DcimManifest, dest: string, only?: (path: string) => boolean): Promise<void> {
  const want = gen.files.filter((f) => !only || only(f.path));
  assert.deepEqual((await readdir(dest)).filter((n) => n !== '.iosdevice'), [DEVICE_FOLDER], 'one folder: the device\'s');
  const mine = join(dest, DEVICE_FOLDER);
  const got: string[] = [];
  for (const dir of await readdir(mine)) {
    for (const name of await readdir(join(mine, dir))) got.push(`${dir}/${name}`);
  }
  assert.deepEqual(got.sort(), want.map((f) => f.path.slice('DCIM/'.length)).sort(), 'each device file exactly once');
  for (const f of want) assert.equal(await sha(join(mine, f.path.slice('DCIM/'.length))), f.sha256, f.path);
  assert.deepEqual(await readdir(join(dest, '.iosdevice', 'parts')), []);
}

async function withEmulator(opts: EmulatorOptions, fn: (emu: Emulator, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-e2e-'));
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, ...opts });
  try {
    await fn(emu, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

test('e2e: first use pairs (prompt shown), copies everything byte-identical; the rerun copies nothing', () =>
  withEmulator({ dcimCount: 40, dcim: { scale: 0.02, seed: 4 }, trust: 'auto', trustDelayMs: 300 }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    const r1 = await cli(['photos', 'backup', dest, '--socket', emu.address]);
    assert.equal(r1.code, 0, r1.stderr + r1.stdout.slice(-800));
    assert.match(r1.stderr, /Tap "Trust" on your iPhone/);
    await assertBackup(gen, dest);
    const r2 = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(r2.code, 0);
    const s2 = summaryOf(r2);
    assert.equal(s2.copied, 0);
    assert.equal(s2.skipped, gen.files.length);
    assert.doesNotMatch(r2.stderr, /Trust/, 'already paired: no prompt');
  }));

test('e2e: kill -9 of the CLI mid-run, then a rerun completes with no duplicates and no .part', () =>
  withEmulator({ dcimCount: 60, dcim: { scale: 0.1, seed: 8 }, link: 'usb2' }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    let copiedBeforeKill = 0;
    const r1 = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json'], (line, child) => {
      const e = JSON.parse(line) as { type: string; status?: string };
      if (e.type === 'file' && e.status === 'copied' && ++copiedBeforeKill === 5) child.kill('SIGKILL');
    });
    assert.equal(r1.signal, 'SIGKILL', 'killed mid-run');
    assert.ok(existsSync(join(dest, '.iosdevice', 'lock')), 'the killed run left its lock behind');
    const r2 = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    const s2 = summaryOf(r2);
    assert.ok(s2.copied < gen.files.length && s2.copied > 0, `resumed: ${s2.copied} copied on the rerun`);
    await assertBackup(gen, dest);
  }));

test('e2e: unplugging mid-run ends the run as device-lost (exit 3); after plugging back in the rerun completes', () =>
  withEmulator({ dcimCount: 40, dcim: { scale: 0.05, seed: 9 } }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    emu.devices[0]!.iphone.armFault({ kind: 'detach', afterBytes: Math.floor(gen.totalBytes / 3) });
    const r1 = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(r1.code, 3, 'exit 3: the device was lost (the shared exit-code contract)');
    const s1 = summaryOf(r1);
    assert.equal(s1.status, 'device-lost');
    assert.ok(s1.failed.length > 0);
    emu.attach();
    const r2 = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(s1.copied + summaryOf(r2).copied, gen.files.length, 'nothing copied twice');
    await assertBackup(gen, dest);
  }));

test('e2e: --delete-after-import removes exactly the verified (selected) files from the device', () =>
  withEmulator({ dcimCount: 30, dcim: { scale: 0.02, seed: 10 } }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const media = emu.devices[0]!.mediaDir;
    const dest = join(tmp, 'dest');
    const r = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json', '--delete-after-import', '--exclude', '*.png']);
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    const expected = gen.files.filter((f) => !f.path.endsWith('.PNG'));
    assert.deepEqual([...s.deleted].sort(), expected.map((f) => `/${f.path}`).sort());
    await assertBackup(gen, dest, (p) => !p.endsWith('.PNG'));
    const left = (await readdir(join(media, 'DCIM', '100APPLE'))).sort();
    assert.deepEqual(left, gen.files.filter((f) => f.path.endsWith('.PNG')).map((f) => f.path.split('/').pop()!).sort());
  }));

test('e2e: a hostile device: nothing outside DEST, the refused items are reported, exit 1', () =>
  withEmulator({ dcimCount: 5, dcim: { scale: 0.02, seed: 12 }, hostile: true }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'deep', 'dest');
    const before = existsSync('/tmp/iosdevice-escape.JPG');
    const r = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(r.code, 1);
    const s = summaryOf(r);
    assert.ok(s.rejected.some((x) => x.reason === 'unsafe-name'));
    assert.ok(s.rejected.some((x) => x.reason === 'symlink'));
    assert.equal(existsSync('/tmp/iosdevice-escape.JPG'), before);
    assert.deepEqual(await readdir(join(tmp, 'deep')), ['dest']);
    await assertBackup(gen, dest);
  }));

test('e2e: --dry-run with --include lists what would be copied, with the total size, and writes nothing', () =>
  withEmulator({ dcimCount: 30, dcim: { scale: 0.02, seed: 13 } }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    const r = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json', '--dry-run', '--include', '*.heic', '--include', '*.mov']);
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r) as unknown as { wouldCopy: { remote: string; size: number }[]; wouldCopyBytes: number };
    const picked = gen.files.filter((f) => /\.(HEIC|MOV)$/.test(f.path));
    // an .AAE sidecar is never orphaned: it travels with its selected photo (issue 16)
    const stems = new Set(picked.map((f) => f.path.replace(/\.\w+$/, '')));
    const want = [...picked, ...gen.files.filter((f) => f.path.endsWith('.AAE') && stems.has(f.path.replace(/\.\w+$/, '')))];
    assert.deepEqual(s.wouldCopy.map((w) => w.remote).sort(), want.map((f) => `/${f.path}`).sort());
    assert.equal(s.wouldCopyBytes, want.reduce((a, f) => a + f.size, 0));
    assert.equal(existsSync(dest), false);
    const text = await cli(['photos', 'backup', dest, '--socket', emu.address, '--dry-run']);
    assert.match(text.stdout, /dry run: \d+ file\(s\) would be copied \([\d.]+ [kM]B\)/);
  }));

test('e2e: iosdevice demo pairs, backs up, verifies and reruns', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-demo-'));
  try {
    const r = await cli(['demo', '--dest', join(tmp, 'demo-backup'), '--count', '25']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-800));
    assert.match(r.stderr, /Tap "Trust"/);
    assert.match(r.stdout, /Verified: (\d+) of \1 files are byte-identical/);
    assert.match(r.stdout, /nothing new to copy/);
    // the whole library: iCloud originals, edits, Live pairs by content identifier, cloud-only list, albums
    assert.match(r.stdout, /library: Photos\.sqlite .*[1-9]\d* iCloud original\(s\), [1-9]\d* edit file\(s\).*[1-9]\d* Live Photo\(s\) paired by content identifier/);
    assert.match(r.stdout, /[1-9]\d* photos? (is|are) only in iCloud/);
    assert.match(r.stdout, /--albums: \d+ XMP sidecar\(s\), 4 album file\(s\)/);
    assert.match(r.stdout, /its edit: +\S.*\/IMG_E\d{4}\.(HEIC|JPG)\n/);
    assert.match(r.stdout, /iCloud original: +\S.*\/iCloud\/group\d+\/IMG_7\d{3}\.(HEIC|JPG)\n/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
