/**
 * UsbmuxClient: one connection to usbmuxd (connection tier). Requests are matched to replies by tag
 * (several may be in flight); `connect()` and `listen()` consume the connection.
 *
 * Thrown codes (besides each method's own): ERR_USBMUX_UNREACHABLE (open), ERR_USBMUX_CONSUMED (after
 * connect/listen), ERR_CLOSED (socket closed while waiting), ERR_PROTOCOL / ERR_PROTOCOL_TOO_LARGE /
 * ERR_USBMUX_HEADER_VERSION (daemon sent bytes we cannot parse), ERR_TIMEOUT / ERR_ABORTED (CallOpts),
 * UsbmuxError codes for non-zero Results (ERR_USBMUX_BADDEV, ERR_USBMUX_CONNREFUSED, …).
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { withCallOpts, throwIfAborted, type CallOpts } from '../core/abort.ts';
import { ClosedError, IDeviceError, ProtocolError, asIDeviceError } from '../core/errors.ts';
import { connectRecycled } from '../core/read-recycler.ts';
import { isPlistDict, type PlistDict } from '../plist/types.ts';
import { formatMuxAddress, netOptions, resolveUsbmuxAddress, type MuxAddress } from './address.ts';
import { clientIdentity, encodeBinaryConnect, encodeBinaryListen, encodeConnectRequest, encodePlistRequest, UsbmuxReplyDecoder, type UsbmuxReply } from './codec.ts';
import { deviceFromProperties, type DeviceEvent, type UsbmuxDevice } from './device.ts';
import { UsbmuxConsumedError, UsbmuxError, UsbmuxUnreachableError } from './errors.ts';
import { ListenFeed } from './listen-feed.ts';
import { ResultCode } from './protocol.ts';

export type { DeviceEvent, UsbmuxDevice } from './device.ts';

/** Options of {@link UsbmuxClient.open}. */
export interface UsbmuxOpenOptions extends CallOpts {
  /** `UNIX:/path`, `host:port`, `[v6]:port` or a parsed address (default: USBMUXD_SOCKET_ADDRESS, else the platform default). */
  address?: string | MuxAddress;
  /** Environment to read USBMUXD_SOCKET_ADDRESS from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Start in the binary v0 protocol instead of plist v1 (normally chosen automatically on Result 6). */
  protocol?: 'plist' | 'binary';
  /** ProgName sent to the daemon. */
  progName?: string;
  /** Largest accepted message, bytes (default 16 MiB). */
  maxMessage?: number;
  /**
   * Read the socket into reused memory (core/read-recycler.ts): for a connection that becomes an AFC stream after
   * connect(). Behaves as a plain socket until its consumer takes the reads as a sink.
   */
  recycleReads?: boolean;
}

type Pending = { resolve(r: UsbmuxReply): void; reject(e: Error): void };
type State = 'open' | 'consumed' | 'closed';

/** Idle time that ends a binary-protocol device scan (libusbmuxd uses 100 ms). */
const BINARY_SCAN_IDLE_MS = 100;

function ignoreError(): void {}

/** Client for the usbmuxd socket protocol. */
export class UsbmuxClient {
  readonly #socket: Duplex;
  readonly #decoder: UsbmuxReplyDecoder;
  readonly #pending = new Map<number, Pending>();
  readonly #identity: PlistDict;
  readonly #address: MuxAddress | undefined;
  readonly #opts: UsbmuxOpenOptions;
  #tag = 0;
  #state: State = 'open';
  #proto: 'plist' | 'binary';
  #feed: ListenFeed | undefined;
  /** Set when a Connect got Result 0: the reader stops and hands the socket over. */
  #handoverDue = false;
  #handedOver = false;
  /** Set once connect() returned the socket to its caller: close() must not touch it any more. */
  #delivered = false;
  readonly #abandoned = new Set<number>();
  #failure: Error | undefined;

  /** Wraps an already connected stream (a socket, or one end of duplexPair() in tests). */
  constructor(stream: Duplex, opts: UsbmuxOpenOptions & { resolvedAddress?: MuxAddress } = {}) {
    this.#socket = stream;
    this.#opts = opts;
    this.#address = opts.resolvedAddress;
    this.#proto = opts.protocol ?? 'plist';
    this.#identity = clientIdentity(opts.progName);
    this.#decoder = new UsbmuxReplyDecoder(opts.maxMessage !== undefined ? { maxLength: opts.maxMessage } : {});
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onClose);
    stream.on('error', this.#onError);
  }

