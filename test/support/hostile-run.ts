/**
 * Harness of the hostile-device suite: an emulator (the project's usbmuxd server + lockdownd) whose
 * com.apple.afc service is the independent {@link HostileAfc} responder, a sandbox folder around DEST, and the
 * real CLI run as a child with its peak RSS (VmHWM, measured inside the child by report-rss.mjs) and, when
 * strace is there, a trace of every file-system write it makes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { HostileAfc, type Misbehaviour } from './hostile-afc.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'iosdevice.mjs');
const RSS_PRELOAD = join(ROOT, 'test', 'support', 'report-rss.mjs');

/** A finished CLI run. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the CLI process, bytes (0 when it could not report: killed). */
  peakRss: number;
  /** Paths the process created, wrote, linked, renamed or removed (with strace; undefined without). */
  writes?: string[];
  ms: number;
}

/** The world of one attack: the responder, the emulator in front of it, a sandbox with DEST inside. */
export interface Hostile {
  afc: HostileAfc;
  emu: Emulator;
  /** The sandbox: only DEST (`sandbox/dest`) may appear in it. */
  sandbox: string;
  dest: string;
  /** Runs `iosdevice photos backup DEST --socket … --json <extra>`. */
  backup(extra?: string[], o?: { strace?: boolean; timeoutMs?: number }): Promise<CliRun>;
}

export const HAS_STRACE = existsSync('/usr/bin/strace');

/** Write-like syscalls whose paths the trace keeps. */
const TRACED = 'creat,open,openat,mkdir,mkdirat,link,linkat,symlink,symlinkat,rename,renameat,renameat2,unlink,unlinkat,rmdir,truncate';

/** Paths of the write-like calls in an strace log (opens only when they can write). */
export function writesOf(trace: string): string[] {
  const out: string[] = [];
  for (const line of trace.split('\n')) {
    const m = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, call, rest] = m;
    if ((call === 'open' || call === 'openat') && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(rest!)) continue;
    for (const p of rest!.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(p[1]!);
  }
  return out;
}

/** Runs the CLI (as a child) with RSS reporting, optionally under strace. */
export async function runCli(args: string[], o: { strace?: boolean; timeoutMs?: number; cwd: string }): Promise<CliRun> {
  const work = await mkdtemp(join(tmpdir(), 'hostile-run-'));
  const rssFile = join(work, 'rss');
  const traceFile = join(work, 'trace');
  const node = [process.execPath, '--import', RSS_PRELOAD, BIN, ...args];
  const argv = o.strace ? ['strace', '-f', '-qq', '-e', `trace=${TRACED}`, '-o', traceFile, ...node] : node;
  const t0 = performance.now();
  try {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd, env: { ...process.env, IOSDEVICE_TEST_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.once('close', (c, s) => res([c, s])));
    clearTimeout(timer);
    const peakRss = Number(await readFile(rssFile, 'utf8').catch(() => '0')) * 1024;
    const run: CliRun = { code, signal, stdout, stderr, peakRss, ms: performance.now() - t0 };
    if (o.strace) run.writes = writesOf(await readFile(traceFile, 'utf8'));
    return run;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Sets up an attack, runs `fn`, tears everything down. */
export async function withHostile(misbehave: Misbehaviour, setup: (afc: HostileAfc) => void, fn: (h: Hostile) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'hostile-'));
  const sandbox = join(tmp, 'sandbox');
  await mkdir(sandbox);
  const afc = new HostileAfc(misbehave);
  setup(afc);
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, dcimCount: 0, services: { 'com.apple.afc': (s) => afc.serve(s) } });
  const dest = join(sandbox, 'dest');
  try {
    await fn({
      afc,
      emu,
      sandbox,
      dest,
      backup: (extra = [], o = {}) => runCli(['photos', 'backup', dest, '--socket', emu.address, '--json', ...extra], { ...o, cwd: ROOT }),
    });
  } finally {
    afc.close();
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The summary line of a --json run. */
export function summaryOf(r: CliRun): {
  status: string; copied: number; skipped: number; found: number;
  failed: { remote: string; code: string; reason: string }[]; rejected: { remote: string; reason: string; code?: string; detail: string }[]; deleted: string[];
} {
  for (const l of r.stdout.trim().split('\n').reverse()) {
    try {
      const e = JSON.parse(l) as { type?: string };
      if (e.type === 'summary') return e as never;
    } catch {
      // a non-JSON line (should not happen with --json)
    }
  }
  throw new Error(`no summary line; exit ${r.code}; stderr: ${r.stderr.slice(-600)}; stdout: ${r.stdout.slice(-600)}`);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every regular file below DEST except the state folder, relative path → SHA-256. */
export async function destFiles(dest: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (rel === '' && e.name === '.iosdevice') continue;
      const p = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else if (e.isFile()) out.set(r, sha(await readFile(p)));
      else out.set(r, 'NOT-A-FILE');
    }
  };
  await walk(dest, '');
  return out;
}

/** Asserts what no attack may do; returns a reason or undefined. */
export async function violations(h: Hostile, before: Map<string, Buffer>, run?: CliRun): Promise<string[]> {
  const out: string[] = [];
  const inSandbox = await readdir(h.sandbox);
  if (inSandbox.some((n) => n !== 'dest')) out.push(`written next to DEST: ${inSandbox.join(', ')}`);
  // nothing removed on the device unless a byte-identical copy is in DEST
  const have = new Set((await destFiles(h.dest)).values());
  for (const p of h.afc.removed) {
    const data = before.get(p);
    if (!data) out.push(`removed something that was not a file: ${p}`);
    else if (!have.has(sha(data))) out.push(`removed ${p} without a byte-identical copy in DEST`);
  }
  // no .part left looking complete, the lock released
  const parts = await readdir(join(h.dest, '.iosdevice', 'parts')).catch(() => []);
  if (parts.length > 0) out.push(`.part files left: ${parts.join(', ')}`);
  if (existsSync(join(h.dest, '.iosdevice', 'lock'))) out.push('the DEST lock was not released');
  if (run?.writes) {
    const dest = resolve(h.dest);
    const tsxCache = join(tmpdir(), 'tsx-');
    for (const w of run.writes) {
      const p = resolve(ROOT, w);
      if (p === dest || p.startsWith(`${dest}/`) || p.startsWith('/dev/') || p.startsWith(tsxCache) || p.startsWith('/proc/self/')) continue;
      if (p.startsWith(join(tmpdir(), 'hostile-run-'))) continue; // the harness's own RSS file
      out.push(`write outside DEST: ${w}`);
    }
  }
  return out;
}
