import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ChunkQueue } from '../core/chunk-queue.ts';
import { ClosedError, IDeviceError, ProtocolError } from '../core/errors.ts';
import { attachKeylog } from '../pairing/tls.ts';
import type { PlistDict } from '../plist/types.ts';
import { encodeLockdownFrame, LockdownFrameDecoder } from './codec.ts';

/**
 * The lockdown byte stream with TLS that can be switched on and off in place.
 *
 * Node cannot unwrap TLS, so TLS never sees the raw stream: it runs over a {@link Carrier} Duplex
 * we feed by hand. That lets StartSession upgrade the same stream (bytes the decoder already holds go
 * to TLS first) and StopSession downgrade it: after close_notify the peer's remaining bytes are fed
 * to TLS one record at a time (5-byte record header: type 20–23, version, u16 length) until TLS ends;
 * anything that is not a TLS record (a lockdown length prefix starts with 0x00) is plaintext again.
 *
 * Frames are delivered one at a time: the next frame is decoded only after the handler's promise
 * settles, so a handler can switch modes before later bytes are interpreted.
 */
export type TransportMode = 'plain' | 'tls' | 'draining' | 'closed';

export interface TransportHandlers {
  /** A decoded frame (plaintext or from inside TLS). */
  frame(msg: PlistDict): void | Promise<void>;
  /** The stream is gone: undefined for a clean EOF at a frame boundary, else the error. Called once. */
  close(err?: IDeviceError): void;
}

const TLS_MAX_RECORD = 5 + 16384 + 2048;

/** Duplex handed to node:tls: writes go to the raw stream, reads are pushed by the transport; end/destroy never touch the raw stream. */
class Carrier extends Duplex {
  readonly #raw: Duplex;
  finished = false;
  constructor(raw: Duplex) {
    super({ allowHalfOpen: true });
    this.#raw = raw;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#raw.destroyed || this.#raw.writableEnded) return cb(new ClosedError('lockdown TLS write'));
    this.#raw.write(chunk, (err) => cb(err ?? null));
  }
  override _final(cb: (err?: Error | null) => void): void {
    // close_notify has been written through _write; the raw stream stays open for plaintext.
    this.finished = true;
    cb();
  }
  override _read(): void {}
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    cb(err);
  }
}

export class LockdownTransport {
  readonly raw: Duplex;
  readonly #handlers: TransportHandlers;
  readonly #decoder: LockdownFrameDecoder;
  #mode: TransportMode = 'plain';
  #tls: tls.TLSSocket | undefined;
  #carrier: Carrier | undefined;
  #drainQueue: ChunkQueue | undefined;
  #busy = false;
  #closed = false;

