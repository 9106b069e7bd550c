/**
 * Host end of the device-side USB mux over a {@link BulkTransport} (what usbmuxd's device.c does).
 *
 * Handshake: VERSION 2.0 in a v1 header → device answers VERSION 1 or 2 (in a v1 header) → v2: SETUP 0x07 with
 * tx_seq 0 / rx_seq 0xFFFF, later host packets tx_seq 1, 2, … (u16); rx_seq echoes the tx_seq of the last device packet.
 * IN transfers are reassembled by header length (cap 65535); OUT packets ≤ 48 KiB, ZLP after a multiple of
 * wMaxPacketSize. Device CONTROL messages are emitted as 'log' events. A malformed device packet or a lost link tears
 * the mux down: every open stream is destroyed with the typed error, and 'close' is emitted with it.
 */
import { EventEmitter } from 'node:events';
import { withCallOpts } from '../core/abort.ts';
import type { CallOpts } from '../core/abort.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { MuxConnection } from './connection.ts';
import type { SegmentSink } from './connection.ts';
import { DetachedError, UsbError } from './errors.ts';
import {
  decodeControlPayload,
  decodeVersionPayload,
  encodeVersionPayload,
  MAX_OUT_TRANSFER,
  muxHeaderSize,
  MuxProtocol,
  SETUP_PAYLOAD,
} from './header.ts';
import type { ControlMessage, MuxVersion } from './header.ts';
import { decodeMuxPacket, encodeMuxPacket, TransferReassembler } from './packet.ts';
import type { MuxPacket } from './packet.ts';
import { TCP_HEADER_SIZE, TcpFlags } from './tcp.ts';
import type { TcpHeader } from './tcp.ts';
import { TransferQueue } from './transport.ts';
import type { BulkTransport } from './transport.ts';

export interface HostMuxOptions {
  /** Receive window per stream, bytes (default 131072). */
  recvWindow?: number;
  /** Window-update delay, ms (default 30). */
  ackDelayMs?: number;
}

/** Emits 'log' (ControlMessage) for device CONTROL packets and 'close' (Error | undefined) once torn down. */
export class HostMux extends EventEmitter {
  readonly #t: BulkTransport;
  readonly #out: TransferQueue;
  readonly #reasm: TransferReassembler;
  readonly #opts: HostMuxOptions;
  #version: MuxVersion | undefined;
  #txSeq = 0;
  #rxSeq = 0xffff;
  #nextPort = 1;
  #conns = new Map<string, MuxConnection>();
  #closed: Error | null | undefined; // undefined: running; null: closed locally; Error: torn down
  #versionWaiter: { resolve: (v: MuxVersion) => void; reject: (e: Error) => void } | undefined;

