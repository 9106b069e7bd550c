/**
 * Shared parts of the soak / chaos / scale tier (bench/soak/*.ts; not part of `npm test` except the seeded samples
 * in test/soak/): the real emulator (`iosdevice emulator`, a child process) serving a generated folder, the real
 * backup CLI (`iosdevice photos backup`, a child process) with its peak RSS (VmHWM) and CPU time reported from
 * inside the child, RSS / open-fd sampling from /proc/PID, fast generation of many small files, and the checks
 * every run ends with (lost, corrupted, duplicated, deleted on the device without a verified copy).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/core/prng.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'iosdevice.mjs');
const USAGE_PRELOAD = join(ROOT, 'bench', 'soak', 'report-usage.mjs');
export const MB = 1024 * 1024;

/** Environment of every child: its own pair-record folder (XDG_CONFIG_HOME), never the user's. */
export function childEnv(configHome: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, XDG_CONFIG_HOME: configHome, ...extra };
}

/** Writes `count` small files (`minSize`..`maxSize` bytes, distinct content) as media/DCIM/NNNAPPLE/IMG_nnnn.JPG. */
export function makeSmallLibrary(media: string, count: number, o: { perFolder?: number; minSize?: number; maxSize?: number; seed?: number } = {}): { files: number; bytes: number } {
  const per = o.perFolder ?? 1000;
  const lo = o.minSize ?? 200;
  const hi = o.maxSize ?? 3000;
  const rnd = mulberry32(o.seed ?? 20261203);
  const block = Buffer.alloc(hi);
  for (let i = 0; i < hi; i++) block[i] = Math.floor(rnd() * 256);
  block[0] = 0xff;
  block[1] = 0xd8;
  let bytes = 0;
  let dir = '';
  for (let i = 0; i < count; i++) {
    if (i % per === 0) {
      dir = join(media, 'DCIM', `${100 + Math.floor(i / per)}APPLE`);
      mkdirSync(dir, { recursive: true });
    }
    const size = lo + Math.floor(rnd() * (hi - lo + 1));
    const b = Buffer.from(block.subarray(0, size));
    b.writeUInt32BE(i, 2); // distinct content per file
    writeFileSync(join(dir, `IMG_${String(i % per).padStart(4, '0')}.JPG`), b);
    bytes += size;
  }
  return { files: count, bytes };
}

/** A running `iosdevice emulator` child. */
export interface EmulatorProc {
  proc: ChildProcess;
  pid: number;
  address: string;
  /** kill -9 and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

/** Starts `iosdevice emulator --dcim-dir MEDIA --socket UNIX:SOCK --udid UDID [extra]` and waits for its address line. */
export async function startEmulatorProc(o: { media: string; socket: string; udid: string; configHome: string; extra?: string[]; nice?: boolean }): Promise<EmulatorProc> {
  const argv = [BIN, 'emulator', '--dcim-dir', o.media, '--socket', `UNIX:${o.socket}`, '--udid', o.udid, ...(o.extra ?? [])];
  const proc = spawn(process.execPath, argv, { cwd: ROOT, env: childEnv(o.configHome), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const address = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`emulator did not start: ${err}`)), 60_000);
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /export USBMUXD_SOCKET_ADDRESS=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    proc.once('exit', (c) => {
      clearTimeout(timer);
      rej(new Error(`emulator exited with ${c}: ${err}`));
    });
  });
  proc.stdout!.resume();
  return {
    proc, pid: proc.pid!, address,
    async kill9() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc);
    },
  };
}

/** One sample of a process: RSS and open file descriptors. */
export interface ProcSample {
  t: number;
  rssBytes: number;
  fds: number;
}

/** RSS (VmRSS) and the number of entries of /proc/PID/fd, or undefined when the process is gone. */
export function sampleProc(pid: number, t0: number): ProcSample | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return m ? { t: (performance.now() - t0) / 1000, rssBytes: Number(m[1]) * 1024, fds } : undefined;
  } catch {
    return undefined;
  }
}

