/**
 * Ctrl-C, SIGTERM and unplug during `iosdevice photos backup`, as a person meets them: the real CLI (a child
 * process), under a pseudo-terminal where the behaviour is about the terminal (the bar, Ctrl-C typed as ^C),
 * with pipes for --json. Exact exit codes (130, 143, 3), one headline, a final JSON summary, no per-file
 * ERR_ABORTED lines, a bar that never counts an aborted file as done, no Node warnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/virtual-iphone/emulator.ts';
import { noNodeWarnings, runCli, skipUnlessPty, type CliRun } from '../support/cli.ts';

/** A slow cable (4 MB/s): a run of a few seconds, so a signal lands mid-copy. */
const SLOW = { bytesPerSecond: 4_000_000, roundTripMs: 0.5 };

async function withEmulator(opts: EmulatorOptions, fn: (emu: Emulator, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-int-'));
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, trust: 'auto', trustDelayMs: 0, ...opts });
  try {
    await fn(emu, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

type Json = { type: string; status?: string; remote?: string; code?: string; filesDone?: number; copied?: number; toCopy?: number; failed?: { remote: string; code: string }[] };

function jsonLines(r: CliRun): Json[] {
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
}

/** Lines as the terminal shows them: each \r-separated redraw ends where the next begins. */
function screenLines(out: string): string[] {
  return out.replace(/\r\n/g, '\n').split('\n');
}

function assertClean(r: CliRun): void {
  const w = noNodeWarnings(r);
  assert.equal(w, undefined, `a Node warning was printed: ${w}`);
  assert.doesNotMatch(r.stdout + r.stderr, /ERR_ABORTED/, 'no per-file ERR_ABORTED lines');
  assert.doesNotMatch(r.stdout + r.stderr, /^\s*failed: /m, 'no file is reported as failed');
}

async function assertResumes(emu: Emulator, dest: string, copiedBefore: number): Promise<void> {
  const gen = emu.devices[0]!.manifest!;
  const r = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = jsonLines(r).at(-1)!;
  assert.equal(s.status, 'complete');
  assert.equal(copiedBefore + s.copied!, gen.files.length, 'the rerun copies exactly what was left');
  assert.deepEqual(await readdir(join(dest, '.iosdevice', 'parts')), []);
}

test('Ctrl-C on a terminal: the bar ends on its own line, one "interrupted: N of M copied, rerun to resume" line, exit 130; a rerun resumes',
  { skip: skipUnlessPty() }, () =>
    withEmulator({ dcimCount: 40, dcim: { scale: 0.05, seed: 21 }, link: SLOW }, async (emu, tmp) => {
      const dest = join(tmp, 'dest');
      let typed = false;
      const r = await runCli(['photos', 'backup', dest, '--socket', emu.address], {
        tty: true,
        onOutput: (out, ctl) => {
          // Ctrl-C once the bar shows a few files done
          if (!typed && /\] ([3-9]|\d\d+)\/\d+ files/.test(out)) {
            typed = true;
            ctl.type('\x03');
          }
        },
      });
      assert.ok(typed, `the bar was never drawn: ${r.stdout.slice(-400)}`);
      assert.equal(r.code, 130, r.stdout.slice(-600));
      assertClean(r);
      const lines = screenLines(r.stdout);
      const heads = lines.filter((l) => /interrupted/.test(l));
      assert.equal(heads.length, 1, `one headline: ${JSON.stringify(heads)}`);
      const m = /^interrupted: (\d+) of (\d+) copied, rerun to resume$/.exec(heads[0]!);
      assert.ok(m, `the headline starts its own line: ${JSON.stringify(heads[0])}`);
      const [copied, toCopy] = [Number(m[1]), Number(m[2])];
      assert.equal(toCopy, emu.devices[0]!.manifest!.files.length);
      assert.ok(copied >= 3 && copied < toCopy, `${copied} of ${toCopy}`);
      // the last bar drawn (the line before the headline, after its last redraw) counts only copied files
      const barLine = lines[lines.indexOf(heads[0]!) - 1]!.split('\r').at(-1)!.replaceAll('\u001b[K', '');
      assert.match(barLine, new RegExp(`^\\[[#.]+\\] ${copied}/${toCopy} files `), `final bar: ${JSON.stringify(barLine)}`);
      await assertResumes(emu, dest, copied);
    }));

test('SIGINT with --json (no terminal): exit 130, no per-file aborted events, the last line is the summary with status "interrupted"', () =>
  withEmulator({ dcimCount: 40, dcim: { scale: 0.05, seed: 22 }, link: SLOW }, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    let sent = false;
    const r = await runCli(['photos', 'backup', dest, '--socket', emu.address, '--json'], {
      onOutput: (out, ctl) => {
        if (!sent && (out.match(/"status":"copied"/g) ?? []).length >= 3) {
          sent = true;
          ctl.child.kill('SIGINT');
        }
      },
    });
    assert.equal(r.code, 130, r.stderr);
    assertClean(r);
    const lines = jsonLines(r);
    const last = lines.at(-1)!;
    assert.equal(last.type, 'summary');
    assert.equal(last.status, 'interrupted');
    assert.deepEqual(last.failed, []);
    assert.equal(lines.filter((e) => e.type === 'file' && e.status === 'failed').length, 0, 'no "file failed" events');
    const copiedEvents = lines.filter((e) => e.type === 'file' && e.status === 'copied').length;
    assert.equal(last.copied, copiedEvents);
    const progress = lines.filter((e) => e.type === 'progress');
    assert.ok(progress.every((p) => p.filesDone! <= copiedEvents), 'progress never counts an aborted file as done');
    assert.equal(r.stderr.trim().split('\n').at(-1), `interrupted: ${last.copied} of ${last.toCopy} copied, rerun to resume`);
    await assertResumes(emu, dest, last.copied!);
  }));

