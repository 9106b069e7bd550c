/**
 * One TCP-over-mux stream as a Node `Duplex` (connection tier; used by both the host end and the device end).
 *
 * Sequence arithmetic (protocol.md §2): `seq` counts payload bytes sent (+1 for SYN); `ack` counts payload bytes
 * *delivered to our consumer* (+1 for SYN), so the peer can only run ahead of our reader by the window we advertise.
 * Sendable = peer_window − (snd_next − peer_ack), capped at the max segment payload; the `_write` callback is held while
 * it is 0. There is no FIN: `end()` and `destroy()` send RST (like usbmuxd when its client closes), a peer RST ends the
 * readable side after the buffered bytes were read (pending writes fail with ERR_USB_MUX_RESET).
 */
import { Duplex } from 'node:stream';
import { ChunkQueue } from '../core/chunk-queue.ts';
import { ClosedError, InternalError, ProtocolError } from '../core/errors.ts';
import { MuxRefusedError, MuxResetError, UsbError } from './errors.ts';
import { flagNames, seqDiff, TcpFlags, windowField, WINDOW_UNIT } from './tcp.ts';
import type { TcpHeader } from './tcp.ts';

/** What a connection needs from its mux. */
export interface SegmentSink {
  /** Sends one segment of this connection. Resolves when the transfer is done; rejects when the device is gone. */
  sendSegment(h: TcpHeader, payload?: Buffer): Promise<void>;
  /** The connection is finished; forget its ports. */
  release(conn: MuxConnection): void;
}

export interface MuxConnectionOptions {
  localPort: number;
  remotePort: number;
  sink: SegmentSink;
  /** Largest TCP payload per segment, bytes. */
  maxSegmentPayload: number;
  /** Receive window we advertise, bytes (default 131072 = 512 units, like usbmuxd). */
  recvWindow?: number;
  /** Delay before a pending window update is sent after the consumer read a little, ms (default 30). */
  ackDelayMs?: number;
}

type State = 'idle' | 'connecting' | 'accepting' | 'open' | 'closed';

