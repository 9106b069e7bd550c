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
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { InvalidArgumentError, asIDeviceError } from '../core/errors.ts';
import type { PlistDict } from '../plist/types.ts';
import { formatMuxAddress, parseMuxAddress, type MuxAddress } from './address.ts';
import type { UsbmuxDeviceRecord } from './device.ts';
import { UsbmuxError } from './errors.ts';
import { decodePortNumber } from './port.ts';
import { ResultCode } from './protocol.ts';
import {
  UsbmuxRequestDecoder,
  encodeAttached,
  encodeBuid,
  encodeDetached,
  encodeDeviceList,
  encodeListenerList,
  encodePairRecordData,
  encodePaired,
  encodeResult,
  type ReplyProtocol,
  type UsbmuxRequest,
} from './server-codec.ts';

/**
 * What the server serves. Emits 'attached'(UsbmuxDeviceRecord), 'detached'(deviceId), 'paired'(deviceId).
 * The server itself sends `Paired` to listeners after a successful SavePairRecord that names an
 * attached DeviceID (as usbmuxd does); emit 'paired' only for pairings made elsewhere.
 */
export interface UsbmuxBackend extends EventEmitter {
  /** Devices present now (DeviceID ≥ 1; `properties` as in protocol.md §1). */
  listDevices(): UsbmuxDeviceRecord[];
  /** Opens a stream to `port` (host order). Reject with UsbmuxResultError(2) for no such device, (3) for refused. */
  connect(deviceId: number, port: number): Promise<Duplex>;
  readBuid(): Promise<string>;
  /** The record bytes (XML), or undefined when none. */
  readPairRecord(udid: string): Promise<Buffer | undefined>;
  /** Reject with UsbmuxResultError(22) for unparsable data. */
  savePairRecord(udid: string, data: Buffer, deviceId?: number): Promise<void>;
  /** False when there was no record. */
  deletePairRecord(udid: string): Promise<boolean>;
}

/** Options of {@link UsbmuxServer}. */
export interface UsbmuxServerOptions {
  /** Largest accepted request, bytes (default 16 MiB, as the decoder). */
  maxMessage?: number;
}

