/**
 * Regenerates the project's own recordings in captures/ (run: `npx tsx scripts/make-captures.ts [DIR]`, as root
 * for ifuse). Each job runs against a fresh virtual iPhone through the recording proxy; the emulator's lockdownd
 * (and our client) write NSS key-log lines, which are embedded in each capture as a Decryption Secrets Block.
 *
 * Jobs: the real libimobiledevice tools (`idevicepair pair`, full `ideviceinfo`, an `ifuse` session reading DCIM)
 * and our own client doing the same jobs (pair, info with a TLS session, AFC pull of DCIM).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { startEmulator, type Emulator } from '../src/virtual-iphone/emulator.ts';
import { connectAfc, openDevice, openLockdownSession } from '../src/connect.ts';
import pairCommand from '../src/cli/commands/pair.ts';
import { startRecordingProxy } from '../src/capture/proxy.ts';
import { CaptureRecorder } from '../src/capture/recorder.ts';

/** The UDID every recording uses (so replays can start an emulator with the same identity). */
export const CAPTURE_UDID = '00008030-000A11CE0B0B0C0D';
/** Emulator options used for the recordings (small camera roll, deterministic content). */
export const CAPTURE_EMULATOR = { udid: CAPTURE_UDID, name: 'Capture iPhone', iosVersion: '17.5', dcimCount: 3, dcim: { scale: 0.003, seed: 11 } } as const;

interface Job {
  file: string;
  how: string;
  run(address: string, env: NodeJS.ProcessEnv, emu: Emulator): Promise<void>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => (clearTimeout(t), rej(e)));
    child.once('close', (code) => (clearTimeout(t), res({ code, stdout, stderr })));
  });
}

async function must(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function isMounted(mnt: string): Promise<boolean> {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
}

/** ifuse session: mount, list DCIM recursively, read every file with cat, unmount. Child processes only (no FUSE I/O in this process). */
async function ifuseSession(env: NodeJS.ProcessEnv): Promise<void> {
  const mnt = mkdtempSync(join(tmpdir(), 'iosdevice-capture-mnt-'));
  const child = spawn('ifuse', [mnt, '-f', '-u', CAPTURE_UDID], { env, stdio: 'ignore' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    for (let i = 0; i < 400 && !(await isMounted(mnt)); i++) await new Promise((r) => setTimeout(r, 25));
    if (!(await isMounted(mnt))) throw new Error('ifuse did not mount');
    const files = (await must('find', [join(mnt, 'DCIM'), '-type', 'f'], env)).split('\n').filter(Boolean).sort();
    await must('ls', ['-lR', join(mnt, 'DCIM')], env);
    for (const f of files) await must('cat', [f], env);
  } finally {
    await run('fusermount', ['-u', mnt], env).catch(() => undefined);
    if (await isMounted(mnt)) await run('fusermount', ['-uz', mnt], env).catch(() => undefined);
    await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('close', () => r())));
    clearTimeout(killer);
    rmSync(mnt, { recursive: true, force: true });
  }
}

function cliIO(env: NodeJS.ProcessEnv): { stdout: PassThrough; stderr: PassThrough; env: NodeJS.ProcessEnv; signal: AbortSignal } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.resume();
  stderr.resume();
  return { stdout, stderr, env, signal: new AbortController().signal };
}

/** Our client: pull every file under /DCIM to a temp folder. */
async function oursPull(address: string, env: NodeJS.ProcessEnv): Promise<void> {
  const dev = await openDevice({ socket: address, env }, { timeoutMs: 10_000 });
  const afc = await connectAfc(dev, { timeoutMs: 30_000 });
  const out = mkdtempSync(join(tmpdir(), 'iosdevice-capture-pull-'));
  try {
    for await (const { path, info } of afc.walk('/DCIM')) {
      if (info.type === 'file') {
        const local = join(out, path);
        await mkdir(resolve(local, '..'), { recursive: true });
        await afc.pull(path, local);
      }
    }
  } finally {
    afc.close();
    rmSync(out, { recursive: true, force: true });
  }
}

