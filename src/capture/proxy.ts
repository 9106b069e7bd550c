/**
 * A recording usbmuxd proxy: listens where clients expect usbmuxd, forwards each client connection to the real
 * usbmuxd (or the emulator), and records both directions of every connection on a {@link CaptureRecorder}.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { IDeviceError } from '../core/errors.ts';
import { parseMuxAddress } from '../usbmux/address.ts';
import { listenOn, parseListenAddress } from '../usbmux/listen-socket.ts';
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

/**
 * Starts the proxy.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for bad addresses, a listen path that exists and is not a stale
 *   socket (a live daemon's socket or any other file, which is never deleted), or when listening fails
 *   (EADDRINUSE, EACCES…; the node:net error is the cause).
 */
export async function startRecordingProxy(opts: ProxyOptions): Promise<RecordingProxy> {
  const up = parseMuxAddress(opts.upstream);
  const at = parseListenAddress(opts.listen, { barePath: true });
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
  let address: string;
  try {
    address = await listenOn(server, at);
  } catch (e) {
    if (e instanceof IDeviceError) throw e;
    throw new IDeviceError('ERR_INVALID_ARG', `cannot listen on ${opts.listen}: ${(e as Error).message}`, { cause: e });
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
