/**
 * A recording usbmuxd proxy: listens where clients expect usbmuxd, forwards each client connection to the real
 * usbmuxd (or the emulator), and records both directions of every connection on a {@link CaptureRecorder}.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { IDeviceError, InvalidArgumentError } from '../core/errors.ts';
import { parseMuxAddress } from '../usbmux/address.ts';
import { listenOn, parseListenAddress } from '../usbmux/listen-socket.ts';
import { CaptureError } from './errors.ts';
import type { CaptureRecorder } from './recorder.ts';

/** Options of {@link startRecordingProxy}. */
export interface ProxyOptions {
  /** Where to listen: `UNIX:/path`, `/abs/path`, or `host:port` (port 0 = any). */
  listen: string;
  /** The daemon to forward to (USBMUXD_SOCKET_ADDRESS syntax). */
  upstream: string;
  recorder: CaptureRecorder;
  /**
   * Called once per failure to record (e.g. ENOSPC writing the file); that client's connection is closed, as
   * traffic that cannot be recorded is not forwarded. Without it failures are only counted in `failure`.
   */
  onError?: (e: IDeviceError) => void;
}

/** A running proxy. */
export interface RecordingProxy {
  /** Address for clients (USBMUXD_SOCKET_ADDRESS syntax). */
  readonly address: string;
  /** Connections recorded so far. */
  readonly connections: number;
  /** The first recording failure, if any (the capture file is then incomplete). */
  readonly failure: IDeviceError | undefined;
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
  let failure: IDeviceError | undefined;
  /** Runs a recorder call; false (after reporting) when it threw, so no socket handler ever throws. */
  const record = (fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (e) {
      const err = e instanceof IDeviceError ? e : new CaptureError('ERR_CAPTURE_WRITE', `cannot write the capture: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
      failure ??= err;
      opts.onError?.(err);
      return false;
    }
  };
  const server: Server = createServer((client) => {
    let conn: ReturnType<CaptureRecorder['connection']> | undefined;
    if (!record(() => (conn = opts.recorder.connection())) || !conn) {
      client.destroy();
      return;
    }
    const c = conn;
    count++;
    const upstream = up.kind === 'unix' ? connect(up.path) : connect(up.port, up.host);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay?.(true);
    let closed = false;
    const done = (): void => {
      if (closed) return;
      closed = true;
      record(() => c.close());
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      if (!record(() => c.c2s(d))) return done();
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      if (!record(() => c.s2c(d))) return done();
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
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
    if (e instanceof IDeviceError && e.code !== 'ERR_USBMUX_LISTEN_FAILED') throw e;
    throw new InvalidArgumentError(`cannot listen on ${opts.listen}: ${(e as Error).message}`, { cause: e });
  }
  return {
    address,
    get connections() {
      return count;
    },
    get failure() {
      return failure;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (at.kind === 'unix' && existsSync(at.path)) unlinkSync(at.path);
    },
  };
}