/** A finished backup CLI run. */
export interface BackupRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS (VmHWM) and CPU seconds as the child reported them at exit (undefined when killed). */
  peakRssBytes?: number;
  cpuSeconds?: number;
  /** Peaks of process.memoryUsage() in the child (sampled every 250 ms). */
  heapUsedBytes?: number;
  heapTotalBytes?: number;
  externalBytes?: number;
  arrayBuffersBytes?: number;
  samples: ProcSample[];
  seconds: number;
  summary?: Summary;
  pid: number;
}

/** The fields of the --json summary line the soak tier reads. */
export interface Summary {
  status: string;
  copied: number;
  copiedBytes: number;
  skipped: number;
  found: number;
  elapsedMs: number;
  failed: { remote: string; code: string }[];
  deleted?: string[];
  udid: string;
}

/**
 * Runs `iosdevice photos backup DEST --socket ADDR --json [extra]` niced as the caller is. With `killAfterMs` the
 * child gets kill -9 after that long; with `sampleMs` RSS and fds are sampled; `onSpawn` sees the pid.
 */
export async function runBackupCli(o: {
  dest: string; address: string; configHome: string; extra?: string[]; killAfterMs?: number; sampleMs?: number; timeoutMs?: number;
  onSpawn?: (pid: number) => void;
  /** Called once, when the `anchorCount`-th (default the first) occurrence of `anchor` in stdout arrives (seconds since spawn). */
  anchor?: string;
  anchorCount?: number;
  onAnchor?: (atSeconds: number, kill: () => void) => void;
}): Promise<BackupRun> {
  const work = await mkdtemp(join(tmpdir(), 'soak-run-'));
  const usageFile = join(work, 'usage.json');
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', USAGE_PRELOAD, BIN, 'photos', 'backup', o.dest, '--socket', o.address, '--json', ...(o.extra ?? [])], {
    cwd: ROOT, env: childEnv(o.configHome, { IOSDEVICE_SOAK_USAGE_FILE: usageFile }), stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.onSpawn?.(child.pid!);
  let stdout = '';
  let stderr = '';
  let anchored = false;
  let seen = 0;
  let scanFrom = 0;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    if (anchored || !o.anchor) return;
    for (let i = stdout.indexOf(o.anchor, scanFrom); i >= 0; i = stdout.indexOf(o.anchor, scanFrom)) {
      scanFrom = i + o.anchor.length;
      if (++seen >= (o.anchorCount ?? 1)) {
        anchored = true;
        o.onAnchor?.((performance.now() - t0) / 1000, () => child.kill('SIGKILL'));
        return;
      }
    }
    scanFrom = Math.max(scanFrom, stdout.length - o.anchor.length + 1);
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const samples: ProcSample[] = [];
  const sampler = o.sampleMs ? setInterval(() => {
    const s = sampleProc(child.pid!, t0);
    if (s) samples.push(s);
  }, o.sampleMs) : undefined;
  const killer = o.killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), o.killAfterMs) : undefined;
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30 * 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.once('close', (c, s) => res([c, s])));
  clearTimeout(timer);
  if (killer) clearTimeout(killer);
  if (sampler) clearInterval(sampler);
  const seconds = (performance.now() - t0) / 1000;
  const usage = await readFile(usageFile, 'utf8').then((s) => JSON.parse(s) as Partial<BackupRun>, () => undefined);
  await rm(work, { recursive: true, force: true });
  const run: BackupRun = { code, signal, stdout, stderr, samples, seconds, pid: child.pid!, ...(usage ?? {}) };
  const summary = summaryOf(stdout);
  if (summary) run.summary = summary;
  return run;
}

/** The last summary line of --json output. */
export function summaryOf(stdout: string): Summary | undefined {
  for (const l of stdout.trim().split('\n').reverse()) {
    try {
      const e = JSON.parse(l) as { type?: string };
      if (e.type === 'summary') return e as Summary;
    } catch {
      // a partial line of a killed child
    }
  }
  return undefined;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Regular files below `dir` (relative path → SHA-256), skipping `skipTop` names at the top. */
export async function treeHashes(dir: string, skipTop: string[] = []): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (rel === '' && skipTop.includes(e.name)) continue;
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else if (e.isFile()) out.set(r, createHash('sha256').update(await readFile(p)).digest('hex'));
      else out.set(r, 'NOT-A-FILE');
    }
  };
  await walk(dir, '');
  return out;
}

