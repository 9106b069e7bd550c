/**
 * Listening where usbmuxd clients connect, shared by our daemon (server.ts) and the recording proxy
 * (src/capture/proxy.ts): listen-address parsing (TCP port 0 allowed), stale unix socket replacement that
 * never deletes anything but a dead socket, and binding a net.Server.
 */
import { lstat, unlink } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { InvalidArgumentError } from '../core/errors.ts';
import { formatMuxAddress, parseMuxAddress, type MuxAddress } from './address.ts';
import { UsbmuxListenError } from './errors.ts';

/**
 * Parses a listen address: USBMUXD_SOCKET_ADDRESS syntax, plus TCP port 0 (pick a free port) and, with
 * `barePath`, an absolute path for a unix socket.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for a malformed address.
 */
export function parseListenAddress(address: string, opts: { barePath?: boolean } = {}): MuxAddress {
  const text = address.trim();
  if (opts.barePath && text.startsWith('/')) return { kind: 'unix', path: text };
  const m = /^(.*):0$/.exec(text);
  if (m && !text.startsWith('UNIX:')) {
    const parsed = parseMuxAddress(`${m[1]}:1`);
    if (parsed.kind === 'tcp') return { ...parsed, port: 0 };
  }
  return parseMuxAddress(text);
}

/**
 * Makes `path` free for a new unix socket: nothing there is fine; a socket nobody answers on is removed.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) when the path is not a socket (never deleted) or a live
 *   daemon answers on it.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new InvalidArgumentError(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new InvalidArgumentError(`another daemon is already listening on ${path}`);
  await unlink(path);
}

/**
 * Binds `server` at `addr` (a stale unix socket is replaced first) and resolves with the bound address in
 * USBMUXD_SOCKET_ADDRESS syntax (the real port for port 0). Later server errors (EMFILE on accept…) only
 * drop that connection: a listener is installed so they never crash the process.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) as {@link removeStaleSocket}; UsbmuxListenError ERR_USBMUX_LISTEN_FAILED
 *   when the system refuses the address (EADDRINUSE, EACCES…; the node:net error is the `cause`).
 */
export async function listenOn(server: Server, addr: MuxAddress): Promise<string> {
  if (addr.kind === 'unix') await removeStaleSocket(addr.path);
  await new Promise<void>((resolve, reject0) => {
    const reject = (e: NodeJS.ErrnoException): void => {
      const where = addr.kind === 'unix' ? addr.path : `${addr.host}:${addr.port}`;
      const hint = e.code === 'EADDRINUSE' ? ' (already in use: pick another address)' : e.code === 'EACCES' ? ' (permission denied)' : '';
      reject0(new UsbmuxListenError(where, `cannot listen on ${where}: ${e.code ?? e.message}${hint}`, { cause: e }));
    };
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else server.listen(addr.port, addr.host, done);
  });
  server.on('error', () => {});
  if (addr.kind === 'unix') return formatMuxAddress(addr);
  const bound = server.address();
  return formatMuxAddress({ kind: 'tcp', host: addr.host, port: typeof bound === 'object' && bound ? bound.port : addr.port });
}