interface Listener {
  id: number;
  proto: ReplyProtocol;
  identity: PlistDict;
  write(bytes: Buffer[]): void;
}

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
   * Listens on `UNIX:/path`, `host:port` or `[v6]:port` (port 0 picks a free one). A stale unix socket
   * file (nothing answering) is replaced; the socket is made world-accessible (0666) as usbmuxd does.
   * Resolves with the bound address in USBMUXD_SOCKET_ADDRESS syntax.
   * @throws InvalidArgumentError (ERR_INVALID_ARG) for a malformed address; the listen error (EADDRINUSE…) otherwise.
   */
  async listen(address: string): Promise<string> {
    const addr = parseListenAddress(address);
    if (addr.kind === 'unix') await removeStaleSocket(addr.path);
    const server = createServer((s) => this.handle(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (addr.kind === 'unix') server.listen(addr.path, done);
      else server.listen(addr.port, addr.host, done);
    });
    this.#servers.push(server);
    if (addr.kind === 'unix') {
      this.#unixPaths.push(addr.path);
      await chmod(addr.path, 0o666);
      return formatMuxAddress(addr);
    }
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : addr.port;
    return formatMuxAddress({ kind: 'tcp', host: addr.host, port });
  }

  /** Serves one client connection (any Duplex: a socket, or one end of duplexPair()). */
  handle(d: Duplex): void {
    this.#clients.add(d);
    (d as Partial<Socket>).setNoDelay?.(true);
    new ClientSession(d, this.#nextClientId++, this.#backend, this.#opts, {
      addListener: (l) => this.#listeners.add(l),
      removeListener: (l) => this.#listeners.delete(l),
      listeners: () => [...this.#listeners],
      paired: (id) => this.#onPaired(id),
      dropped: (e) => this.emit('clientError', e),
      closed: () => {
        this.#clients.delete(d);
        this.emit('clientClosed', d);
      },
    }).start();
  }

  /** Stops listening, closes every client (and piped device stream) and detaches from the backend. */
  async close(): Promise<void> {
    this.#backend.off('attached', this.#onAttached);
    this.#backend.off('detached', this.#onDetached);
    this.#backend.off('paired', this.#onPaired);
    for (const c of this.#clients) c.destroy();
    this.#clients.clear();
    this.#listeners.clear();
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#servers.length = 0;
    for (const p of this.#unixPaths.splice(0)) await unlink(p).catch(() => undefined);
  }

  #broadcast(make: (l: Listener) => Buffer[]): void {
    for (const l of this.#listeners) l.write(make(l));
  }
}

/** Like parseMuxAddress, but TCP port 0 (pick a free port) is allowed. */
function parseListenAddress(address: string): MuxAddress {
  const m = /^(.*):0$/.exec(address.trim());
  if (m && !address.startsWith('UNIX:')) {
    const parsed = parseMuxAddress(`${m[1]}:1`);
    if (parsed.kind === 'tcp') return { ...parsed, port: 0 };
  }
  return parseMuxAddress(address);
}

async function removeStaleSocket(path: string): Promise<void> {
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

interface SessionHooks {
  addListener(l: Listener): void;
  removeListener(l: Listener): void;
  listeners(): Listener[];
  paired(deviceId: number): void;
  dropped(e: Error): void;
  closed(): void;
}

/** One client connection: decode → answer in order → maybe become a listener or a pipe. */
class ClientSession {
  readonly #d: Duplex;
  readonly #id: number;
  readonly #backend: UsbmuxBackend;
  readonly #hooks: SessionHooks;
  readonly #decoder: UsbmuxRequestDecoder;
  #proto: ReplyProtocol = 'binary'; // usbmuxd starts in v0 and switches on the first plist message
  #busy = false;
  #done = false;
  #listener: Listener | undefined;

  constructor(d: Duplex, id: number, backend: UsbmuxBackend, opts: UsbmuxServerOptions, hooks: SessionHooks) {
    this.#d = d;
    this.#id = id;
    this.#backend = backend;
    this.#hooks = hooks;
    this.#decoder = new UsbmuxRequestDecoder(opts.maxMessage !== undefined ? { maxLength: opts.maxMessage } : {});
  }

  start(): void {
    this.#d.on('data', this.#onData);
    this.#d.on('error', this.#onGone);
    this.#d.on('close', this.#onGone);
    this.#d.on('end', this.#onGone);
  }

  #onGone = (): void => this.#finish();

  #onData = (chunk: Buffer): void => {
    try {
      this.#decoder.push(chunk);
    } catch (e) {
      this.#hooks.dropped(asIDeviceError(e));
      this.#finish();
      return;
    }
    void this.#pump();
  };

  #finish(): void {
    if (this.#listener) this.#hooks.removeListener(this.#listener);
    this.#listener = undefined;
    if (this.#done) return;
    this.#done = true;
    this.#hooks.closed();
    if (!this.#d.destroyed) this.#d.destroy();
  }

  #write(bytes: Buffer[]): void {
    if (this.#d.destroyed || this.#d.writableEnded) return;
    this.#d.cork();
    for (const b of bytes) this.#d.write(b);
    this.#d.uncork();
  }

  /** Handles buffered requests one at a time (backend calls are async; replies stay in order). */
  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (!this.#done) {
        let req: UsbmuxRequest | undefined;
        try {
          req = this.#decoder.next();
        } catch (e) {
          // Garbage: usbmuxd drops such a client without a reply.
          this.#hooks.dropped(asIDeviceError(e));
          this.#finish();
          return;
        }
        if (!req) return;
        const handedOver = await this.#handle(req);
        if (handedOver) return;
      }
    } catch (e) {
      // A backend that throws where no Result can carry it (e.g. listDevices during Listen): drop this client only.
      this.#hooks.dropped(asIDeviceError(e));
      this.#finish();
    } finally {
      this.#busy = false;
    }
  }

  /** Answers one request; true when the connection became a device pipe. */
  async #handle(req: UsbmuxRequest): Promise<boolean> {
    if (req.kind === 'badVersion') {
      this.#write(encodeResult(this.#proto, req.tag, ResultCode.BadVersion));
      return false;
    }
    if (req.kind === 'unknown') {
      this.#write(encodeResult(this.#proto, req.tag, ResultCode.BadCommand));
      return false;
    }
    if (req.kind === 'listen') return this.#listen(req.tag, {}), false;
    if (req.kind === 'connect') return this.#connect(req.tag, req.deviceId, req.port);
    this.#proto = 'plist';
    const p = req.plist;
    const tag = req.tag;
    const result = (n: number): void => this.#write(encodeResult('plist', tag, n));
    try {
      switch (req.messageType) {
        case 'ListDevices':
          this.#write(encodeDeviceList(tag, this.#backend.listDevices()));
          return false;
        case 'Listen':
          this.#listen(tag, p);
          return false;
        case 'Connect': {
          const id = typeof p.DeviceID === 'number' ? p.DeviceID : -1;
          let port: number;
          try {
            port = decodePortNumber(typeof p.PortNumber === 'number' || typeof p.PortNumber === 'bigint' ? p.PortNumber : NaN);
          } catch {
            result(ResultCode.BadCommand);
            return false;
          }
          return await this.#connect(tag, id, port);
        }
        case 'ReadBUID':
          this.#write(encodeBuid(tag, await this.#backend.readBuid()));
          return false;
        case 'ReadPairRecord': {
          const data = typeof p.PairRecordID === 'string' ? await this.#backend.readPairRecord(p.PairRecordID) : undefined;
          if (data) this.#write(encodePairRecordData(tag, data));
          else result(ResultCode.BadDevice);
          return false;
        }
        case 'SavePairRecord': {
          if (typeof p.PairRecordID !== 'string' || !Buffer.isBuffer(p.PairRecordData)) {
            result(ResultCode.Invalid);
            return false;
          }
          const deviceId = typeof p.DeviceID === 'number' ? p.DeviceID : undefined;
          await this.#backend.savePairRecord(p.PairRecordID, p.PairRecordData, deviceId);
          result(ResultCode.OK);
          if (deviceId !== undefined && this.#backend.listDevices().some((d) => d.deviceId === deviceId)) this.#hooks.paired(deviceId);
          return false;
        }
        case 'DeletePairRecord': {
          const ok = typeof p.PairRecordID === 'string' && (await this.#backend.deletePairRecord(p.PairRecordID));
          result(ok ? ResultCode.OK : ResultCode.BadDevice);
          return false;
        }
        case 'ListListeners':
          this.#write(encodeListenerList(tag, this.#hooks.listeners().map((l) => ({ ID: l.id, ...l.identity }))));
          return false;
        default:
          result(ResultCode.BadCommand);
          return false;
      }
    } catch (e) {
      // A backend failure becomes a Result (its own number when it gave one), never a dropped client.
      result(e instanceof UsbmuxError ? e.result : ResultCode.BadCommand);
      return false;
    }
  }

  #listen(tag: number, request: PlistDict): void {
    this.#write(encodeResult(this.#proto, tag, ResultCode.OK));
    const identity: PlistDict = {};
    for (const k of ['BundleID', 'ClientVersionString', 'ProgName', 'ProcessID', 'ConnType', 'kLibUSBMuxVersion']) {
      const v = request[k];
      if (v !== undefined) identity[k] = v;
    }
    const l: Listener = { id: this.#id, proto: this.#proto, identity, write: (b) => this.#write(b) };
    for (const r of this.#backend.listDevices()) l.write(encodeAttached(l.proto, 0, r));
    if (this.#listener) this.#hooks.removeListener(this.#listener);
    this.#listener = l;
    this.#hooks.addListener(l);
  }

  async #connect(tag: number, deviceId: number, port: number): Promise<boolean> {
    const proto = this.#proto;
    let device: Duplex;
    try {
      if (!this.#backend.listDevices().some((d) => d.deviceId === deviceId)) throw new UsbmuxError(ResultCode.BadDevice);
      device = await this.#backend.connect(deviceId, port);
    } catch (e) {
      this.#write(encodeResult(proto, tag, e instanceof UsbmuxError ? e.result : ResultCode.ConnRefused));
      return false;
    }
    if (this.#done) {
      device.destroy();
      return true;
    }
    // From here on the connection is a raw pipe: stop decoding, keep the bytes the client already sent.
    const client = this.#d;
    client.off('data', this.#onData);
    client.off('end', this.#onGone); // a half-close is the pipe's business now
    client.pause();
    const early = this.#decoder.drain();
    // Result 0 goes out before any device byte: the device stream is not read until it is piped below.
    this.#write(encodeResult(proto, tag, ResultCode.OK));
    for (const b of early) device.write(b);
    const kill = (): void => {
      client.destroy();
      device.destroy();
    };
    pipeline(client, device, (err) => {
      if (err) kill();
    });
    pipeline(device, client, (err) => {
      if (err) kill();
    });
    client.once('close', () => device.destroy());
    return true;
  }
}
