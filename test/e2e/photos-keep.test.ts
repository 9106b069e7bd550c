/**
 * The import routes of the old tools in `iosdevice photos backup`, run as a person runs them (the real CLI as a
 * child process against the virtual iPhone): --event NAME folders (with --split-by-date), and iPhoto's
 * keep-or-remove question after an import — asked only at a terminal (a pseudo-terminal here), default keep,
 * only verified files removed (the device's own listing is checked), never asked without a terminal, --yes for
 * scripts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { noNodeWarnings, runCli, skipUnlessPty, type CliRun } from '../support/cli.ts';
import { filesBelow } from '../support/files.ts';

async function withEmulator(fn: (emu: Emulator, tmp: string) => Promise<void>, dcimCount = 8): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-keep-'));
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, trust: 'auto', trustDelayMs: 0, dcimCount, dcim: { scale: 0.02, seed: 15 } });
  try {
    await fn(emu, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** What the phone holds under DCIM (its own storage, as AFC serves it). */
async function deviceFiles(emu: Emulator): Promise<string[]> {
  return (await filesBelow(join(emu.devices[0]!.mediaDir, 'DCIM'))).map((p) => `DCIM/${p}`);
}

async function sha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Adds `n` new photos to the phone's camera roll (copies of a generated JPEG/PNG under new names). */
async function addPhotos(emu: Emulator, n: number, from: number): Promise<string[]> {
  const d = emu.devices[0]!;
  const src = d.manifest!.files.find((f) => f.kind === 'jpg' || f.kind === 'png') ?? d.manifest!.files[0]!;
  const ext = src.path.slice(src.path.lastIndexOf('.'));
  const added: string[] = [];
  for (let i = 0; i < n; i++) {
    const rel = `DCIM/100APPLE/IMG_${String(from + i).padStart(4, '0')}${ext}`;
    await copyFile(join(d.mediaDir, src.path), join(d.mediaDir, rel));
    added.push(rel);
  }
  return added;
}

function lastJson(r: CliRun): { type: string; status?: string; copied?: number; deleted?: string[]; deviceFolder?: string } {
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as never;
}

function assertNoWarnings(r: CliRun): void {
  assert.equal(noNodeWarnings(r), undefined, `a Node warning was printed: ${noNodeWarnings(r)}`);
}

const QUESTION = /Remove (\d+) imported photos from the iPhone\? \[y\/N\] /;

/** Runs photos backup under a pseudo-terminal and types `answer` once the question shows. */
async function backupAnswering(emu: Emulator, dest: string, answer: string): Promise<{ r: CliRun; asked: boolean }> {
  let asked = false;
  const r = await runCli(['photos', 'backup', dest, '--socket', emu.address], {
    tty: true,
    onOutput: (out, ctl) => {
      if (!asked && QUESTION.test(out)) {
        asked = true;
        ctl.type(answer);
      }
    },
  });
  return { r, asked };
}

test('--event NAME with --split-by-date: every file below DEST/NAME/<device>/YYYY/YYYY-MM-DD/, byte-identical; a bad name is a usage error', () =>
  withEmulator(async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const r = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--event', 'Summer 2024', '--split-by-date', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assertNoWarnings(r);
    const s = lastJson(r);
    assert.equal(s.status, 'complete');
    const files = await filesBelow(dest);
    const gen = emu.devices[0]!.manifest!.files;
    assert.equal(files.length, gen.length, files.join('\n'));
    const folder = s.deviceFolder!;
    assert.ok(folder.length > 0);
    for (const f of files) assert.match(f, new RegExp(`^Summer 2024/${folder.replace(/[().*+?[\]\\^$|]/g, '\\$&')}/\\d{4}/\\d{4}-\\d{2}-\\d{2}/IMG_\\d{4}\\.\\w+$`));
    const want = new Set(gen.map((g) => g.sha256));
    for (const f of files) assert.ok(want.has(await sha(join(dest, f))), `${f} is a byte-identical copy`);

    const bad = await runCli(['photos', 'backup', join(tmp, 'dest2'), '--socket', emu.address, '--event', '../up']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /ERR_INVALID_ARG.*event name/);
  }));

