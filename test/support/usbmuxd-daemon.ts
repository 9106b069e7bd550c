/**
 * Starts the REAL usbmuxd 1.1.1 (Debian package usbmuxd) isolated in a private mount namespace
 * (../shared/docs/peers.md §4): /run and /var/lib are bind-mounted from a temp dir, so it touches
 * neither the real socket/config nor another instance. Needs root and `unshare`.
 *
 * `skipUnlessUsbmuxd()` gives the node:test skip reason (not root, tools missing). `startUsbmuxd()`
 * resolves once the socket accepts connections; `stop()` sends SIGTERM (SIGKILL after 5 s) and removes
 * the temp dir. Optionally `socat` exposes the socket on 127.0.0.1:PORT (usbmuxd 1.1.1 cannot listen on TCP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, skipUnlessTools } from './peers.ts';

export interface UsbmuxdInstance {
  /** The temp dir holding everything. */
  dir: string;
  /** The daemon's unix socket (its /var/run/usbmuxd). */
  socketPath: string;
  /** `UNIX:<socketPath>` for USBMUXD_SOCKET_ADDRESS / --socket. */
  address: string;
  /** Its config dir (/var/lib/lockdown inside the namespace): SystemConfiguration.plist, <UDID>.plist. */
  lockdownDir: string;
  /** The daemon's -v log. */
  log(): string;
  /** Starts `socat` relaying 127.0.0.1:<free port> to the socket; resolves with `127.0.0.1:PORT`. */
  tcpRelay(): Promise<string>;
  stop(): Promise<void>;
}

/** Skip reason for tests needing the real daemon, or false. In CI (IOSDEVICE_REQUIRE_PEERS=1) missing tools throw. */
export function skipUnlessUsbmuxd(...extraTools: string[]): string | false {
  const tools = skipUnlessTools('usbmuxd', 'unshare', ...extraTools);
  if (tools) return tools;
  if (!isRoot()) {
    const why = 'the real usbmuxd runs in a private mount namespace, which needs root';
    if (process.env.IOSDEVICE_REQUIRE_PEERS === '1') throw new Error(why);
    return why;
  }
  return false;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** True once something accepts connections on the unix socket. */
function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Starts an isolated usbmuxd. Call stop() in `finally`. */
export async function startUsbmuxd(opts: { startTimeoutMs?: number } = {}): Promise<UsbmuxdInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-usbmuxd-'));
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'varlib', 'lockdown'), { recursive: true });
  const script = join(dir, 'ns-usbmuxd.sh');
  writeFileSync(
    script,
    ['#!/bin/sh', 'set -e', `mount --bind '${dir}/run' /run`, `mount --bind '${dir}/varlib' /var/lib`, 'exec usbmuxd "$@"', ''].join('\n'),
  );
  chmodSync(script, 0o755);
  const logPath = join(dir, 'usbmuxd.log');
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logPath, 'w');
  // unshare execs the script, which execs usbmuxd: the child PID is the daemon.
  const child = spawn('unshare', ['-m', '--propagation', 'private', script, '-f', '-v'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const relays: ChildProcess[] = [];
  const socketPath = join(dir, 'run', 'usbmuxd');
  const stop = async (): Promise<void> => {
    for (const r of relays) {
      r.kill('SIGTERM');
      if (!(await waitExit(r, 2000))) r.kill('SIGKILL');
    }
    child.kill('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const log = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  // Wait (bounded) until the daemon accepts connections, or fail early if it exited.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (existsSync(socketPath) && (await canConnect(socketPath))) break;
    if (exited || Date.now() > deadline) {
      const why = exited ? `usbmuxd exited (${child.exitCode ?? child.signalCode})` : 'usbmuxd did not open its socket in time';
      const text = log();
      await stop();
      throw new Error(`${why}\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    dir,
    socketPath,
    address: `UNIX:${socketPath}`,
    lockdownDir: join(dir, 'varlib', 'lockdown'),
    log,
    async tcpRelay(): Promise<string> {
      const port = await freePort();
      const relay = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${socketPath}`], { stdio: 'ignore' });
      relays.push(relay);
      const until = Date.now() + 5000;
      for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
        if (ok) break;
        if (relay.exitCode !== null || Date.now() > until) throw new Error('socat relay did not start');
        await new Promise((r) => setTimeout(r, 20));
      }
      return `127.0.0.1:${port}`;
    },
    stop,
  };
}
