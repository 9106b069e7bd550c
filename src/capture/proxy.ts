/**
 * A recording usbmuxd proxy: listens where clients expect usbmuxd, forwards each client connection to the real
 * usbmuxd (or the emulator), and records both directions of every connection on a {@link CaptureRecorder}.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { IDeviceError, InvalidArgumentError } from '../core/errors.ts';
import { parseMuxAddress, type MuxAddress } from '../usbmux/address.ts';
import type { CaptureRecorder } from './recorder.ts';

/** Options of {@link startRecordingProxy}. */
export interface ProxyOptions {
  /** Where to listen: `UNIX:/path`, `/abs/path`, or `host:port` (port 0 = any). */
  listen: string;
  /** The daemon to forward to (USBMUXD_SOCKET_ADDRESS syntax). */
  upstream: string;
  recorder: CaptureRecorder;
}

/** A running proxy. */
export interface RecordingProxy {
  /** Address for clients (USBMUXD_SOCKET_ADDRESS syntax). */
  readonly address: string;
  /** Connections recorded so far. */
  readonly connections: number;
  /** Stops listening, ends open connections (their FIN is recorded). Does not finish the recorder. */
  close(): Promise<void>;
}

function listenAddress(text: string): MuxAddress {
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const m = /^(.*):(\d+)$/.exec(text);
  if (m && m[2] === '0') return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: 0 };
  return parseMuxAddress(text);
}

/**
 * Starts the proxy.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for bad addresses, a listen path that exists and is not a stale
 *   socket (a live daemon's socket or any other file, which is never deleted), or when listening fails
 *   (EADDRINUSE, EACCES…; the node:net error is the cause).
 */
export async function startRecordingProxy(opts: ProxyOptions): Promise<RecordingProxy> {
  const up = parseMuxAddress(opts.upstream);
  const at = listenAddress(opts.listen);
  if (at.kind === 'unix' && existsSync(at.path)) {
    if (!lstatSync(at.path).isSocket()) throw new InvalidArgumentError(`${at.path} exists and is not a socket; pick another --listen path`);
    const live = await new Promise<boolean>((resolve) => {
      const s = connect(at.path);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (live) throw new InvalidArgumentError(`${at.path} is served by a running daemon; pick another --listen path`);
    unlinkSync(at.path);
  }
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((client) => {
    count++;
    const conn = opts.recorder.connection();
    const upstream = up.kind === 'unix' ? connect(up.path) : connect(up.port, up.host);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay?.(true);
    client.on('data', (d: Buffer) => {
      conn.c2s(d);
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      conn.s2c(d);
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    const done = (): void => {
      conn.close();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => reject(new IDeviceError('ERR_INVALID_ARG', `cannot listen on ${opts.listen}: ${e.message}`, { cause: e }));
    server.once('error', fail);
    const ok = (): void => {
      server.off('error', fail);
      resolve();
    };
    if (at.kind === 'unix') server.listen(at.path, ok);
    else server.listen(at.port, at.host, ok);
  });
  // accept errors after listening (EMFILE…) drop that client only; without a listener they would crash the process
  server.on('error', () => {});
  let address: string;
  if (at.kind === 'unix') address = `UNIX:${at.path}`;
  else {
    const b = server.address();
    const port = typeof b === 'object' && b ? b.port : at.port;
    address = at.host.includes(':') ? `[${at.host}]:${port}` : `${at.host}:${port}`;
  }
  return {
    address,
    get connections() {
      return count;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (at.kind === 'unix' && existsSync(at.path)) unlinkSync(at.path);
    },
  };
}