test('keep or remove at a terminal: "n" keeps every photo on the phone', { skip: skipUnlessPty() }, () =>
  withEmulator(async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const before = await deviceFiles(emu);
    const { r, asked } = await backupAnswering(emu, dest, 'n\n');
    assert.ok(asked, `the question was not asked: ${r.stdout.slice(-800)}`);
    assert.equal(r.code, 0, r.stdout.slice(-800));
    assertNoWarnings(r);
    assert.match(r.stdout, new RegExp(`${before.length} of ${before.length} imported file\\(s\\) verified`));
    assert.equal(Number(QUESTION.exec(r.stdout)![1]), before.length);
    assert.match(r.stdout, new RegExp(`kept ${before.length} photo\\(s\\) on the iPhone`));
    assert.deepEqual(await deviceFiles(emu), before, 'nothing removed from the phone');
    assert.equal((await filesBelow(dest)).length, before.length);
  }));

test('keep or remove at a terminal: "y" removes only the verified files (a damaged copy keeps its original on the phone)', { skip: skipUnlessPty() }, () =>
  withEmulator(async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    // a first import without a terminal: no question, everything kept
    const first = await runCli(['photos', 'backup', dest, '--socket', emu.address]);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stdout, QUESTION);
    const original = await deviceFiles(emu);
    // damage one local copy (same size, other bytes): it no longer verifies
    const copies = await filesBelow(dest);
    const damaged = copies.find((f) => /\.(JPG|PNG|HEIC)$/.test(f))!;
    const buf = await readFile(join(dest, damaged));
    buf[buf.length >> 1]! ^= 0xff;
    await writeFile(join(dest, damaged), buf);
    // new photos on the phone: the second import copies them and asks
    const added = await addPhotos(emu, 2, 9001);
    const { r, asked } = await backupAnswering(emu, dest, 'y\n');
    assert.ok(asked, `the question was not asked: ${r.stdout.slice(-800)}`);
    assert.equal(r.code, 0, r.stdout.slice(-800));
    assertNoWarnings(r);
    const total = original.length + added.length;
    assert.match(r.stdout, new RegExp(`${total - 1} of ${total} imported file\\(s\\) verified.*1 not verified, kept on the iPhone`));
    assert.equal(Number(QUESTION.exec(r.stdout)![1]), total - 1);
    assert.match(r.stdout, new RegExp(`removed ${total - 1} photo\\(s\\) from the iPhone`));
    // the phone's listing: only the file whose copy is damaged is left
    const left = await deviceFiles(emu);
    assert.equal(left.length, 1, left.join(','));
    assert.equal(left[0]!.split('/').pop(), damaged.split('/').pop());
    // every removed file has a verified copy in DEST
    assert.equal((await filesBelow(dest)).length, total);
  }));

test('no terminal: no question, nothing removed; --yes removes the verified files without asking; --json never asks', () =>
  withEmulator(async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    const before = await deviceFiles(emu);
    const plain = await runCli(['photos', 'backup', dest, '--socket', emu.address]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout + plain.stderr, /Remove|\[y\/N\]/);
    assert.deepEqual(await deviceFiles(emu), before, 'nothing removed without a terminal');

    await addPhotos(emu, 1, 9101);
    const json = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, /\[y\/N\]/);
    assert.equal(lastJson(json).type, 'summary');
    assert.deepEqual(lastJson(json).deleted, []);
    assert.equal((await deviceFiles(emu)).length, before.length + 1);

    await addPhotos(emu, 1, 9201);
    const yes = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--yes', '--json']);
    assert.equal(yes.code, 0, yes.stderr);
    assertNoWarnings(yes);
    const s = lastJson(yes);
    assert.equal(s.type, 'summary', 'the summary is still the last line');
    assert.equal(s.copied, 1);
    assert.equal(s.deleted!.length, before.length + 2);
    assert.deepEqual(await deviceFiles(emu), [], 'every verified file removed');
    assert.equal((await filesBelow(dest)).length, before.length + 2);
  }));