/** What a finished backup did to the source, judged by content. All four must be 0. */
export interface LossReport {
  /** Source files gone from the device with no byte-identical copy in DEST (the same as deletedUnverified). */
  lost: number;
  /** Source files still on the device with no copy in DEST yet (a run that did not complete: not lost). */
  notCopied: number;
  /** DEST files (outside the state folder) whose bytes match no source file. */
  corrupted: number;
  /** Extra copies of the same source bytes in DEST (copies − 1, summed). */
  duplicated: number;
  /** Source files gone from the device without a byte-identical copy in DEST. */
  deletedUnverified: number;
  /** Source files still on the device / removed from it. */
  onDevice: number;
  removed: number;
  details: string[];
}

/**
 * Compares the pristine source (path → SHA-256, relative to the media folder, e.g. DCIM/100APPLE/IMG_0001.JPG)
 * with DEST's device folder and with what is left on the device.
 */
export async function lossReport(source: Map<string, string>, dest: string, deviceMedia: string): Promise<LossReport> {
  const inDest = await treeHashes(dest, ['.iosdevice']);
  const onDevice = await treeHashes(deviceMedia);
  const byHash = new Map<string, number>();
  for (const h of inDest.values()) byHash.set(h, (byHash.get(h) ?? 0) + 1);
  const srcHashes = new Set(source.values());
  const r: LossReport = { lost: 0, notCopied: 0, corrupted: 0, duplicated: 0, deletedUnverified: 0, onDevice: 0, removed: 0, details: [] };
  for (const [p, h] of source) {
    const present = onDevice.get(p) === h;
    if (present) r.onDevice++;
    else r.removed++;
    if (!byHash.has(h)) {
      if (present) r.notCopied++;
      else {
        r.lost++;
        r.deletedUnverified++;
      }
      if (r.details.length < 10) r.details.push(`${present ? 'not copied' : 'deleted on the device without a copy'}: ${p}`);
    }
  }
  for (const [p, h] of inDest) {
    if (!srcHashes.has(h)) {
      r.corrupted++;
      if (r.details.length < 10) r.details.push(`corrupted or foreign in DEST: ${p}`);
    }
  }
  for (const n of byHash.values()) if (n > 1) r.duplicated += n - 1;
  return r;
}

/** Seeded random numbers for kill times. */
export function seeded(seed: number): () => number {
  return mulberry32(seed);
}

/** `uptime`'s three load averages, as text. */
export function loadAvg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Prints one JSON line to stdout and appends it to `file` when given. */
export function emit(file: string | undefined, row: Record<string, unknown>): void {
  const line = JSON.stringify({ ...row, at: new Date().toISOString(), load: loadAvg() });
  console.log(line);
  if (file) writeFileSync(file, line + '\n', { flag: 'a' });
}

/** argv helpers. */
export function arg(name: string, d?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : d;
}
export function num(name: string, d: number): number {
  const v = arg(name);
  return v === undefined ? d : Number(v);
}

/** When a chaos round kills its victim: `fromSpawnMs` after the backup's spawn, or `delayMs` after the `count`-th stdout line with `anchor`. */
export type KillPoint = { fromSpawnMs: number } | { anchor: string; count?: number; delayMs: number };

/** What one chaos round found (the fields of a `chaos` row of chaos.ts). */
export interface ChaosRound {
  /** The killed run did not complete (the kill landed while it was running). */
  midRun: boolean;
  killed: { placed: number; removed: number; exit: string; status?: string; copied?: number; stderr?: string };
  rerun: { exit: string; status?: string; copied?: number; skipped?: number; deleted?: number };
  lost: number;
  notCopied: number;
  corrupted: number;
  duplicated: number;
  deletedUnverified: number;
  removedFromDevice: number;
  partsLeft: number;
  lockLeft: boolean;
  details: string[];
}

const exitOf = (r: BackupRun): string => (r.signal ? r.signal : String(r.code));

