/**
 * Runs the real CLI (`bin/iosdevice.mjs`) as a child process, with pipes or under a pseudo-terminal (a small
 * Python relay, test/support/pty_run.py: the CLI sees a TTY for stdout and stderr, Ctrl-C is typed as \x03).
 * Every run has a hard timeout; `onOutput` sees the output so far and may act (kill, type).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnlessTools } from './peers.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'iosdevice.mjs');
const PTY_RUN = join(ROOT, 'test', 'support', 'pty_run.py');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Under a TTY: everything the terminal showed (stdout and stderr interleaved, \r\n line ends). */
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Run under a pseudo-terminal (default false: pipes). */
  tty?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Run as this user and group (pipes only; needs root; supplementary groups are dropped). */
  uid?: number;
  gid?: number;
  /** Called on every stdout chunk with the whole stdout so far. */
  onOutput?: (stdout: string, ctl: CliControl) => void;
}

export interface CliControl {
  child: ChildProcess;
  /** Types into the terminal (tty) or writes to stdin (pipes). */
  type(s: string): void;
}

/** Skip reason when the pseudo-terminal relay cannot run (python3 missing), else false. */
export function skipUnlessPty(): string | false {
  return skipUnlessTools('python3');
}

/** Starts the CLI; resolves when it exited and its output is drained. */
export function runCli(args: string[], o: CliOptions = {}): Promise<CliRun> {
  const env = { ...process.env, ...o.env };
  delete env.NODE_OPTIONS; // the test runner's --import flags must not leak into the CLI under test
  const child = o.tty
    ? spawn('python3', [PTY_RUN, process.execPath, BIN, ...args], { cwd: o.cwd ?? ROOT, env: { ...env, PTY_COLUMNS: '100' }, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], {
      cwd: o.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], ...(o.uid !== undefined ? { uid: o.uid } : {}), ...(o.gid !== undefined ? { gid: o.gid } : {}),
    });
  const ctl: CliControl = { child, type: (s) => void child.stdin?.write(s) };
  let stdout = '';
  let stderr = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  child.stdin?.on('error', () => undefined); // the child may be gone when a test types
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    o.onOutput?.(stdout, ctl);
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Fails when Node printed a warning (MaxListenersExceededWarning, deprecations…) in the output. */
export function noNodeWarnings(r: CliRun): string | undefined {
  const m = /\(node:\d+\) \w*Warning[^\n]*/.exec(r.stdout + r.stderr);
  return m?.[0];
}
