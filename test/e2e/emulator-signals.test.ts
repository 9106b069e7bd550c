/**
 * Signals reach the emulator however it was started, and a dead emulator's socket does not block the next
 * one: `npx iosdevice emulator … &` then `kill $!` (the kill reaches npm and its shell, not us) stops it;
 * a socket left by a SIGKILLed emulator is taken over; a live one is still refused. Real processes, real kills.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../support/cli.ts';

interface Proc {
  child: ChildProcess;
  /** Resolves with the output once `re` appears in it. */
  waitFor(re: RegExp): Promise<void>;
  /** Resolves when every holder of the output pipes closed them (the emulator itself, not only npm, is gone). */
  drained: Promise<string>;
  exited: Promise<number | null>;
  /** The pid the emulator printed (`pid: N`), once it did. */
  pid(): number | undefined;
}

function start(cmd: string, args: string[]): Proc {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (s: string): void => {
    out += s;
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const ends = [child.stdout!, child.stderr!].map((s) => new Promise<void>((r) => s.once('close', () => r())));
  const hard = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const drained = Promise.all(ends).then(() => {
    clearTimeout(hard);
    return out;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!re.test(out)) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
      void drained.then(() => {
        if (waiters.delete(check)) reject(new Error(`ended before ${re}: ${out}`));
      });
    });
  const pid = (): number | undefined => {
    const m = /^pid: (\d+)/m.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  return { child, waitFor, drained, exited, pid };
}

/** True when something accepts connections on the unix socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'emu-sig-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves with `p` or rejects after `ms` (a test that would hang fails instead). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

test('`npx iosdevice emulator &` then kill of npx: the emulator itself stops cleanly (no orphan keeps serving)', () =>
  withTmp(async (dir) => {
    const sock = join(dir, 'mux.sock');
    const p = start('npx', ['--yes', 'iosdevice', 'emulator', '--socket', sock, '--dcim', '2']);
    try {
      await within(p.waitFor(/pid: \d+/), 60_000, 'the emulator banner');
      assert.notEqual(p.pid(), p.child.pid, 'the emulator is not the process npx runs as');
      assert.ok(await answers(sock));
      p.child.kill('SIGTERM'); // `kill $!`: npx (npm) gets the signal, our process is its shell's child
      const out = await within(p.drained, 20_000, 'the emulator exiting after npx was killed'); // the pipes close once the emulator is gone
      assert.match(out, /emulator: stopped/);
      assert.equal(await answers(sock), false, 'nothing serves the socket any more');
      assert.equal(existsSync(sock), false, 'the socket file is removed');
    } finally {
      p.child.kill('SIGKILL');
      const orphan = p.pid();
      if (orphan !== undefined) {
        try {
          process.kill(orphan, 'SIGKILL'); // only when the test failed: never leave an orphan behind
        } catch {
          /* gone, as it should be */
        }
      }
    }
  }));

test('a socket left by a SIGKILLed emulator is taken over; a live emulator is still refused; SIGTERM stops it (exit 0)', () =>
  withTmp(async (dir) => {
    const sock = join(dir, 'mux.sock');
    const dead = start(process.execPath, [BIN, 'emulator', '--socket', sock, '--dcim', '1']);
    await dead.waitFor(/emulator: listening on/);
    dead.child.kill('SIGKILL');
    await dead.drained;
    assert.ok(existsSync(sock), 'kill -9 leaves the socket file behind');
    assert.equal(await answers(sock), false);

    const next = start(process.execPath, [BIN, 'emulator', '--socket', sock, '--dcim', '1']);
    await next.waitFor(/emulator: listening on UNIX:/);
    assert.ok(await answers(sock), 'the stale socket was taken over');

    const second = start(process.execPath, [BIN, 'emulator', '--socket', sock, '--dcim', '1']);
    assert.equal(await second.exited, 2);
    assert.match(await second.drained, /another daemon is already listening on/);
    assert.ok(await answers(sock), 'the live emulator was not disturbed');

    next.child.kill('SIGTERM');
    assert.equal(await next.exited, 0);
    assert.match(await next.drained, /emulator: stopped/);
    assert.equal(existsSync(sock), false);
  }));
