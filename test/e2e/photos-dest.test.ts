/**
 * End to end, DEST problems (issue 17, gap 4): the real CLI (`photos backup`, `photos verify --repair`, a child
 * process) against the virtual iPhone, writing into real mounts: a small tmpfs filled before the run and one that
 * fills up during the copy (ENOSPC), a read-only mount (EROFS), DEST being a file, and a DEST the user may not
 * write (the CLI runs as uid 65534). For each: its ERR_PHOTOS_DEST_* code and a message that says what to do, exit
 * 4, no stack trace, no per-file failures, no `.part` (or temporary) left anywhere under DEST, the lock released,
 * and nothing lost: once DEST is fixed the rerun backs up every file byte-identical.
 *
 * Needs root (mount, and a second uid); skipped with that reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import type { DcimManifest } from '../../src/virtual-iphone/dcim-generator.ts';
import { runCli, type CliRun } from '../support/cli.ts';

const NOBODY = 65534;
const DEVICE_FOLDER = 'Virtual iPhone';

/** Why this file cannot run here, or false: it mounts tmpfs file systems. */
function mountSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: the DEST problems are made with real mounts (tmpfs, read-only)';
  const probe = join(tmpdir(), `dest-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return false;
  } catch {
    return 'mount -t tmpfs is not permitted here (no CAP_SYS_ADMIN)';
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}
const skip = mountSkip();

function mount(dir: string, opts: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
}
function remount(dir: string, opts: string): void {
  execFileSync('mount', ['-o', `remount,${opts}`, dir]);
}
function unmountAll(dirs: readonly string[]): void {
  for (const d of [...dirs].reverse()) {
    try {
      execFileSync('umount', [d], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', d], { stdio: 'ignore' });
      } catch {
        // not mounted (the test failed before mounting it)
      }
    }
  }
}

/** Fills the file system of `dir` with a file of zeros until it is full (ENOSPC). */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

interface Env {
  emu: Emulator;
  gen: DcimManifest;
  tmp: string;
  /** Mount points made by the test; unmounted afterwards, whatever happened. */
  mounts: string[];
  cli(args: string[], o?: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv }): Promise<CliRun>;
}

async function withEnv(seed: number, fn: (env: Env) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-dest-e2e-'));
  chmodSync(tmp, 0o755); // the unprivileged user must reach the socket and its own folders in here
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, dcimCount: 30, dcim: { scale: 0.05, seed }, trust: 'auto' });
  chmodSync(join(tmp, 'mux.sock'), 0o777);
  const mounts: string[] = [];
  const env: Env = {
    emu, gen: emu.devices[0]!.manifest!, tmp, mounts,
    cli: (args, o = {}) => runCli([...args, '--socket', emu.address], { timeoutMs: 60_000, ...o }),
  };
  try {
    await fn(env);
  } finally {
    unmountAll(mounts);
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A tmpfs mounted at tmp/name (recorded for the clean-up). */
async function tmpfs(env: Env, name: string, opts: string): Promise<string> {
  const dir = join(env.tmp, name);
  await mkdir(dir, { recursive: true });
  mount(dir, opts);
  env.mounts.push(dir);
  return dir;
}

/** Every path below `dir` (not following symlinks). */
async function allPaths(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await allPaths(p)));
  }
  return out;
}

/** No .part, no temporary and no lock anywhere below `dir`. */
async function assertClean(dir: string, what: string): Promise<void> {
  const left = (await allPaths(dir)).filter((p) => /\.(part|tmp)$/.test(p) || p.endsWith(`${join('.iosdevice', 'lock')}`));
  assert.deepEqual(left, [], `${what}: nothing half-written and no lock left under DEST`);
}

/** The DEST error of a failed run: exit 4, one `error [CODE]: …` line, no stack trace, no per-file failure. */
function assertDestError(r: CliRun, code: string, message: RegExp): void {
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 4, `exit 4 (DEST unusable): ${out.slice(-1500)}`);
  assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(out, /^failed: /m, 'no per-file failures');
  const json = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type?: string; status?: string; error?: { code: string; message: string } });
  const err = json.find((l) => l.error)?.error;
  if (json.length > 0) {
    // --json: the last line is the error object, with the code; no file event says "failed"
    assert.ok(err, `an error object on stdout: ${r.stdout.slice(-500)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    assert.equal(json.filter((l) => l.type === 'file' && l.status === 'failed').length, 0, 'no file failed');
    assert.deepEqual(json[json.length - 1]!.error, err, 'the error is the last line');
  }
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('error'));
  assert.equal(lines.length, 1, `one error line: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^error \\[${code}\\]: `));
  assert.match(lines[0]!, message);
}

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

/** DEST holds every generated file byte-identical in the device's folder; nothing half-written is left. */
async function assertComplete(env: Env, dest: string): Promise<void> {
  for (const f of env.gen.files) assert.equal(await sha(join(dest, DEVICE_FOLDER, f.path.slice('DCIM/'.length))), f.sha256, f.path);
  await assertClean(dest, 'after the complete run');
}