  /**
   * Connects to usbmuxd.
   * @throws ERR_USBMUX_UNREACHABLE when nothing listens there; ERR_INVALID_ARG for a malformed address;
   *   ERR_TIMEOUT / ERR_ABORTED.
   */
  static async open(opts: UsbmuxOpenOptions = {}): Promise<UsbmuxClient> {
    const address = typeof opts.address === 'object' ? opts.address : resolveUsbmuxAddress(opts.address, opts.env ?? process.env);
    throwIfAborted('usbmux open', opts.signal);
    const socket = opts.recycleReads ? connectRecycled(netOptions(address)) : netConnect(netOptions(address));
    const connected = new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new UsbmuxUnreachableError(formatMuxAddress(address), e));
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve();
      });
    });
    await withCallOpts('usbmux open', connected, opts, () => socket.destroy());
    if (address.kind === 'tcp') socket.setNoDelay(true); // later protocols write small frames on this socket
    return new UsbmuxClient(socket, { ...opts, resolvedAddress: address });
  }

  /** The protocol in use: 'plist' (v1) or 'binary' (v0, after the daemon answered Result 6). */
  get protocol(): 'plist' | 'binary' {
    return this.#proto;
  }

  /**
   * Lists attached devices (all connection types).
   * In the binary protocol this runs a Listen on a new connection and collects devices until 100 ms pass without one.
   */
  async listDevices(o?: CallOpts): Promise<UsbmuxDevice[]> {
    if (this.#proto === 'binary') return this.#binaryListDevices(o);
    const r = await this.#plistRequest('ListDevices', {}, o, true);
    if (r.kind === 'result' && r.result === ResultCode.BadVersion) return this.#binaryListDevices(o);
    const list = this.#expectPlist(r, 'ListDevices').DeviceList;
    if (!Array.isArray(list)) throw new ProtocolError('usbmux', 'ListDevices reply without a DeviceList array');
    return list.map((e) => {
      if (!isPlistDict(e) || !isPlistDict(e.Properties)) throw new ProtocolError('usbmux', 'DeviceList entry without Properties');
      const id = typeof e.DeviceID === 'number' ? e.DeviceID : e.Properties.DeviceID;
      if (typeof id !== 'number') throw new ProtocolError('usbmux', 'DeviceList entry without DeviceID');
      return deviceFromProperties(id, e.Properties);
    });
  }

  /** The daemon's SystemBUID (upper-case UUID). */
  async readBuid(o?: CallOpts): Promise<string> {
    const buid = this.#expectPlist(await this.#plistRequest('ReadBUID', {}, o), 'ReadBUID').BUID;
    if (typeof buid !== 'string') throw new ProtocolError('usbmux', 'ReadBUID reply without a BUID string');
    return buid;
  }

  /** The stored pair record (XML or binary plist bytes), or undefined when there is none (Result 2). */
  async readPairRecord(udid: string, o?: CallOpts): Promise<Buffer | undefined> {
    const r = await this.#plistRequest('ReadPairRecord', { PairRecordID: udid }, o);
    if (r.kind === 'result' && r.result === ResultCode.BadDevice) return undefined;
    const data = this.#expectPlist(r, 'ReadPairRecord').PairRecordData;
    if (!Buffer.isBuffer(data)) throw new ProtocolError('usbmux', 'ReadPairRecord reply without PairRecordData');
    return data;
  }

  /** Stores a pair record. @throws UsbmuxError (e.g. ERR_USBMUX_EINVAL, result 22, for data the daemon cannot parse). */
  async savePairRecord(udid: string, data: Buffer, deviceId?: number, o?: CallOpts): Promise<void> {
    const body: PlistDict = { PairRecordID: udid, PairRecordData: data };
    if (deviceId !== undefined) body.DeviceID = deviceId;
    this.#expectOk(await this.#plistRequest('SavePairRecord', body, o), 'SavePairRecord');
  }

  /** Deletes a pair record. @throws UsbmuxError ERR_USBMUX_BADDEV (result 2) when there is none. */
  async deletePairRecord(udid: string, o?: CallOpts): Promise<void> {
    this.#expectOk(await this.#plistRequest('DeletePairRecord', { PairRecordID: udid }, o), 'DeletePairRecord');
  }

  /** The daemon's current listeners (one dict per listening client). */
  async listListeners(o?: CallOpts): Promise<PlistDict[]> {
    const list = this.#expectPlist(await this.#plistRequest('ListListeners', {}, o), 'ListListeners').ListenerList;
    if (!Array.isArray(list)) throw new ProtocolError('usbmux', 'ListListeners reply without a ListenerList array');
    return list.filter(isPlistDict);
  }

  /**
   * Connects to `port` (host order, 1–65535) on the device and hands over the socket as a raw byte
   * pipe; bytes that arrived with the Result are put back in front. The client is consumed.
   * @throws UsbmuxError ERR_USBMUX_BADDEV (no such device), ERR_USBMUX_CONNREFUSED (port closed);
   *   ERR_INVALID_ARG for a bad port; ERR_USBMUX_CONSUMED.
   */
  async connect(deviceId: number, port: number, o?: CallOpts): Promise<Duplex> {
    this.#consume('connect');
    try {
      const work = (async (): Promise<Duplex> => {
        let r: UsbmuxReply;
        if (this.#proto === 'plist') {
          const tag = this.#nextTag();
          r = await this.#send(tag, encodeConnectRequest(tag, deviceId, port, this.#identity), true);
          if (r.kind === 'result' && r.result === ResultCode.BadVersion) this.#proto = 'binary';
        }
        if (this.#proto === 'binary') {
          const tag = this.#nextTag();
          r = await this.#send(tag, [encodeBinaryConnect(tag, deviceId, port)], true);
        }
        this.#expectOk(r!, 'Connect');
        return this.#socket;
      })();
      const stream = await withCallOpts('usbmux Connect', work, o, () => this.close());
      this.#delivered = true;
      return stream;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /**
   * Subscribes to device events. The first events are one `attached` per present device. Leaving the
   * loop (break/return/throw) closes the connection. The client is consumed.
   * `o.timeoutMs` bounds the wait for the Listen Result; `o.signal` also ends the iteration (ERR_ABORTED);
   * `o.onReady` runs when the daemon accepted the Listen (Result 0). The request is sent at once.
   * @throws (from iteration) UsbmuxError for a non-zero Result, ERR_CLOSED when the daemon goes away.
   */
  listen(o?: CallOpts & { onReady?: () => void }): AsyncIterable<DeviceEvent> {
    this.#consume('listen');
    const feed = new ListenFeed(o?.signal);
    this.#feed = feed;
    if (this.#failure) feed.fail(this.#failure);
    const start = async (): Promise<void> => {
      let r: UsbmuxReply;
      if (this.#proto === 'plist') {
        const tag = this.#nextTag();
        r = await this.#send(tag, encodePlistRequest(tag, { ...this.#identity, MessageType: 'Listen' }));
        if (r.kind === 'result' && r.result === ResultCode.BadVersion) this.#proto = 'binary';
      }
      if (this.#proto === 'binary') {
        const tag = this.#nextTag();
        r = await this.#send(tag, [encodeBinaryListen(tag)]);
      }
      this.#expectOk(r!, 'Listen');
      o?.onReady?.();
    };
    const started = withCallOpts('usbmux Listen', start(), o);
    started.catch((e: unknown) => feed.fail(asIDeviceError(e)));
    return feed.iterate(started, () => this.close());
  }

  /** Closes the connection (pending calls reject with ERR_CLOSED). Safe to call twice. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#delivered) return; // the socket belongs to connect()'s caller now
    this.#failAll(new ClosedError('usbmux'));
    this.#socket.destroy();
  }

  /** `using client = await UsbmuxClient.open()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the connection (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  #consume(what: string): void {
    if (this.#state !== 'open') throw new UsbmuxConsumedError(what);
    if (this.#failure) throw this.#failure;
    this.#state = 'consumed';
  }

  #nextTag(): number {
    this.#tag = this.#tag >= 0x7fffffff ? 1 : this.#tag + 1;
    return this.#tag;
  }

  async #plistRequest(messageType: string, fields: PlistDict, o: CallOpts | undefined, allowFallback = false): Promise<UsbmuxReply> {
    if (this.#state !== 'open') throw this.#state === 'consumed' ? new UsbmuxConsumedError(messageType) : new ClosedError(`usbmux ${messageType}`);
    if (this.#failure) throw this.#failure;
    if (this.#proto === 'binary') throw new UsbmuxError(ResultCode.BadVersion, `${messageType} needs the plist protocol`);
    const tag = this.#nextTag();
    const reply = this.#send(tag, encodePlistRequest(tag, { ...this.#identity, MessageType: messageType, ...fields }));
    const r = await withCallOpts(`usbmux ${messageType}`, reply, o, () => {
      if (this.#pending.delete(tag)) this.#abandoned.add(tag);
    });
    if (r.kind === 'result' && r.result === ResultCode.BadVersion) {
      this.#proto = 'binary';
      if (!allowFallback) throw new UsbmuxError(ResultCode.BadVersion, `${messageType} needs the plist protocol`);
    }
    return r;
  }

  /** Registers the waiter before writing, so a fast reply cannot be missed. `connect` marks a handover request. */
  #send(tag: number, bytes: Buffer[], connect = false): Promise<UsbmuxReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<UsbmuxReply>((resolve, reject) => {
      this.#pending.set(tag, {
        resolve: (r) => {
          if (connect && r.kind === 'result' && r.result === ResultCode.OK) this.#handoverDue = true;
          resolve(r);
        },
        reject,
      });
      this.#socket.cork();
      for (const b of bytes) this.#socket.write(b);
      this.#socket.uncork();
    });
  }

  #expectPlist(r: UsbmuxReply, what: string): PlistDict {
    if (r.kind === 'plist') return r.plist;
    if (r.kind === 'result' && r.result !== ResultCode.OK) throw new UsbmuxError(r.result, what);
    throw new ProtocolError('usbmux', `${what}: unexpected ${r.kind} reply`);
  }

  #expectOk(r: UsbmuxReply, what: string): void {
    if (r.kind !== 'result') throw new ProtocolError('usbmux', `${what}: expected a Result, got a ${r.kind} reply`);
    if (r.result !== ResultCode.OK) throw new UsbmuxError(r.result, what);
  }

  async #binaryListDevices(o?: CallOpts): Promise<UsbmuxDevice[]> {
    if (!this.#address) throw new UsbmuxError(ResultCode.BadVersion, 'ListDevices (binary protocol needs a daemon address to scan)');
    const scan = async (): Promise<UsbmuxDevice[]> => {
      const c = await UsbmuxClient.open({ ...this.#opts, address: this.#address, protocol: 'binary' });
      const devices = new Map<number, UsbmuxDevice>();
      let timer: NodeJS.Timeout | undefined;
      try {
        // Devices follow the Listen Result at once; a quiet period (re-armed by each event) ends the scan.
        await new Promise<void>((resolve, reject) => {
          const arm = (): void => {
            clearTimeout(timer);
            timer = setTimeout(resolve, BINARY_SCAN_IDLE_MS);
          };
          const events = c.listen({ timeoutMs: o?.timeoutMs, onReady: arm });
          void (async () => {
            try {
              for await (const ev of events) {
                if (ev.type === 'attached') devices.set(ev.device.deviceId, ev.device);
                else if (ev.type === 'detached') devices.delete(ev.deviceId);
                arm();
              }
            } catch (e) {
              reject(e); // a no-op once the scan resolved and close() ended the loop
            }
          })();
        });
      } finally {
        clearTimeout(timer);
        c.close();
      }
      return [...devices.values()];
    };
    return withCallOpts('usbmux ListDevices', scan(), o);
  }

  #route(r: UsbmuxReply): void {
    if (r.kind === 'attached' || r.kind === 'detached' || r.kind === 'paired') {
      // Events belong to a Listen connection; elsewhere (a daemon broadcasting) they are ignored.
      if (r.kind === 'attached') this.#feed?.push({ type: 'attached', device: r.device });
      else this.#feed?.push({ type: r.kind, deviceId: r.deviceId });
      return;
    }
    let tag = r.tag;
    let p = this.#pending.get(tag);
    if (!p && this.#abandoned.delete(tag)) return; // late reply to a timed-out or aborted call
    if (!p && this.#pending.size === 1) {
      // libusbmuxd only warns on a tag mismatch; with a single request in flight the reply is unambiguous.
      [[tag, p]] = [...this.#pending];
    }
    if (!p) throw new ProtocolError('usbmux', `${r.kind} reply with tag ${r.tag} matches no request`);
    this.#pending.delete(tag);
    p.resolve(r);
  }

  #onData = (chunk: Buffer): void => {
    try {
      this.#decoder.push(chunk);
      while (this.#state !== 'closed' && !this.#handedOver) {
        const r = this.#decoder.next();
        if (!r) break;
        this.#route(r);
        if (this.#handoverDue) this.#handOver();
      }
    } catch (e) {
      this.#fatal(asIDeviceError(e));
    }
  };

  /** Stops reading and puts the bytes that followed the Connect Result back in front of the stream. */
  #handOver(): void {
    const s = this.#socket;
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('close', this.#onClose);
    s.off('error', this.#onError);
    // Until the new owner listens, an 'error' event must not crash the process; it still sees 'close'.
    s.on('error', ignoreError);
    s.pause();
    const leftover = this.#decoder.drain();
    for (let i = leftover.length - 1; i >= 0; i--) s.unshift(leftover[i]!);
    this.#pending.clear();
    this.#handoverDue = false;
    this.#handedOver = true;
  }

  #onEnd = (): void => {
    let err: IDeviceError = new ClosedError('usbmux');
    try {
      this.#decoder.end();
    } catch (e) {
      err = asIDeviceError(e);
    }
    this.#fatal(err);
  };

  #onClose = (): void => this.#fatal(new ClosedError('usbmux'));

  #onError = (e: Error): void => this.#fatal(new ClosedError('usbmux', { cause: e }));

  #fatal(e: Error): void {
    if (this.#handedOver) return;
    if (!this.#failure) this.#failure = e;
    this.#failAll(this.#failure);
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
    this.#feed?.fail(e);
  }
}
