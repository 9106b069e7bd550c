/**
 * Device end of the USB mux: what an iPhone does on its usbmux interface, for the emulator (in-process or behind
 * FunctionFS). It follows the phone's rules: packets of 65536 bytes or more are refused with a CONTROL error (the
 * text a real device sends), malformed packets get a CONTROL error and are dropped (a device never crashes on host
 * input), SYN is accepted only for ports the service lookup serves (RST otherwise), and every stream honours the
 * host's window and advertises its own (flow control towards the host follows the service's reading).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { MuxConnection } from './connection.ts';
import type { SegmentSink } from './connection.ts';
import { DetachedError, UsbError } from './errors.ts';
import {
  ControlType,
  decodeVersionPayload,
  encodeControlPayload,
  encodeVersionPayload,
  MAX_MUX_PACKET,
  muxHeaderSize,
  MuxProtocol,
} from './header.ts';
import type { MuxVersion } from './header.ts';
import { decodeMuxPacket, encodeMuxPacket, TransferReassembler } from './packet.ts';
import { TCP_HEADER_SIZE, TcpFlags } from './tcp.ts';
import type { TcpHeader } from './tcp.ts';
import { TransferQueue } from './transport.ts';
import type { BulkTransport } from './transport.ts';

/** Serves one accepted device-side stream. */
export type StreamHandler = (stream: Duplex) => void;

/** Returns the handler for a device port, or undefined when nothing listens there (→ RST); may decide asynchronously. */
export type ServiceLookup = (port: number) => StreamHandler | undefined | Promise<StreamHandler | undefined>;

/**
 * A lookup over a connector such as `VirtualIPhone.connect(port)`: each accepted mux stream is joined to the stream the
 * connector returns (both directions piped with backpressure; either side closing closes the other). A connector that
 * rejects refuses the port (RST).
 */
export function lookupFromConnector(connect: (port: number) => Promise<Duplex>): ServiceLookup {
  return async (port) => {
    let inner: Duplex;
    try {
      inner = await connect(port);
    } catch {
      return undefined;
    }
    return (outer) => joinStreams(outer, inner);
  };
}

/** Pipes two duplexes into each other; errors end both quietly (a device never crashes on a closed stream). */
export function joinStreams(a: Duplex, b: Duplex): void {
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}

export interface DeviceMuxOptions {
  services: ServiceLookup;
  /** Highest mux version to agree to (default 2; 1 makes the host fall back to 8-byte headers). */
  maxVersion?: MuxVersion;
  /** Receive window per stream, bytes (default 131072). */
  recvWindow?: number;
  /** Largest packet the device sends, bytes (default 49152). */
  maxPacket?: number;
  ackDelayMs?: number;
}

/**
 * Emits 'connection' (MuxConnection) when a host stream opens, 'reject' (Error) for every host packet it refused or
 * dropped (oversized, malformed), and 'close' (Error | undefined) when the link ends.
 */
export class DeviceMux extends EventEmitter {
  readonly #t: BulkTransport;
  readonly #out: TransferQueue;
  readonly #opts: DeviceMuxOptions;
  readonly #reasm = new TransferReassembler({ cap: 0xffffffff });
  #version: MuxVersion | undefined;
  #txSeq = 0;
  #rxSeq = 0;
  #conns = new Map<string, MuxConnection>();
  #closed = false;
  #skip = 0;
  #pendingSyn = new Set<string>();

