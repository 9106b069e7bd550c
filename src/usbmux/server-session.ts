/**
 * One usbmuxd client connection on the server side: decode → answer in order (usbmuxd 1.1.1 semantics)
 * → maybe become a listener (events) or a raw pipe to a device port (Connect).
 */
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { asIDeviceError } from '../core/errors.ts';
import type { PlistDict } from '../plist/types.ts';
import { UsbmuxError } from './errors.ts';
import { decodePortNumber } from './port.ts';
import { ResultCode } from './protocol.ts';
import {
  UsbmuxRequestDecoder,
  encodeAttached,
  encodeBuid,
  encodeDeviceList,
  encodeListenerList,
  encodePairRecordData,
  encodeResult,
  type ReplyProtocol,
  type UsbmuxRequest,
} from './server-codec.ts';
import type { UsbmuxBackend, UsbmuxServerOptions } from './backend.ts';

/** A client that sent Listen: events are written to it in its protocol. */
export interface Listener {
  id: number;
  proto: ReplyProtocol;
  identity: PlistDict;
  write(bytes: Buffer[]): void;
}

/** What a session needs from its server. */
export interface SessionHooks {
  addListener(l: Listener): void;
  removeListener(l: Listener): void;
  listeners(): Listener[];
  paired(deviceId: number): void;
  dropped(e: Error): void;
  closed(): void;
}

/** One client connection: decode → answer in order → maybe become a listener or a pipe. */
export class ClientSession {
  readonly #d: Duplex;
  readonly #id: number;
  readonly #backend: UsbmuxBackend;
  readonly #hooks: SessionHooks;
  readonly #decoder: UsbmuxRequestDecoder;
  #proto: ReplyProtocol = 'binary'; // usbmuxd starts in v0 and switches on the first plist message
  #busy = false;
  #done = false;
  #listener: Listener | undefined;
  readonly #binaryOnly: boolean;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(d: Duplex, id: number, backend: UsbmuxBackend, opts: UsbmuxServerOptions, hooks: SessionHooks) {
    this.#d = d;
    this.#id = id;
    this.#backend = backend;
    this.#hooks = hooks;
    this.#decoder = new UsbmuxRequestDecoder(opts.maxMessage !== undefined ? { maxLength: opts.maxMessage } : {});
    this.#binaryOnly = opts.binaryOnly === true;
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
    this.#inFlight = this.#pump();
  };

  /** Settles when the request being handled (if any) has been answered: backend calls are not cut off. */
  idle(): Promise<void> {
    return this.#inFlight;
  }

  #finish(): void {
    if (this.#listener) this.#hooks.removeListener(this.#listener);
    this.#listener = undefined;
    if (this.#done) return;
    this.#done = true;
    this.#hooks.closed();
    if (!this.#d.destroyed) this.#d.destroy();
  }

  /** Settles when the stream drains or goes away. */
  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#d.off('drain', done);
        this.#d.off('close', done);
        this.#d.off('error', done);
        resolve();
      };
      this.#d.on('drain', done);
      this.#d.on('close', done);
      this.#d.on('error', done);
    });
  }

  #write(bytes: Buffer[]): void {
    if (this.#d.destroyed || this.#d.writableEnded) return;
    this.#d.cork();
    for (const b of bytes) this.#d.write(b);
    this.#d.uncork();
  }

  /** Handles buffered requests one at a time (backend calls are async; replies stay in order). */
  #pump(): Promise<void> {
    if (this.#busy) return this.#inFlight;
    return this.#run();
  }

  async #run(): Promise<void> {
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
        // A client that pipelines requests but does not read its replies: answer the next one only once the
        // replies so far have drained (its further requests wait in the bounded decoder; past the cap it is dropped).
        if (this.#d.writableNeedDrain) await this.#drained();
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
    if (this.#binaryOnly && req.version !== 0) {
      this.#write(encodeResult('binary', req.tag, ResultCode.BadVersion));
      return false;
    }
    if (this.#binaryOnly && req.kind === 'plist') {
      this.#write(encodeResult('binary', req.tag, ResultCode.BadCommand));
      return false;
    }
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
    // The pieces a device writes in one tick (a reply's header and body, a run of short replies) leave in one writev.
    let corked = false;
    const uncork = (): void => {
      corked = false;
      client.uncork();
    };
    device.on('data', () => {
      if (corked) return;
      corked = true;
      client.cork();
      process.nextTick(uncork);
    });
    pipeline(device, client, (err) => {
      if (err) kill();
    });
    client.once('close', () => device.destroy());
    return true;
  }
}
