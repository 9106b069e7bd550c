/**
 * Runs a TypeScript file in a child Node process (through tsx) with a hard timeout, and parses the JSON
 * object the child prints as its last stdout line. Children measure their own CPU and peak RSS with
 * {@link selfUsage}, so every client is measured in a process of its own.
 */
import { spawn } from 'node:child_process';

/** CPU and memory of the current process. */
export interface SelfUsage {
  /** User + system CPU seconds since `since` (process.cpuUsage()). */
  cpuSeconds: number;
  /** Peak RSS in bytes (getrusage maxrss). */
  peakRssBytes: number;
}

/** Measures this process: CPU since `since`, peak RSS over the whole life. */
export function selfUsage(since: NodeJS.CpuUsage): SelfUsage {
  const c = process.cpuUsage(since);
  return { cpuSeconds: (c.user + c.system) / 1e6, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** Spawns `node --import tsx script args…`; resolves with the last stdout line parsed as JSON. */
export async function runTsChild<T>(script: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  try {
    const code = await new Promise<number | null>((res, rej) => {
      child.once('error', rej);
      child.once('exit', (c) => res(c));
    });
    if (code !== 0) throw new Error(`${script} exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`);
    const last = out.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as T;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