  constructor(transport: BulkTransport, opts: DeviceMuxOptions) {
    super();
    this.#t = transport;
    this.#opts = opts;
    this.#out = new TransferQueue(transport);
    transport.onData((chunk) => this.#onTransfer(chunk));
    transport.onClose((err) => this.#teardown(err ? new DetachedError('usb mux device', { cause: err }) : new DetachedError('usb mux device')));
  }

  /** Agreed mux version, undefined before VERSION. */
  get version(): MuxVersion | undefined {
    return this.#version;
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  get queuedOutBytes(): number {
    return this.#out.queuedBytes;
  }

  /** Sends a CONTROL message to the host (3 error, 5 warning, 7 info). */
  sendControl(type: number, text: string): Promise<void> {
    return this.#writePacket(MuxProtocol.Control, undefined, encodeControlPayload(type, text));
  }

  /** Destroys every stream with ERR_USB_DETACHED (as an unplug does) and closes the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#teardown(undefined);
    await this.#t.close().catch(() => undefined);
  }

  readonly #sink: SegmentSink = {
    sendSegment: (h: TcpHeader, payload?: Buffer) => {
      if (this.#closed) return Promise.reject(new DetachedError('usb mux device'));
      return this.#writePacket(MuxProtocol.Tcp, h, payload);
    },
    release: (conn: MuxConnection) => {
      const k = `${conn.localPort}:${conn.remotePort}`;
      if (this.#conns.get(k) === conn) this.#conns.delete(k);
    },
  };

  #writePacket(protocol: number, tcp: TcpHeader | undefined, payload: Buffer | undefined, forceV1 = false): Promise<void> {
    const v: MuxVersion = forceV1 ? 1 : (this.#version ?? 1);
    const txSeq = this.#txSeq;
    if (v === 2) this.#txSeq = (this.#txSeq + 1) & 0xffff;
    return this.#out.send(encodeMuxPacket(v, { protocol, txSeq, rxSeq: this.#rxSeq }, tcp, payload, MAX_MUX_PACKET));
  }

  #reject(err: Error, text: string): void {
    this.emit('reject', err);
    void this.sendControl(ControlType.Error, text).catch(() => undefined);
  }

  #onTransfer(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    if (this.#skip > 0) {
      // rest of a packet we refused
      const n = Math.min(this.#skip, chunk.length);
      this.#skip -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    if (this.#reasm.buffered === 0 && chunk.length >= 8) {
      const length = chunk.readUInt32BE(4);
      if (length > MAX_MUX_PACKET) {
        this.#skip = Math.max(0, length - chunk.length);
        const err = new UsbError('ERR_USB_TRANSFER', `message was too large (${length} bytes, max = ${MAX_MUX_PACKET})`);
        return this.#reject(err, `asyncReadComplete, message was too large (${length} bytes, max = ${MAX_MUX_PACKET})`);
      }
    }
    let buf: Buffer | undefined;
    try {
      buf = this.#reasm.push(chunk);
      if (!buf) return;
      this.#onPacket(buf);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#reject(err, `bad packet: ${err.message}`);
    }
  }

  #onPacket(buf: Buffer): void {
    // VERSION always comes in a v1 header; afterwards the agreed header size applies.
    const protocol = buf.length >= 4 ? buf.readUInt32BE(0) : -1;
    const v: MuxVersion = protocol === MuxProtocol.Version ? 1 : (this.#version ?? 1);
    const p = decodeMuxPacket(buf, v);
    if (v === 2) this.#rxSeq = p.header.txSeq;
    switch (p.header.protocol) {
      case MuxProtocol.Version: {
        const { major } = decodeVersionPayload(p.payload);
        // a (new) host starts over: streams of an earlier host session are gone (their sports get reused)
        this.#resetStreams();
        const agreed: MuxVersion = major >= 2 && (this.#opts.maxVersion ?? 2) >= 2 ? 2 : 1;
        this.#version = undefined;
        this.#txSeq = 0;
        void this.#writePacket(MuxProtocol.Version, undefined, encodeVersionPayload(agreed, 0), true).catch(() => undefined);
        this.#version = agreed;
        return;
      }
      case MuxProtocol.Setup:
        this.#txSeq = 0;
        return;
      case MuxProtocol.Tcp:
        if (this.#version === undefined) throw new UsbError('ERR_USB_TRANSFER', 'TCP before VERSION');
        return this.#onTcp(p.tcp!, p.payload);
      default:
        return;
    }
  }

  #onTcp(tcp: TcpHeader, payload: Buffer): void {
    const k = `${tcp.dport}:${tcp.sport}`;
    const conn = this.#conns.get(k);
    if (conn && tcp.flags === TcpFlags.SYN) {
      // the host reuses a source port we still hold: the old stream is gone for it
      this.#conns.delete(k);
      conn.abort(new DetachedError('usb mux device: stream replaced by a new SYN'));
    } else if (conn) return conn.handleSegment(tcp, payload);
    if (tcp.flags & TcpFlags.RST) return;
    if (tcp.flags === TcpFlags.SYN) {
      const found = this.#opts.services(tcp.dport);
      if (found instanceof Promise) {
        // the host waits for SYN|ACK, so nothing else arrives for this stream meanwhile
        const pendingKey = k;
        this.#pendingSyn.add(pendingKey);
        found.then(
          (h) => {
            this.#pendingSyn.delete(pendingKey);
            if (!this.#closed) this.#answerSyn(tcp, h);
          },
          () => {
            this.#pendingSyn.delete(pendingKey);
            if (!this.#closed) this.#answerSyn(tcp, undefined);
          },
        );
        return;
      }
      return this.#answerSyn(tcp, found);
    }
    if (this.#pendingSyn.has(k)) return;
    const rst: TcpHeader = { sport: tcp.dport, dport: tcp.sport, seq: 0, ack: tcp.seq, flags: TcpFlags.RST, window: 0 };
    void this.#writePacket(MuxProtocol.Tcp, rst, undefined).catch(() => undefined);
  }

  #answerSyn(tcp: TcpHeader, handler: StreamHandler | undefined): void {
    const k = `${tcp.dport}:${tcp.sport}`;
    if (!handler) {
      const rst: TcpHeader = { sport: tcp.dport, dport: tcp.sport, seq: 0, ack: (tcp.seq + 1) >>> 0, flags: TcpFlags.RST | TcpFlags.ACK, window: 0 };
      void this.#writePacket(MuxProtocol.Tcp, rst, undefined).catch(() => undefined);
      return;
    }
    const c = new MuxConnection({
      localPort: tcp.dport,
      remotePort: tcp.sport,
      sink: this.#sink,
      maxSegmentPayload: (this.#opts.maxPacket ?? 49152) - muxHeaderSize(this.#version ?? 1) - TCP_HEADER_SIZE,
      recvWindow: this.#opts.recvWindow,
      ackDelayMs: this.#opts.ackDelayMs,
    });
    this.#conns.set(k, c);
    // a phone never crashes because a host reset a stream; services add their own listeners
    c.on('error', () => undefined);
    c.once('open', () => {
      this.emit('connection', c);
      handler(c);
    });
    c.accept(tcp);
  }

  #resetStreams(): void {
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const c of conns) c.abort(new DetachedError('usb mux device: host restarted the mux'));
  }

  #teardown(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const e = err ?? new DetachedError('usb mux device');
    this.#out.fail(e);
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const c of conns) c.abort(e);
    this.emit('close', err);
  }
}