/**
 * One chaos round (bench/soak/chaos.ts, and the seeded sample in test/soak/): serves a hard-linked copy of
 * `pristine` (deletions on the "device" never touch it) from an emulator child, backs it up into a fresh DEST with
 * the CLI, kill -9s the backup (`side` 'cli') or the emulator ('device', restarted on the same socket and UDID after
 * `restartPauseMs`) at `kill`, reruns to completion and judges DEST and the device by content against `source`.
 * The round's media and DEST are removed afterwards.
 */
export async function chaosRound(o: {
  work: string; pristine: string; source: Map<string, string>; configHome: string; udid: string; index: number;
  side: 'cli' | 'device'; deleteAfterImport: boolean; kill: KillPoint; restartPauseMs?: number; timeoutMs?: number;
  /** More `iosdevice emulator` options (e.g. --link real), for both of its starts. */
  emulatorExtra?: string[];
}): Promise<ChaosRound> {
  const media = join(o.work, `media-${o.index}`);
  const dest = join(o.work, `dest-${o.index}`);
  const socket = join(o.work, `mux-${o.index}.sock`);
  execFileSync('cp', ['-al', o.pristine, media]);
  const extra = o.emulatorExtra ?? [];
  let emu = await startEmulatorProc({ media, socket, udid: o.udid, configHome: o.configHome, extra });
  const flags = o.deleteAfterImport ? ['--delete-after-import'] : [];
  const timeoutMs = o.timeoutMs ?? 300_000;
  const k = o.kill;
  try {
    let first: BackupRun;
    if (o.side === 'cli') {
      first = await runBackupCli({
        dest, address: emu.address, configHome: o.configHome, extra: flags, timeoutMs,
        ...('fromSpawnMs' in k ? { killAfterMs: k.fromSpawnMs } : { anchor: k.anchor, anchorCount: k.count ?? 1, onAnchor: (_at: number, kill: () => void) => void setTimeout(kill, k.delayMs) }),
      });
    } else {
      let anchored!: () => void;
      const atAnchor = new Promise<void>((r) => (anchored = r));
      const running = runBackupCli({
        dest, address: emu.address, configHome: o.configHome, extra: flags, timeoutMs,
        ...('fromSpawnMs' in k ? {} : { anchor: k.anchor, anchorCount: k.count ?? 1, onAnchor: () => anchored() }),
      });
      // from now (the spawn), or from the anchor line (or the run's end, whichever first)
      if (!('fromSpawnMs' in k)) await Promise.race([atAnchor, running]);
      await new Promise((r) => setTimeout(r, 'fromSpawnMs' in k ? k.fromSpawnMs : k.delayMs));
      await emu.kill9();
      await new Promise((r) => setTimeout(r, o.restartPauseMs ?? 0));
      emu = await startEmulatorProc({ media, socket, udid: o.udid, configHome: o.configHome, extra });
      first = await running;
    }
    // what the killed run left: files placed in DEST, files removed from the device
    const between = await lossReport(o.source, dest, media);
    const placed = o.source.size - between.lost - between.notCopied;
    const again = await runBackupCli({ dest, address: emu.address, configHome: o.configHome, extra: flags, timeoutMs });
    await emu.stop();
    const loss = await lossReport(o.source, dest, media);
    const partsDir = join(dest, '.iosdevice', 'parts');
    return {
      midRun: first.code !== 0 || first.summary?.status !== 'complete',
      killed: { placed, removed: between.removed, exit: exitOf(first), status: first.summary?.status, copied: first.summary?.copied, ...(first.summary || first.signal ? {} : { stderr: first.stderr.slice(-300) }) },
      rerun: { exit: exitOf(again), status: again.summary?.status, copied: again.summary?.copied, skipped: again.summary?.skipped, deleted: again.summary?.deleted?.length },
      lost: loss.lost, notCopied: loss.notCopied, corrupted: loss.corrupted, duplicated: loss.duplicated, deletedUnverified: loss.deletedUnverified,
      removedFromDevice: loss.removed, partsLeft: existsSync(partsDir) ? readdirSync(partsDir).length : 0, lockLeft: existsSync(join(dest, '.iosdevice', 'lock')), details: loss.details,
    };
  } finally {
    await emu.stop();
    await rm(media, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
}