test('SIGTERM: exit 143, the same single line, nothing failed', () =>
  withEmulator({ dcimCount: 30, dcim: { scale: 0.05, seed: 23 }, link: SLOW }, async (emu, tmp) => {
    const dest = join(tmp, 'dest');
    let sent = false;
    const r = await runCli(['photos', 'backup', dest, '--socket', emu.address], {
      onOutput: (out, ctl) => {
        if (!sent && (out.match(/^copied: /gm) ?? []).length >= 2) {
          sent = true;
          ctl.child.kill('SIGTERM');
        }
      },
    });
    assert.equal(r.code, 143, r.stderr);
    assertClean(r);
    assert.deepEqual(r.stderr.split('\n').filter((l) => /interrupt/.test(l)).length, 1);
    assert.match(r.stderr, /^interrupted: \d+ of \d+ copied, rerun to resume\n$/m);
  }));

test('unplug on a terminal: one "device disconnected: N of M copied; plug it back in…" headline, no per-file lines, exit 3', { skip: skipUnlessPty() }, () =>
  withEmulator({ dcimCount: 40, dcim: { scale: 0.05, seed: 24 }, link: SLOW }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    emu.devices[0]!.iphone.armFault({ kind: 'detach', afterBytes: Math.floor(gen.totalBytes / 3) });
    const r = await runCli(['photos', 'backup', dest, '--socket', emu.address], { tty: true });
    assert.equal(r.code, 3, r.stdout.slice(-600));
    assertClean(r);
    const lines = screenLines(r.stdout);
    const heads = lines.filter((l) => /disconnected/.test(l));
    assert.equal(heads.length, 1, JSON.stringify(heads));
    const m = /^device disconnected: (\d+) of (\d+) copied; plug it back in and run again to resume$/.exec(heads[0]!);
    assert.ok(m, JSON.stringify(heads[0]));
    assert.equal(Number(m[2]), gen.files.length);
    assert.doesNotMatch(r.stdout, /not copied: /, 'the list only with --verbose');
    assert.equal(lines.indexOf(heads[0]!), lines.filter((l) => l.trim() !== '').length - 1, 'the headline is the last line');
    const barLine = lines[lines.indexOf(heads[0]!) - 1]!.split('\r').at(-1)!.replaceAll('\u001b[K', '');
    assert.match(barLine, new RegExp(`^\\[[#.]+\\] ${m[1]}/${m[2]} files `), `the bar counts only what was copied: ${JSON.stringify(barLine)}`);
    emu.attach();
    await assertResumes(emu, dest, Number(m[1]));
  }));

test('unplug with --verbose lists each file not copied exactly once; with --json the summary has them once, status "device-lost"', () =>
  withEmulator({ dcimCount: 40, dcim: { scale: 0.05, seed: 25 }, link: SLOW }, async (emu, tmp) => {
    const gen = emu.devices[0]!.manifest!;
    const dev = emu.devices[0]!;
    dev.iphone.armFault({ kind: 'detach', afterBytes: Math.floor(gen.totalBytes / 3) });
    const v = await runCli(['photos', 'backup', join(tmp, 'a'), '--socket', emu.address, '--verbose']);
    assert.equal(v.code, 3, v.stderr);
    assertClean(v);
    const head = /^device disconnected: (\d+) of (\d+) copied; plug it back in and run again to resume$/m.exec(v.stderr);
    assert.ok(head, v.stderr);
    const listed = v.stderr.split('\n').filter((l) => l.startsWith('  not copied: ')).map((l) => l.split(' ')[4]!);
    assert.equal(listed.length, Number(head[2]) - Number(head[1]), 'every file left is listed');
    assert.equal(new Set(listed).size, listed.length, 'each once');
    assert.equal(v.stdout.split('\n').filter((l) => /not copied|failed/.test(l)).length, 0, 'and not again on stdout');

    emu.attach();
    dev.iphone.armFault({ kind: 'detach', afterBytes: Math.floor(gen.totalBytes / 3) });
    const j = await runCli(['photos', 'backup', join(tmp, 'b'), '--socket', emu.address, '--json']);
    assert.equal(j.code, 3, j.stderr);
    const lines = jsonLines(j);
    const s = lines.at(-1)!;
    assert.equal(s.type, 'summary');
    assert.equal(s.status, 'device-lost');
    const remotes = s.failed!.map((f) => f.remote);
    assert.equal(new Set(remotes).size, remotes.length, 'each file once in the summary');
    assert.equal(s.copied! + remotes.length, s.toCopy);
    const events = lines.filter((e) => e.type === 'file' && e.status === 'failed').map((e) => e.remote);
    assert.equal(new Set(events).size, events.length, 'one event per file');
    assert.match(j.stderr, /^device disconnected: \d+ of \d+ copied; plug it back in and run again to resume\n$/m);
  }));
