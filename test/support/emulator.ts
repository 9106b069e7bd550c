/**
 * Test helpers around the virtual iPhone: start an emulator on a temp unix socket with a small camera roll, and run
 * a real tool as a child process pointed at it (USBMUXD_SOCKET_ADDRESS=UNIX:…) with a hard timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/virtual-iphone/emulator.ts';

/** Starts an emulator with test-friendly defaults: 12 assets at 1/200 of real sizes, trust auto, no link shaping. */
export function startTestEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ dcimCount: 12, dcim: { scale: 0.005, seed: 7 }, ...opts });
}

/**
 * Waits until `cond()` is true, checking every `everyMs` (default 25 ms), and rejects after `timeoutMs`.
 * For external state that has no event to wait on (a FUSE mount appearing in /proc/self/mounts).
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Result of {@link runTool}. */
export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the hard timeout killed it. */
  timedOut: boolean;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

/** Options of {@link runTool}. */
export interface ToolOptions {
  /** Hard timeout (default 20 s): the child is killed with SIGKILL and `timedOut` is set. */
  timeoutMs?: number;
  /** Written to stdin (then closed). */
  input?: string;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Environment for a child talking to the emulator. */
export function toolEnv(address: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, USBMUXD_SOCKET_ADDRESS: address };
}

/**
 * Runs `cmd args` against the emulator at `address` and resolves when it exits (never rejects for a non-zero exit).
 * The child is always dead when this resolves.
 */
export function runTool(address: string, cmd: string, args: string[], o: ToolOptions = {}): Promise<ToolResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { env: toolEnv(address, o.env), cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(e);
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 20_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: performance.now() - t0 });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(o.input ?? '');
  });
}

/**
 * Starts a long-running child (e.g. `ifuse -f`) with a hard timeout; `stop()` sends SIGTERM, then SIGKILL after
 * `graceMs`, and resolves when it has exited.
 */
export function spawnTool(
  address: string,
  cmd: string,
  args: string[],
  o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null>; stop(graceMs?: number): Promise<number | null> } {
  const child = spawn(cmd, args, { env: toolEnv(address, o.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const hard = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  void exited.then(() => clearTimeout(hard));
  return {
    child,
    output: () => out,
    exited,
    async stop(graceMs = 3000): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
}