function copiedEvents(r: CliRun): number {
  return r.stdout.split('\n').filter((l) => l.startsWith('{"type":"file","status":"copied"')).length;
}

test('e2e DEST full at the start: ERR_PHOTOS_DEST_FULL, exit 4, nothing written; once space is freed the rerun copies everything', { skip }, () =>
  withEnv(41, async (env) => {
    const disk = await tmpfs(env, 'full', 'size=1m');
    fill(join(disk, 'filler'));
    const dest = join(disk, 'backup');
    const r = await env.cli(['photos', 'backup', dest]);
    assertDestError(r, 'ERR_PHOTOS_DEST_FULL', /DEST is full: no space left in .*Free up space on that drive or choose another DEST, then run it again/);
    const j = await env.cli(['photos', 'backup', dest, '--json']);
    assertDestError(j, 'ERR_PHOTOS_DEST_FULL', /no space left/);
    const err = (JSON.parse(j.stdout.trim().split('\n').pop()!) as { error: Record<string, unknown> }).error;
    assert.equal(err.freeBytes, 0);
    assert.equal(err.dest, dest);
    await assertClean(disk, 'full at the start');

    await unlink(join(disk, 'filler'));
    remount(disk, 'size=64m');
    const r2 = await env.cli(['photos', 'backup', dest, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(copiedEvents(r2), env.gen.files.length);
    await assertComplete(env, dest);
  }));

test('e2e DEST fills up mid-run: one ERR_PHOTOS_DEST_FULL (copied / still to copy / free), exit 4, no per-file failures, no .part; the rerun copies only the rest', { skip }, () =>
  withEnv(42, async (env) => {
    // a disk for about a third of the library
    const disk = await tmpfs(env, 'small', `size=${Math.ceil(env.gen.totalBytes / 3 / 4096) * 4}k`);
    const dest = join(disk, 'backup');
    const r = await env.cli(['photos', 'backup', dest, '--json']);
    assertDestError(r, 'ERR_PHOTOS_DEST_FULL', /(\d+) of (\d+) file\(s\) copied \(kept: the rerun copies only the rest\), [\d.]+ [kM]?B still to copy, [\d.]+ [kM]?B free/);
    const copied1 = copiedEvents(r);
    assert.ok(copied1 > 0 && copied1 < env.gen.files.length, `stopped mid-run: ${copied1} copied`);
    const m = /(\d+) of (\d+) file\(s\) copied/.exec(r.stderr)!;
    assert.equal(Number(m[1]), copied1, 'the message counts what was copied');
    await assertClean(disk, 'full mid-run');
    // every file the run reported copied is recorded and byte-identical
    const manifest = (await readFile(join(dest, '.iosdevice', 'manifest.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"sha256"'));
    assert.equal(manifest.length, copied1);

    // text output: one headline, no list of failures (the disk is still nearly full: the rerun copies what fits
    // into the space the removed parts left, then stops the same way)
    const t = await env.cli(['photos', 'backup', dest]);
    assertDestError(t, 'ERR_PHOTOS_DEST_FULL', /no space left in .*still to copy/);
    const copiedText = t.stdout.split('\n').filter((l) => l.startsWith('copied: ')).length;
    await assertClean(disk, 'full on the rerun');

    remount(disk, 'size=64m');
    const r2 = await env.cli(['photos', 'backup', dest, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(copied1 + copiedText + copiedEvents(r2), env.gen.files.length, 'nothing copied twice, nothing lost');
    await assertComplete(env, dest);
  }));

test('e2e DEST read-only: ERR_PHOTOS_DEST_READONLY (new DEST, and an existing backup whose drive turned read-only), exit 4; read-write again, the rerun completes', { skip }, () =>
  withEnv(43, async (env) => {
    const ro = await tmpfs(env, 'ro', 'size=8m,ro');
    const r = await env.cli(['photos', 'backup', join(ro, 'backup')]);
    assertDestError(r, 'ERR_PHOTOS_DEST_READONLY', /is on a read-only file system.*remount the drive read-write .*or choose another DEST/);

    const disk = await tmpfs(env, 'drive', 'size=64m');
    const dest = join(disk, 'backup');
    const part = await env.cli(['photos', 'backup', dest, '--exclude', '*.mov', '--json']);
    assert.equal(part.code, 0, part.stderr);
    const copied1 = copiedEvents(part);
    remount(disk, 'ro');
    for (const json of [false, true]) {
      const r2 = await env.cli(['photos', 'backup', dest, ...(json ? ['--json'] : [])]);
      assertDestError(r2, 'ERR_PHOTOS_DEST_READONLY', /read-only file system/);
    }
    remount(disk, 'rw');
    await assertClean(disk, 'read-only');
    const r3 = await env.cli(['photos', 'backup', dest, '--json']);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(copied1 + copiedEvents(r3), env.gen.files.length);
    await assertComplete(env, dest);
  }));

test('e2e DEST is a file: ERR_PHOTOS_DEST_NOT_DIR (DEST itself, or a folder on its path), exit 4, the file untouched', { skip }, () =>
  withEnv(44, async (env) => {
    const file = join(env.tmp, 'notes.txt');
    await writeFile(file, 'my notes\n');
    const r = await env.cli(['photos', 'backup', file]);
    assertDestError(r, 'ERR_PHOTOS_DEST_NOT_DIR', /DEST .*notes\.txt is a file, not a folder: give the path of a folder/);
    const j = await env.cli(['photos', 'backup', join(file, 'backup'), '--json']);
    assertDestError(j, 'ERR_PHOTOS_DEST_NOT_DIR', /cannot be created: .*notes\.txt is a file, not a folder/);
    assert.equal(await readFile(file, 'utf8'), 'my notes\n');
    const dest = join(env.tmp, 'backup');
    const ok = await env.cli(['photos', 'backup', dest, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    await assertComplete(env, dest);
  }));

test('e2e DEST not writable for this user: ERR_PHOTOS_DEST_DENIED at the start and mid-run (a folder in DEST), exit 4; after chown the rerun completes', { skip }, () =>
  withEnv(45, async (env) => {
    const config = join(env.tmp, 'nobody-config'); // the unprivileged user's pair records
    await mkdir(config);
    chownSync(config, NOBODY, NOBODY);
    const asNobody = { uid: NOBODY, gid: NOBODY, env: { HOME: config, XDG_CONFIG_HOME: config } };
    const dest = join(env.tmp, 'root-owned');
    await mkdir(dest, { mode: 0o755 });
    const r = await env.cli(['photos', 'backup', dest], asNobody);
    assertDestError(r, 'ERR_PHOTOS_DEST_DENIED', /no permission to write .*root-owned as user nobody: make DEST writable for this user \(chown\/chmod\), or choose a folder you own/);
    assert.equal(existsSync(join(dest, '.iosdevice')), false, 'nothing written');

    // DEST is the user's, but a folder the files go to is not: the run stops at the first file placed there
    chownSync(dest, NOBODY, NOBODY);
    const folder = join(dest, DEVICE_FOLDER, '100APPLE');
    await mkdir(folder, { recursive: true, mode: 0o755 });
    chownSync(join(dest, DEVICE_FOLDER), NOBODY, NOBODY);
    const j = await env.cli(['photos', 'backup', dest, '--json'], asNobody);
    assertDestError(j, 'ERR_PHOTOS_DEST_DENIED', /no permission to write .*100APPLE/);
    assert.equal(copiedEvents(j), 0);
    await assertClean(dest, 'permission denied mid-run');

    chownSync(folder, NOBODY, NOBODY);
    const ok = await env.cli(['photos', 'backup', dest, '--json'], asNobody);
    assert.equal(ok.code, 0, ok.stderr);
    await assertComplete(env, dest);
  }));

test('e2e verify --repair: a read-only DEST and a DEST that fills up during the repair end in the DEST error (exit 4), no .part; fixed, the repair restores the files', { skip }, () =>
  withEnv(46, async (env) => {
    const disk = await tmpfs(env, 'drive', 'size=16m');
    const dest = join(disk, 'backup');
    const b = await env.cli(['photos', 'backup', dest, '--json']);
    assert.equal(b.code, 0, b.stderr);
    const big = [...env.gen.files].sort((x, y) => y.size - x.size).slice(0, 3);
    for (const f of big) await truncate(join(dest, DEVICE_FOLDER, f.path.slice('DCIM/'.length)), 0);

    remount(disk, 'ro');
    const r = await env.cli(['photos', 'verify', dest, '--repair']);
    assertDestError(r, 'ERR_PHOTOS_DEST_READONLY', /read-only file system/);
    remount(disk, 'rw');
    await assertClean(disk, 'repair on a read-only DEST');

    fill(join(disk, 'filler'));
    await truncate(join(disk, 'filler'), statSync(join(disk, 'filler')).size - 16 * 1024); // room for the lock, not for the files
    const j = await env.cli(['photos', 'verify', dest, '--repair', '--json']);
    assertDestError(j, 'ERR_PHOTOS_DEST_FULL', /no space left in .*repaired before that are in place/);
    await assertClean(disk, 'repair on a full DEST');
    for (const f of big) assert.equal((await readFile(join(dest, DEVICE_FOLDER, f.path.slice('DCIM/'.length)))).length, 0, 'left as it was');

    await unlink(join(disk, 'filler'));
    const ok = await env.cli(['photos', 'verify', dest, '--repair']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /repaired 3 file\(s\) under their original names/);
    await assertComplete(env, dest);
  }));
