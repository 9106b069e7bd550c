/**
 * The ifuse row: the real libimobiledevice FUSE client (ifuse + cp -r) against the emulator's usbmuxd.
 * Needs a working emulator (usbmuxd → lockdown → AFC); `prepareEmulator` reports why not when it is not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LinkProfile } from '../../src/virtual-iphone/link.ts';

/** Minimal view of the emulator we need (src/virtual-iphone/emulator.ts). */
export interface EmulatorLike {
  address: string;
  devices: { udid: string }[];
  close(): Promise<void>;
}

/** Starts the emulator serving `media` with the link profile and checks lockdown answers; else the reason. */
export async function prepareEmulator(media: string, link: LinkProfile): Promise<{ emu: EmulatorLike } | { reason: string }> {
  let emu: EmulatorLike | undefined;
  try {
    const { startEmulator } = await import('../../src/virtual-iphone/emulator.ts');
    const { openDevice, openLockdownSession } = await import('../../src/connect.ts');
    emu = await startEmulator({ mediaDir: media, link });
    const dev = await openDevice({ socket: emu.address }, { timeoutMs: 5000 });
    const s = await openLockdownSession(dev, { timeoutMs: 5000 });
    s.lockdown.close();
    return { emu };
  } catch (e) {
    await emu?.close().catch(() => undefined);
    return { reason: `emulator not usable (${e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e)})` };
  }
}

/** Whether ifuse can run here, else the reason. */
export function ifuseMissing(): string | undefined {
  for (const t of ['/usr/bin/ifuse', '/usr/bin/fusermount', '/usr/bin/time']) if (!existsSync(t)) return `${t} not installed`;
  if (!existsSync('/dev/fuse')) return '/dev/fuse missing';
  return undefined;
}

async function mounted(mnt: string): Promise<boolean> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === mnt);
}

async function procCpuAndHwm(pid: number): Promise<{ cpuSeconds: number; peakRssBytes: number }> {
  const st = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(st[11]) + Number(st[12]); // utime, stime (fields 14, 15)
  const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds: ticks / 100, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
}

async function duBytes(p: string): Promise<number> {
  const st = await stat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of await readdir(p)) n += await duBytes(join(p, e));
  return n;
}

function waitExit(c: ChildProcess): Promise<number | null> {
  return new Promise((res) => (c.exitCode !== null || c.signalCode !== null ? res(c.exitCode) : c.once('exit', (code) => res(code))));
}

/** What an ifuse row measured. CPU and peak RSS are ifuse's plus cp's. */
export interface IfuseResult {
  bytes: number;
  seconds: number;
  /** The time limit was reached: `bytes` is what was copied by then. */
  partial: boolean;
  cpuSeconds: number;
  peakRssBytes: number;
}

/**
 * Mounts the device with `ifuse -f`, runs `cp -r <mnt>/<srcRel> <dest>` for at most `limitMs` (then the
 * bytes copied so far count), unmounts. CPU and peak RSS are ifuse's plus cp's.
 */
export function ifuseCopy(emu: EmulatorLike, srcRel: string, dest: string, workDir: string, limitMs: number): Promise<IfuseResult> {
  return ifuseRun(emu, workDir, limitMs, (mnt) => ['-r', join(mnt, srcRel), dest], () => duBytes(dest));
}

/**
 * Mounts the device with `ifuse -f` and copies the local file `src` to `<mnt>/<dstRel>` with `cp` (FUSE writes, i.e.
 * ifuse's seek + write per FUSE write request); `deviceFile` is where the emulator stores it (to count the bytes).
 */
export function ifusePush(emu: EmulatorLike, src: string, dstRel: string, deviceFile: string, workDir: string, limitMs: number): Promise<IfuseResult> {
  return ifuseRun(emu, workDir, limitMs, (mnt) => [src, join(mnt, dstRel)], () => duBytes(deviceFile));
}

async function ifuseRun(
  emu: EmulatorLike,
  workDir: string,
  limitMs: number,
  cpArgs: (mnt: string) => string[],
  copied: () => Promise<number>,
): Promise<IfuseResult> {
  const mnt = join(workDir, 'ifuse-mnt');
  await mkdir(mnt, { recursive: true });
  const env = { ...process.env, USBMUXD_SOCKET_ADDRESS: emu.address };
  const ifuse = spawn('ifuse', [mnt, '-f', '-u', emu.devices[0]!.udid], { env, stdio: 'ignore' });
  let cp: ChildProcess | undefined;
  try {
    const deadline = Date.now() + 20_000;
    while (!(await mounted(mnt))) {
      if (ifuse.exitCode !== null || Date.now() > deadline) throw new Error('ifuse did not mount');
      await new Promise((r) => setTimeout(r, 50)); // polling a mount table, not synchronising a test
    }
    const t0 = performance.now();
    cp = spawn('/usr/bin/time', ['-f', '%U %S %M', 'cp', ...cpArgs(mnt)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    cp.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    let partial = false;
    const timer = setTimeout(() => {
      partial = true;
      cp!.kill('SIGKILL');
    }, limitMs);
    const code = await waitExit(cp);
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    if (!partial && code !== 0) throw new Error(`cp exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    const bytes = await copied();
    const f = await procCpuAndHwm(ifuse.pid!);
    const m = /([\d.]+) ([\d.]+) (\d+)\s*$/.exec(err);
    const cpCpu = m ? Number(m[1]) + Number(m[2]) : 0;
    const cpRss = m ? Number(m[3]) * 1024 : 0;
    return { bytes, seconds, partial, cpuSeconds: f.cpuSeconds + cpCpu, peakRssBytes: Math.max(f.peakRssBytes, cpRss) };
  } finally {
    if (cp && cp.exitCode === null) cp.kill('SIGKILL');
    const um = spawn('fusermount', ['-u', mnt], { stdio: 'ignore' });
    await waitExit(um);
    if (await mounted(mnt)) await waitExit(spawn('fusermount', ['-uz', mnt], { stdio: 'ignore' }));
    const killer = setTimeout(() => ifuse.kill('SIGKILL'), 5000);
    await waitExit(ifuse);
    clearTimeout(killer);
  }
}