  constructor(raw: Duplex, handlers: TransportHandlers, opts?: { maxFrame?: number }) {
    this.raw = raw;
    this.#handlers = handlers;
    this.#decoder = new LockdownFrameDecoder(opts);
    raw.on('data', (c: Buffer) => this.#onRaw(c));
    raw.on('end', () => this.#onRawEnd());
    raw.on('error', (err) => this.#fail(new ClosedError('lockdown', { cause: err })));
    raw.on('close', () => this.#onRawEnd());
    // A stream handed over paused (e.g. by the usbmux client after Connect) stays paused with a 'data' listener.
    raw.resume();
  }

  get mode(): TransportMode {
    return this.#mode;
  }

  /** The TLS socket while a session is up (for peer certificate checks). */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.#tls;
  }

  /** Sends one frame in the current mode (inside TLS while a session is up). Throws ERR_CLOSED when closed. */
  send(msg: PlistDict): void {
    if (this.#closed) throw new ClosedError('lockdown send');
    const [h, b] = encodeLockdownFrame(msg);
    const out: Duplex = this.#mode === 'tls' && this.#tls ? this.#tls : this.raw;
    out.cork();
    out.write(h);
    out.write(b);
    out.uncork();
  }

  /**
   * Starts TLS on the stream as the client (ClientHello goes out at once). Resolves when the handshake
   * completes. `opts` come from pairing's tlsClientOptions; `keylogFile` gets the secrets through pairing's
   * attachKeylog (the project's one key-log writer). Throws ProtocolError ERR_PROTOCOL (wrapping the TLS error)
   * or ClosedError ERR_CLOSED.
   */
  upgradeClient(opts: tls.ConnectionOptions, keylogFile?: string): Promise<tls.TLSSocket> {
    const carrier = this.#beginUpgrade();
    const sock = tls.connect({ ...opts, socket: carrier });
    if (keylogFile) attachKeylog(sock, keylogFile);
    return this.#finishUpgrade(sock, 'secureConnect');
  }

  /** Starts TLS on the stream as the server; resolves when the handshake completes. Same errors as upgradeClient. */
  upgradeServer(opts: tls.TLSSocketOptions, keylogFile?: string): Promise<tls.TLSSocket> {
    const carrier = this.#beginUpgrade();
    const sock = new tls.TLSSocket(carrier, { ...opts, isServer: true });
    if (keylogFile) attachKeylog(sock, keylogFile);
    return this.#finishUpgrade(sock, 'secure');
  }

  /**
   * Leaves TLS: sends close_notify and resolves once it is written; from then on writes are plaintext
   * and the peer's remaining TLS records (its close_notify) are consumed before plaintext is decoded.
   */
  downgrade(): Promise<void> {
    const sock = this.#tls;
    const carrier = this.#carrier;
    if (this.#mode !== 'tls' || !sock || !carrier) return Promise.resolve();
    this.#mode = 'draining';
    this.#drainQueue = new ChunkQueue();
    return new Promise<void>((resolve) => {
      const done = (): void => resolve();
      if (carrier.finished) return done();
      carrier.once('finish', done);
      carrier.once('close', done);
      sock.end();
    });
  }

  /**
   * Server side: after replying to StopSession, wait for the client's close_notify (or plaintext, or EOF)
   * before decoding further frames as plaintext.
   */
  expectDowngrade(): void {
    if (this.#mode !== 'tls') return;
    this.#mode = 'draining';
    this.#drainQueue = new ChunkQueue();
  }

  /** Destroys the raw stream (and TLS). */
  close(): void {
    this.#tls?.destroy();
    this.raw.destroy();
    this.#fail(undefined);
  }

  #beginUpgrade(): Carrier {
    if (this.#mode !== 'plain') throw new ProtocolError('lockdown', `cannot start TLS in mode ${this.#mode}`);
    const carrier = new Carrier(this.raw);
    // Write failures surface through the raw stream and the TLS socket; never as an unhandled 'error'.
    carrier.on('error', () => {});
    this.#carrier = carrier;
    this.#mode = 'tls';
    for (const c of this.#decoder.drain()) carrier.push(c);
    return carrier;
  }

  #finishUpgrade(sock: tls.TLSSocket, readyEvent: 'secureConnect' | 'secure'): Promise<tls.TLSSocket> {
    this.#tls = sock;
    sock.on('data', (c: Buffer) => {
      if (this.#tls !== sock) return;
      this.#decoder.push(c);
      this.#pump();
    });
    sock.on('end', () => this.#onTlsEnd(sock));
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      const onErr = (err: Error): void => {
        if (this.#tls !== sock) return;
        const e = new ProtocolError('lockdown', `TLS failed: ${err.message}`, undefined, { cause: err });
        reject(e);
        this.#fail(e);
        this.raw.destroy();
      };
      sock.on('error', onErr);
      sock.once(readyEvent, () => resolve(sock));
      sock.once('close', () => reject(new ClosedError('lockdown TLS handshake')));
    });
  }

  #onTlsEnd(sock: tls.TLSSocket): void {
    if (this.#tls !== sock) return;
    if (this.#mode === 'tls') {
      // The peer ended TLS on its own (no StopSession): back to plaintext; an EOF usually follows.
      this.#mode = 'draining';
      this.#drainQueue = new ChunkQueue();
    }
    if (this.#mode !== 'draining') return;
    const carrier = this.#carrier!;
    const finish = (): void => this.#finishDowngrade();
    if (carrier.finished) return finish();
    carrier.once('finish', finish);
    carrier.once('close', finish);
    sock.end(); // our close_notify in answer to theirs, before any plaintext
  }

  #finishDowngrade(): void {
    if (this.#mode !== 'draining') return;
    const sock = this.#tls;
    this.#tls = undefined;
    this.#carrier = undefined;
    sock?.destroy();
    this.#mode = 'plain';
    const q = this.#drainQueue!;
    this.#drainQueue = undefined;
    for (const c of q.drain()) this.#decoder.push(c);
    this.#pump();
  }

  #onRaw(chunk: Buffer): void {
    if (this.#closed) return;
    switch (this.#mode) {
      case 'plain':
        this.#decoder.push(chunk);
        this.#pump();
        return;
      case 'tls':
        this.#carrier!.push(chunk);
        return;
      case 'draining':
        this.#drainQueue!.push(chunk);
        this.#feedDrain();
        return;
    }
  }

  /** Feeds whole TLS records to the TLS socket; the first non-record byte ends TLS. */
  #feedDrain(): void {
    const q = this.#drainQueue!;
    while (this.#mode === 'draining' && q.length > 0) {
      const type = q.peek(1)[0]!;
      if (type < 20 || type > 23) return this.#finishDowngrade();
      if (q.length < 5) return;
      const len = q.peek(2, 3).readUInt16BE(0);
      if (5 + len > TLS_MAX_RECORD) {
        this.#fail(new ProtocolError('lockdown', 'oversized TLS record after StopSession'));
        this.raw.destroy();
        return;
      }
      if (q.length < 5 + len) return;
      this.#carrier!.push(q.take(5 + len));
    }
  }

  /** Pauses decoding until `out` drains (or closes); the decoder's own cap bounds what arrives meanwhile. */
  #awaitDrain(out: Duplex): void {
    this.#busy = true;
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      this.#busy = false;
      this.#pump();
    };
    out.on('drain', done);
    out.on('close', done);
  }

  #pump(): void {
    if (this.#busy || this.#closed) return;
    while (!this.#closed) {
      if (this.#mode === 'draining') return;
      // A peer that sends requests but does not read the replies: decode the next one only once ours drained.
      const out: Duplex = this.#mode === 'tls' && this.#tls ? this.#tls : this.raw;
      if (out.writableNeedDrain) return this.#awaitDrain(out);
      let msg: PlistDict | undefined;
      try {
        msg = this.#decoder.next();
      } catch (err) {
        this.#fail(err as IDeviceError);
        this.raw.destroy();
        return;
      }
      if (!msg) return;
      let r: void | Promise<void>;
      try {
        r = this.#handlers.frame(msg);
      } catch (err) {
        this.#fail(err instanceof IDeviceError ? err : new ProtocolError('lockdown', String(err)));
        this.raw.destroy();
        return;
      }
      if (r && typeof r.then === 'function') {
        this.#busy = true;
        r.then(
          () => {
            this.#busy = false;
            this.#pump();
          },
          (err: unknown) => {
            this.#busy = false;
            this.#fail(err instanceof IDeviceError ? err : new ProtocolError('lockdown', String(err)));
            this.raw.destroy();
          },
        );
        return;
      }
    }
  }

  #onRawEnd(): void {
    if (this.#closed) return;
    if (this.#mode === 'tls' || this.#mode === 'draining') this.#carrier?.push(null);
    const midFrame = this.#mode === 'plain' && this.#decoder.midFrame;
    this.#fail(midFrame ? new ProtocolError('lockdown', 'stream ended in the middle of a frame') : undefined);
    // Lockdown has no half-close: the peer's EOF ends the connection.
    this.raw.destroy();
  }

  #fail(err: IDeviceError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mode = 'closed';
    this.#tls?.destroy();
    this.#handlers.close(err);
  }
}