/** Counters for tests and benchmarks. */
export interface MuxConnectionStats {
  /** Received bytes not yet pushed to the consumer. */
  queued: number;
  /** Bytes in Node's readable buffer (pushed, not yet read). */
  readableBuffered: number;
  /** Bytes sent and not yet acknowledged by the peer. */
  unacked: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * A mux TCP stream. Created by HostMux.connect() / DeviceMux; not constructed by applications.
 * Errors it is destroyed with: ERR_USB_MUX_RESET, ERR_USB_MUX_OVERFLOW, ERR_PROTOCOL, ERR_USB_DETACHED, ERR_USB_MUX_CLOSED.
 */
export class MuxConnection extends Duplex {
  readonly localPort: number;
  readonly remotePort: number;
  readonly #sink: SegmentSink;
  readonly #maxSeg: number;
  readonly #recvWindow: number;
  readonly #ackDelayMs: number;
  #state: State = 'idle';
  #sndNext = 0;
  #peerAck = 0;
  #peerWindow = 0;
  #rcvNext = 0;
  #delivered = 0;
  #lastAckSent = 0;
  #queue = new ChunkQueue();
  #wantRead = false;
  #peerClosed = false;
  #peerReason: string | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #pending: { chunk: Buffer; offset: number; cb: (err?: Error | null) => void } | undefined;
  #pumping = false;
  #connectWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(o: MuxConnectionOptions) {
    super({ allowHalfOpen: false, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.localPort = o.localPort;
    this.remotePort = o.remotePort;
    this.#sink = o.sink;
    this.#maxSeg = o.maxSegmentPayload;
    this.#recvWindow = o.recvWindow ?? 131072;
    this.#ackDelayMs = o.ackDelayMs ?? 30;
  }

  /** 'connecting' | 'accepting' | 'open' | 'closed' ('idle' before connect/accept). */
  get state(): string {
    return this.#state;
  }

  /** Text the peer sent with its RST, if any. */
  get resetReason(): string | undefined {
    return this.#peerReason;
  }

  get stats(): MuxConnectionStats {
    return {
      queued: this.#queue.length,
      readableBuffered: this.readableLength,
      unacked: seqDiff(this.#sndNext, this.#peerAck),
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
  }

  /**
   * Host side: sends SYN and resolves once the peer answered SYN|ACK and our ACK went out.
   * @throws ERR_USB_MUX_REFUSED on RST or unexpected flags; ERR_USB_DETACHED / ERR_USB_MUX_CLOSED if the mux goes away.
   */
  connect(): Promise<void> {
    this.#state = 'connecting';
    const p = new Promise<void>((resolve, reject) => {
      this.#connectWaiter = { resolve, reject };
    });
    this.#send(TcpFlags.SYN, 0, 0).catch((e: unknown) => this.#failConnect(asError(e)));
    return p;
  }

  /** Device side: answers a host SYN with SYN|ACK; the stream opens on the host's ACK ('open' event). */
  accept(syn: TcpHeader): void {
    this.#state = 'accepting';
    this.#rcvNext = (syn.seq + 1) >>> 0;
    this.#delivered = this.#rcvNext;
    this.#peerWindow = syn.window * WINDOW_UNIT;
    void this.#send(TcpFlags.SYN | TcpFlags.ACK, 0, this.#rcvNext).catch(() => undefined);
    this.#sndNext = 1;
    this.#peerAck = 1;
  }

  /** Feeds a segment addressed to this connection (called by the mux). Never throws. */
  handleSegment(h: TcpHeader, payload: Buffer): void {
    try {
      this.#handle(h, payload);
    } catch (e) {
      this.destroy(asError(e));
    }
  }

  /**
   * Tears the stream down because the mux is gone; no RST is sent. The error is emitted only when someone listens for
   * 'error' (an idle stream nobody watches must not crash the process on an unplug); it is kept in `abortError`.
   */
  abort(err: Error): void {
    this.#state = 'closed';
    this.abortError = err;
    this.#failConnect(err);
    if (!this.destroyed) this.destroy(this.listenerCount('error') > 0 ? err : undefined);
  }

  /** Why the mux tore this stream down (detach, protocol error), if it did. */
  abortError: Error | undefined;

  #handle(h: TcpHeader, payload: Buffer): void {
    switch (this.#state) {
      case 'connecting': {
        if (h.flags === (TcpFlags.SYN | TcpFlags.ACK)) {
          this.#rcvNext = (h.seq + 1) >>> 0;
          this.#delivered = this.#rcvNext;
          this.#sndNext = 1;
          this.#peerAck = h.ack >>> 0;
          this.#peerWindow = h.window * WINDOW_UNIT;
          this.#state = 'open';
          this.#send(TcpFlags.ACK, this.#sndNext, this.#delivered).then(
            () => {
              const w = this.#connectWaiter;
              this.#connectWaiter = undefined;
              w?.resolve();
              this.#pump();
            },
            (e: unknown) => this.#failConnect(asError(e)),
          );
          return;
        }
        const reason = payload.length ? payload.toString('utf8').replace(/\0+$/, '') : undefined;
        if (!(h.flags & TcpFlags.RST)) void this.#send(TcpFlags.RST, 0, 0).catch(() => undefined);
        this.#state = 'closed';
        this.#sink.release(this);
        this.#failConnect(new MuxRefusedError(this.remotePort, reason ?? (h.flags & TcpFlags.RST ? undefined : flagNames(h.flags))));
        this.destroy();
        return;
      }
      case 'accepting':
        if (h.flags & TcpFlags.RST) return this.#peerReset(payload);
        if (h.flags !== TcpFlags.ACK) throw new ProtocolError('usb', `unexpected ${flagNames(h.flags)} while accepting`);
        this.#state = 'open';
        this.emit('open');
        this.#onAck(h, payload);
        return;
      case 'open':
        if (h.flags & TcpFlags.RST) return this.#peerReset(payload);
        if (h.flags !== TcpFlags.ACK) throw new ProtocolError('usb', `unexpected ${flagNames(h.flags)} on an open stream`);
        this.#onAck(h, payload);
        return;
      default:
        return;
    }
  }

  #onAck(h: TcpHeader, payload: Buffer): void {
    if (seqDiff(h.ack, this.#peerAck) > 0) {
      if (seqDiff(h.ack, this.#sndNext) > 0) throw new ProtocolError('usb', 'peer acknowledged bytes never sent');
      this.#peerAck = h.ack >>> 0;
    }
    this.#peerWindow = h.window * WINDOW_UNIT;
    if (payload.length > 0) {
      if (h.seq >>> 0 !== this.#rcvNext) {
        throw new ProtocolError('usb', `segment seq ${h.seq >>> 0}, expected ${this.#rcvNext}`);
      }
      this.#rcvNext = (this.#rcvNext + payload.length) >>> 0;
      this.#bytesIn += payload.length;
      if (seqDiff(this.#rcvNext, this.#delivered) > this.#recvWindow) {
        throw new UsbError('ERR_USB_MUX_OVERFLOW', `usb mux: port ${this.remotePort} sent beyond the advertised window`);
      }
      this.#queue.push(payload);
      this.#flush();
      // ACK promptly: the device likes it best (usbmuxd); the ack value is what the consumer has taken.
      this.#sendAck();
    }
    this.#pump();
  }

  #peerReset(payload: Buffer): void {
    this.#peerReason = payload.length ? payload.toString('utf8').replace(/\0+$/, '') : undefined;
    this.#state = 'closed';
    this.#peerClosed = true;
    this.#clearAckTimer();
    this.#sink.release(this);
    if (this.#pending) {
      this.destroy(new MuxResetError(this.remotePort, this.#peerReason));
      return;
    }
    this.#flush();
  }

  override _read(): void {
    this.#wantRead = true;
    this.#flush();
    if (this.#state === 'open' && this.#delivered !== this.#lastAckSent) {
      if (seqDiff(this.#delivered, this.#lastAckSent) >= this.#recvWindow / 4) this.#sendAck();
      else if (!this.#ackTimer) {
        this.#ackTimer = setTimeout(() => {
          this.#ackTimer = undefined;
          if (this.#state === 'open' && this.#delivered !== this.#lastAckSent) this.#sendAck();
        }, this.#ackDelayMs);
      }
    }
  }

  #flush(): void {
    while (this.#wantRead && this.#queue.length > 0) {
      const chunk = this.#queue.takeSome(Number.MAX_SAFE_INTEGER);
      this.#delivered = (this.#delivered + chunk.length) >>> 0;
      this.#wantRead = this.push(chunk);
    }
    if (this.#peerClosed && this.#queue.length === 0 && !this.readableEnded) {
      this.push(null);
      // A stream the peer reset cannot be written any more; finish the writable side so the Duplex can close.
      if (!this.writableEnded) this.end();
    }
  }

  #sendAck(): void {
    this.#clearAckTimer();
    void this.#send(TcpFlags.ACK, this.#sndNext, this.#delivered).catch(() => undefined);
  }

  #clearAckTimer(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  #send(flags: number, seq: number, ack: number, payload?: Buffer): Promise<void> {
    if (flags & TcpFlags.ACK) this.#lastAckSent = ack;
    return this.#sink.sendSegment(
      { sport: this.localPort, dport: this.remotePort, seq, ack, flags, window: windowField(this.#recvWindow) },
      payload,
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#state === 'closed') return cb(new MuxResetError(this.remotePort, this.#peerReason));
    if (chunk.length === 0) return cb();
    this.#pending = { chunk, offset: 0, cb };
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pumpLoop();
  }

  async #pumpLoop(): Promise<void> {
    try {
      await this.#pumpSegments();
    } finally {
      this.#pumping = false;
    }
    // a _write that arrived while the loop was finishing would otherwise wait for the next ACK
    if (this.#pending && this.#state === 'open' && this.#sendable() > 0) this.#pump();
  }

  #sendable(): number {
    const p = this.#pending;
    if (!p) return 0;
    return Math.min(this.#peerWindow - seqDiff(this.#sndNext, this.#peerAck), this.#maxSeg, p.chunk.length - p.offset);
  }

  async #pumpSegments(): Promise<void> {
    while (this.#pending && this.#state === 'open') {
      const p = this.#pending;
      const sendable = this.#sendable();
      if (sendable <= 0) return; // held until an ACK opens the window (#onAck calls #pump)
      const piece = p.chunk.subarray(p.offset, p.offset + sendable);
      const seq = this.#sndNext;
      this.#sndNext = (this.#sndNext + piece.length) >>> 0;
      p.offset += piece.length;
      this.#bytesOut += piece.length;
      this.#clearAckTimer();
      try {
        await this.#send(TcpFlags.ACK, seq, this.#delivered, piece);
      } catch (e) {
        this.destroy(asError(e));
        return;
      }
      if (p.offset === p.chunk.length && this.#pending === p) {
        this.#pending = undefined;
        p.cb();
      }
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#state !== 'closed') {
      const wasOpen = this.#state;
      this.#state = 'closed';
      this.#clearAckTimer();
      this.#sink.release(this);
      if (wasOpen !== 'idle') void this.#send(TcpFlags.RST, this.#sndNext, this.#delivered).catch(() => undefined);
      this.#failConnect(new ClosedError('usb mux connect'));
      this.#peerClosed = true;
      this.#flush();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#clearAckTimer();
    if (this.#state !== 'closed') {
      const was = this.#state;
      this.#state = 'closed';
      this.#sink.release(this);
      if (was !== 'idle') void this.#send(TcpFlags.RST, this.#sndNext, this.#delivered).catch(() => undefined);
    }
    this.#failConnect(err ?? new ClosedError('usb mux connect'));
    const p = this.#pending;
    this.#pending = undefined;
    if (p) p.cb(err ?? new ClosedError('usb mux write'));
    cb(err);
  }

  #failConnect(err: Error): void {
    const w = this.#connectWaiter;
    this.#connectWaiter = undefined;
    w?.reject(err);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new InternalError(String(e), { cause: e });
}