/** The recordings. Tools jobs share one emulator (pair first), our jobs another. */
export const JOBS: { group: 'tools' | 'ours'; jobs: Job[] }[] = [
  {
    group: 'tools',
    jobs: [
      { file: 'tools-idevicepair-pair.pcapng', how: '`idevicepair pair` (libimobiledevice 1.3.0) against a fresh emulator (trust: auto)', run: async (a, env) => void (await must('idevicepair', ['pair'], { ...env, USBMUXD_SOCKET_ADDRESS: a })) },
      { file: 'tools-ideviceinfo.pcapng', how: 'full `ideviceinfo` (StartSession, TLS 1.3, GetValue, StopSession) after the pairing above', run: async (a, env) => void (await must('ideviceinfo', [], { ...env, USBMUXD_SOCKET_ADDRESS: a })) },
      { file: 'tools-ifuse-dcim.pcapng', how: '`ifuse MNT -f -u UDID`, `find`/`ls -lR` of MNT/DCIM, `cat` of every file, `fusermount -u`', run: async (a, env) => ifuseSession({ ...env, USBMUXD_SOCKET_ADDRESS: a }) },
    ],
  },
  {
    group: 'ours',
    jobs: [
      {
        file: 'ours-pair.pcapng', how: '`iosdevice pair` (our client; pairs, then proves the record with StartSession/StopSession)',
        run: async (a, env) => {
          const code = await pairCommand.run(['--socket', a], cliIO(env));
          if (code !== 0) throw new Error(`iosdevice pair exited ${code}`);
        },
      },
      {
        file: 'ours-info.pcapng', how: 'our client: openLockdownSession (TLS), GetValue of all values, StopSession',
        run: async (a, env) => {
          const dev = await openDevice({ socket: a, env }, { timeoutMs: 10_000 });
          const { lockdown } = await openLockdownSession(dev, { timeoutMs: 30_000, autoPair: false });
          try {
            await lockdown.getValue(undefined, undefined, { timeoutMs: 30_000 });
            await lockdown.stopSession({ timeoutMs: 30_000 });
          } finally {
            lockdown.close();
          }
        },
      },
      { file: 'ours-afc-pull-dcim.pcapng', how: 'our client: connectAfc (StartSession, StartService com.apple.afc), walk /DCIM, pull every file', run: async (a, env) => oursPull(a, env) },
    ],
  },
];

/** Runs every job into `dir`; returns the README lines. */
export async function makeCaptures(dir: string, only?: (file: string) => boolean): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  for (const g of JOBS) {
    const emu = await startEmulator({ ...CAPTURE_EMULATOR, dcim: { ...CAPTURE_EMULATOR.dcim } });
    const work = mkdtempSync(join(tmpdir(), 'iosdevice-capture-'));
    const keylog = join(work, 'keys.log');
    // The emulator's lockdownd writes its TLS secrets here (startEmulator has no keylog option yet).
    (emu.devices[0]!.iphone.lockdown as { keylogFile?: string }).keylogFile = keylog;
    try {
      for (const job of g.jobs) {
        if (only && !only(job.file)) continue;
        writeFileSync(keylog, '', { mode: 0o600 });
        const file = join(dir, job.file);
        const recorder = new CaptureRecorder({ file });
        const proxy = await startRecordingProxy({ listen: join(work, 'proxy.sock'), upstream: emu.address, recorder });
        const env: NodeJS.ProcessEnv = { ...process.env, SSLKEYLOGFILE: keylog };
        delete env.USBMUXD_SOCKET_ADDRESS;
        try {
          await job.run(proxy.address, env, emu);
        } finally {
          await proxy.close();
          if (existsSync(keylog)) recorder.addKeylog(readFileSync(keylog));
          recorder.finish();
        }
        const size = (await stat(file)).size;
        lines.push(`| \`${job.file}\` | ${g.group === 'tools' ? 'real tool' : 'our client'} | ${job.how} | ${proxy.connections} connections, ${size} bytes |`);
      }
    } finally {
      await emu.close();
      rmSync(work, { recursive: true, force: true });
    }
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('make-captures.ts')) {
  const dir = resolve(process.argv[2] ?? 'captures');
  makeCaptures(dir).then(
    (lines) => {
      process.stdout.write(`${lines.join('\n')}\n`);
      // Refresh the table rows of the README (the lines starting with "| `").
      const readme = join(dir, 'README.md');
      if (existsSync(readme)) {
        const text = readFileSync(readme, 'utf8').split('\n');
        const first = text.findIndex((l) => l.startsWith('| `'));
        if (first >= 0) {
          const rest = text.slice(first).findIndex((l) => !l.startsWith('| `'));
          text.splice(first, rest < 0 ? text.length - first : rest, ...lines);
          writeFileSync(readme, text.join('\n'));
        }
      }
      return readdir(dir);
    },
    (e: unknown) => {
      process.stderr.write(`make-captures: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