  private constructor(t: BulkTransport, opts: HostMuxOptions) {
    super();
    this.#t = t;
    this.#opts = opts;
    this.#out = new TransferQueue(t);
    this.#reasm = new TransferReassembler({ transferSize: t.inTransferSize });
    t.onData((chunk) => this.#onTransfer(chunk));
    t.onClose((err) => this.#teardown(err ? new DetachedError('usb mux', { cause: err }) : new DetachedError('usb mux')));
  }

  /**
   * Runs the VERSION (and SETUP) handshake and returns a ready mux.
   * @throws ERR_USB_MUX_VERSION when the device answers a major other than 1 or 2; ERR_PROTOCOL on malformed replies;
   *   ERR_USB_DETACHED / ERR_USB_TRANSFER if the link fails; ERR_TIMEOUT / ERR_ABORTED from `opts`.
   */
  static async open(transport: BulkTransport, opts: HostMuxOptions & CallOpts = {}): Promise<HostMux> {
    const mux = new HostMux(transport, opts);
    const got = new Promise<MuxVersion>((resolve, reject) => {
      mux.#versionWaiter = { resolve, reject };
    });
    try {
      await withCallOpts('usb mux VERSION handshake', (async () => {
        await mux.#out.send(encodeMuxPacket(1, { protocol: MuxProtocol.Version }, undefined, encodeVersionPayload(2, 0)));
        const v = await got;
        mux.#version = v;
        if (v === 2) {
          await mux.#writePacket(MuxProtocol.Setup, undefined, Buffer.from([SETUP_PAYLOAD]), { txSeq: 0, rxSeq: 0xffff });
          mux.#txSeq = 1;
        }
      })(), opts);
    } catch (e) {
      mux.#teardown(e instanceof Error ? e : new Error(String(e)));
      await transport.close().catch(() => undefined);
      throw e;
    }
    return mux;
  }

  /** Mux header version agreed with the device. */
  get version(): MuxVersion {
    return this.#version ?? 1;
  }

  /** Open streams. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Bytes queued for OUT transfers. */
  get queuedOutBytes(): number {
    return this.#out.queuedBytes;
  }

  /** Largest TCP payload per OUT packet (48 KiB transfer minus headers). */
  get maxSegmentPayload(): number {
    return MAX_OUT_TRANSFER - muxHeaderSize(this.version) - TCP_HEADER_SIZE;
  }

  /**
   * Opens a stream to a device port (SYN → SYN|ACK → ACK).
   * @throws ERR_INVALID_ARG for a port outside 1–65535; ERR_USB_MUX_REFUSED when the device answers RST;
   *   ERR_USB_DETACHED / ERR_USB_MUX_CLOSED when the mux is gone; ERR_TIMEOUT / ERR_ABORTED from `o`.
   */
  async connect(port: number, o?: CallOpts): Promise<MuxConnection> {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new InvalidArgumentError(`bad port ${port}`);
    if (this.#closed !== undefined) throw this.#closedError();
    const sport = this.#allocPort();
    const conn = new MuxConnection({
      localPort: sport,
      remotePort: port,
      sink: this.#sink,
      maxSegmentPayload: this.maxSegmentPayload,
      recvWindow: this.#opts.recvWindow,
      ackDelayMs: this.#opts.ackDelayMs,
    });
    this.#conns.set(key(sport, port), conn);
    await withCallOpts(`usb mux connect(${port})`, conn.connect(), o, (err) => conn.destroy(err));
    return conn;
  }

  /** Resets (RST) and destroys every open stream without an error event, then closes the transport. */
  async close(): Promise<void> {
    if (this.#closed !== undefined) return;
    const conns = [...this.#conns.values()];
    for (const c of conns) c.destroy();
    // let the RSTs go out before the endpoints are released
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#out.drain(), new Promise((r) => (timer = setTimeout(r, 500)))]);
    clearTimeout(timer);
    this.#teardown(null);
    await this.#t.close().catch(() => undefined);
  }

  readonly #sink: SegmentSink = {
    sendSegment: (h: TcpHeader, payload?: Buffer) => {
      if (this.#closed !== undefined) return Promise.reject(this.#closedError());
      return this.#writePacket(MuxProtocol.Tcp, h, payload);
    },
    release: (conn: MuxConnection) => {
      const k = key(conn.localPort, conn.remotePort);
      if (this.#conns.get(k) === conn) this.#conns.delete(k);
    },
  };

  #writePacket(protocol: number, tcp: TcpHeader | undefined, payload: Buffer | undefined, seqs?: { txSeq: number; rxSeq: number }): Promise<void> {
    const v = this.version;
    let txSeq = 0;
    let rxSeq = 0;
    if (v === 2) {
      txSeq = seqs ? seqs.txSeq : this.#txSeq;
      rxSeq = seqs ? seqs.rxSeq : this.#rxSeq;
      if (!seqs) this.#txSeq = (this.#txSeq + 1) & 0xffff;
    }
    return this.#out.send(encodeMuxPacket(v, { protocol, txSeq, rxSeq }, tcp, payload, MAX_OUT_TRANSFER));
  }

  #allocPort(): number {
    for (let i = 0; i < 0xffff; i++) {
      const p = this.#nextPort;
      this.#nextPort = p >= 0xffff ? 1 : p + 1;
      let used = false;
      for (const c of this.#conns.values()) if (c.localPort === p) used = true;
      if (!used) return p;
    }
    throw new UsbError('ERR_USB_MUX_CLOSED', 'usb mux: no free source port');
  }

  #onTransfer(chunk: Buffer): void {
    if (this.#closed !== undefined) return;
    try {
      const buf = this.#reasm.push(chunk);
      if (!buf) return;
      // Until VERSION is answered the device speaks v1 headers.
      this.#onPacket(decodeMuxPacket(buf, this.#version ?? 1));
    } catch (e) {
      this.#teardown(e instanceof Error ? e : new Error(String(e)));
      void this.#t.close().catch(() => undefined);
    }
  }

  #onPacket(p: MuxPacket): void {
    if (this.#version === 2) this.#rxSeq = p.header.txSeq;
    switch (p.header.protocol) {
      case MuxProtocol.Version: {
        const w = this.#versionWaiter;
        if (!w) return;
        this.#versionWaiter = undefined;
        const { major, minor } = decodeVersionPayload(p.payload);
        if (major === 1 || major === 2) w.resolve(major);
        else w.reject(new UsbError('ERR_USB_MUX_VERSION', `usb mux: device speaks version ${major}.${minor}`));
        return;
      }
      case MuxProtocol.Control: {
        const msg: ControlMessage = decodeControlPayload(p.payload);
        this.emit('log', msg);
        return;
      }
      case MuxProtocol.Tcp: {
        const tcp = p.tcp!;
        const conn = this.#conns.get(key(tcp.dport, tcp.sport));
        if (conn) return conn.handleSegment(tcp, p.payload);
        if (!(tcp.flags & TcpFlags.RST)) {
          // unknown stream: anonymous RST so the device forgets it
          const rst: TcpHeader = { sport: tcp.dport, dport: tcp.sport, seq: 0, ack: tcp.seq, flags: TcpFlags.RST, window: 0 };
          void this.#writePacket(MuxProtocol.Tcp, rst, undefined).catch(() => undefined);
        }
        return;
      }
      default:
        return; // SETUP echoes and unknown protocols are ignored, like usbmuxd
    }
  }

  #closedError(): Error {
    return this.#closed instanceof Error ? this.#closed : new UsbError('ERR_USB_MUX_CLOSED', 'usb mux closed');
  }

  #teardown(err: Error | null): void {
    if (this.#closed !== undefined) return;
    this.#closed = err;
    const e = this.#closedError();
    this.#versionWaiter?.reject(e);
    this.#versionWaiter = undefined;
    this.#out.fail(e);
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const c of conns) c.abort(e);
    this.emit('close', err ?? undefined);
  }
}

function key(local: number, remote: number): string {
  return `${local}:${remote}`;
}

