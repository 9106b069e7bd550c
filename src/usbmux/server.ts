/**
 * UsbmuxServer: the daemon side of the usbmuxd protocol over a unix socket or TCP, serving many
 * clients from one {@link UsbmuxBackend} (the virtual iPhone, the direct-USB transport, a test fake).
 *
 * Per client it behaves like usbmuxd 1.1.1: requests are answered in order; replies use the client's
 * protocol (binary until the first plist message, then plist); unknown MessageTypes get Result 1,
 * header versions other than 0/1 Result 6; bytes it cannot parse close that client only. `Connect`
 * calls `backend.connect()`, writes `Result 0` before any device byte, then pipes both ways.
 */
import { EventEmitter } from 'node:events';
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenOn, parseListenAddress } from './listen-socket.ts';
import type { UsbmuxDeviceRecord } from './device.ts';
import { encodeAttached, encodeDetached, encodePaired } from './server-codec.ts';
import type { UsbmuxBackend, UsbmuxServerOptions } from './backend.ts';
import { ClientSession, type Listener } from './server-session.ts';

export type { UsbmuxBackend, UsbmuxServerOptions } from './backend.ts';

/**
 * A usbmuxd-compatible server. Emits 'clientError'(err) when a client is dropped for bad input (never
 * 'error'), and 'clientClosed'(stream) when a client connection ends (listener removed).
 */
export class UsbmuxServer extends EventEmitter {
  readonly #backend: UsbmuxBackend;
  readonly #opts: UsbmuxServerOptions;
  readonly #servers: Server[] = [];
  readonly #clients = new Set<Duplex>();
  readonly #listeners = new Set<Listener>();
  readonly #sessions = new Set<ClientSession>();
  readonly #unixPaths: string[] = [];
  #nextClientId = 1;

  readonly #onAttached = (r: UsbmuxDeviceRecord): void => this.#broadcast((l) => encodeAttached(l.proto, 0, r));
  readonly #onDetached = (id: number): void => this.#broadcast((l) => encodeDetached(l.proto, 0, id));
  readonly #onPaired = (id: number): void => this.#broadcast((l) => encodePaired(l.proto, 0, id));

  constructor(backend: UsbmuxBackend, opts: UsbmuxServerOptions = {}) {
    super();
    this.#backend = backend;
    this.#opts = opts;
    backend.on('attached', this.#onAttached);
    backend.on('detached', this.#onDetached);
    backend.on('paired', this.#onPaired);
  }

  /**
   * Listens on `UNIX:/path`, a bare absolute path, `host:port` or `[v6]:port` (port 0 picks a free one). A stale unix socket
   * file (nothing answering) is replaced; the socket is made world-accessible (0666) as usbmuxd does.
   * Resolves with the bound address in USBMUXD_SOCKET_ADDRESS syntax.
   * @throws InvalidArgumentError (ERR_INVALID_ARG) for a malformed address; ERR_USBMUX_LISTEN_FAILED when the address cannot be bound (EADDRINUSE…).
   */
  async listen(address: string): Promise<string> {
    const addr = parseListenAddress(address, { barePath: true });
    const server = createServer((s) => this.handle(s));
    const bound = await listenOn(server, addr);
    this.#servers.push(server);
    if (addr.kind === 'unix') {
      this.#unixPaths.push(addr.path);
      await chmod(addr.path, 0o666);
    }
    return bound;
  }

  /** Serves one client connection (any Duplex: a socket, or one end of duplexPair()). */
  handle(d: Duplex): void {
    this.#clients.add(d);
    (d as Partial<Socket>).setNoDelay?.(true);
    const session: ClientSession = new ClientSession(d, this.#nextClientId++, this.#backend, this.#opts, {
      addListener: (l) => this.#listeners.add(l),
      removeListener: (l) => this.#listeners.delete(l),
      listeners: () => [...this.#listeners],
      paired: (id) => this.#onPaired(id),
      dropped: (e) => this.emit('clientError', e),
      closed: () => {
        this.#clients.delete(d);
        // forget the session only once its in-flight backend call (if any) has settled
        void session.idle().finally(() => this.#sessions.delete(session));
        this.emit('clientClosed', d);
      },
    });
    this.#sessions.add(session);
    session.start();
  }

  /**
   * Stops listening, closes every client (and piped device stream) and detaches from the backend.
   * Resolves after backend calls already in flight (e.g. a pair-record write) have settled, so the
   * caller may delete the record directory afterwards.
   */
  async close(): Promise<void> {
    this.#backend.off('attached', this.#onAttached);
    this.#backend.off('detached', this.#onDetached);
    this.#backend.off('paired', this.#onPaired);
    for (const c of this.#clients) c.destroy();
    this.#clients.clear();
    this.#listeners.clear();
    await Promise.all([...this.#sessions].map((x) => x.idle().catch(() => undefined)));
    this.#sessions.clear();
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#servers.length = 0;
    for (const p of this.#unixPaths.splice(0)) await unlink(p).catch(() => undefined);
  }

  #broadcast(make: (l: Listener) => Buffer[]): void {
    for (const l of this.#listeners) l.write(make(l));
  }
}
