/**
 * AFC connection tier: owns one Duplex, numbers requests, keeps a bounded window of them in flight and
 * matches replies by packet_num. Knows framing only; typed operations live in client.ts.
 */
import type { Duplex } from 'node:stream';
import { withCallOpts, type CallOpts } from '../core/abort.ts';
import { ClosedError, IDeviceError, ProtocolError } from '../core/errors.ts';
import { recyclerOf } from '../core/read-recycler.ts';
import { AfcDecoder, encodePacket, type AfcHeader, type AfcPacketFields } from './codec.ts';
import { AfcOpcode, opcodeName } from './protocol.ts';

/** A complete reply. `content` = header_payload ‖ data, as pieces (views where possible). */
export interface AfcReply {
  header: AfcHeader;
  content: Buffer[];
  contentLength: number;
}

/** Per-request options. */
export interface AfcRequestOpts extends CallOpts {
  /**
   * When the reply is DATA, its bytes go here piece by piece (views of socket chunks, in order) instead of
   * being buffered; the resolved reply then has empty `content` but the right `contentLength`.
   */
  onData?: (chunk: Buffer) => void;
  /**
   * `onData` is done with each chunk when it returns (it wrote or hashed the bytes): the chunk may be memory the
   * socket reuses for its next read (core/read-recycler.ts). Without it the chunks stay valid as long as they are
   * referenced.
   */
  transientData?: boolean;
  /**
   * Called synchronously when the reply is complete (before the promise settles, which is a microtask later): a
   * consumer of pipelined replies learns in order, within the same socket read, that the next reply's bytes follow.
   */
  onEnd?: () => void;
}

/** A reply piece of at most this many bytes is copied out of a recycled read buffer rather than keeping the buffer. */
const COPY_OUT_MAX = 8 * 1024;

/** Connection options. */
export interface AfcConnectionOptions {
  /** Requests in flight at once (further requests wait, unsent, in order). Default 16. */
  maxInFlight?: number;
  /** Largest reply data area accepted, streamed or buffered. Default 64 MiB. */
  maxReplyData?: number;
}

interface Pending {
  packetNum: number;
  operation: number;
  fields: AfcPacketFields;
  onData: ((chunk: Buffer) => void) | undefined;
  transientData: boolean;
  onEnd: (() => void) | undefined;
  streaming: boolean;
  content: Buffer[];
  contentLength: number;
  abandoned: boolean;
  resolve(r: AfcReply): void;
  reject(e: Error): void;
}

/**
 * One AFC conversation over a Duplex. Requests are registered under their packet_num before they are
 * written, and each packet is written whole (under cork, uncorked on the next tick: the requests of one tick
 * leave in one write) so concurrent callers never interleave framing. A reply with an unknown packet_num, bad framing, or EOF rejects every pending
 * request (ERR_PROTOCOL / ERR_PROTOCOL_TOO_LARGE / ERR_CLOSED) and closes the stream.
 */
export class AfcConnection {
  readonly #stream: Duplex;
  readonly #decoder: AfcDecoder;
  readonly #maxInFlight: number;
  readonly #pending = new Map<number, Pending>();
  readonly #queue: Pending[] = [];
  #nextPacketNum = 0;
  #inFlight = 0;
  #current: Pending | undefined; // reply being received
  #failure: IDeviceError | undefined;
  #extraCopied = 0;
  #bytesIn = 0;
  /** While a recycled read is decoded: it is (true) or a view of it was kept (set by #onBody). */
  #transient = false;
  #kept = false;
  /** The stream is corked until the next tick: requests made in one tick leave in one write (writev). */
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#stream.uncork();
  };

  constructor(stream: Duplex, opts: AfcConnectionOptions = {}) {
    this.#stream = stream;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 16);
    this.#decoder = new AfcDecoder({ maxData: opts.maxReplyData ?? 64 * 1024 * 1024, maxHeaderPayload: 64 * 1024 });
    const recycler = recyclerOf(stream);
    if (recycler) {
      // reads into reused memory: each is decoded before the next (what must outlive the call is copied or kept)
      const waiting = recycler.setSink((view) => this.#onRead(view));
      for (const c of waiting) this.#onData(c);
    } else stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () =>
      this.#fail(this.#decoder.midPacket ? new ProtocolError('afc', 'stream ended inside a packet (truncated)') : new ClosedError('afc')),
    );
    stream.on('close', () => this.#fail(new ClosedError('afc')));
    stream.on('error', (e) => this.#fail(new ClosedError('afc', { cause: e })));
    // A handed-over stream may have been paused explicitly (then a 'data' listener alone does not start it).
    stream.resume();
  }

  /** Payload bytes copied so far (headers spanning chunks plus reassembled replies). */
  get bytesCopied(): number {
    return this.#decoder.bytesCopied + this.#extraCopied;
  }

  /** Adds to {@link bytesCopied} (the client reports copies it makes when flattening replies). */
  countCopy(n: number): void {
    this.#extraCopied += n;
  }

  /** Bytes received from the device on this connection so far (replies of every request: the transfer watch's progress). */
  get bytesReceived(): number {
    return this.#bytesIn;
  }

  /** Requests sent and not yet answered, plus those waiting for a window slot. */
  get pendingCount(): number {
    return this.#inFlight + this.#queue.length;
  }

  /** True once the connection failed or was closed. */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Sends one request and resolves with its reply (whatever the operation: the caller interprets
   * STATUS / DATA / results). Rejects ERR_CLOSED, ERR_PROTOCOL, ERR_PROTOCOL_TOO_LARGE, ERR_TIMEOUT, ERR_ABORTED.
   * A timed-out or aborted request keeps its packet_num reserved so the late reply is discarded.
   */
  request(operation: number, fields: AfcPacketFields, opts: AfcRequestOpts = {}): Promise<AfcReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    let entry!: Pending;
    const work = new Promise<AfcReply>((resolve, reject) => {
      entry = {
        packetNum: -1,
        operation,
        fields,
        onData: opts.onData,
        transientData: opts.transientData === true,
        onEnd: opts.onEnd,
        streaming: false,
        content: [],
        contentLength: 0,
        abandoned: false,
        resolve,
        reject,
      };
    });
    if (this.#inFlight < this.#maxInFlight) this.#send(entry);
    else this.#queue.push(entry);
    if (!opts.signal && opts.timeoutMs === undefined) return work; // the common bulk case: no label, no race
    return withCallOpts(`AFC ${opcodeName(operation)}`, work, opts, () => {
      entry.abandoned = true;
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#queue.splice(i, 1);
    });
  }

  /** Closes the stream; pending requests reject with ERR_CLOSED. */
  close(): void {
    this.#fail(new ClosedError('afc'));
  }

  #send(p: Pending): void {
    p.packetNum = this.#nextPacketNum++;
    // Register before writing: a fast peer's reply can never arrive unmatched.
    this.#pending.set(p.packetNum, p);
    this.#inFlight++;
    const bufs = encodePacket(p.packetNum, p.operation, p.fields);
    p.fields = {}; // release the caller's buffers once written
    const s = this.#stream;
    // Corked until the next tick: the requests of one tick (a file's READs and CLOSE, the next file's OPEN, a
    // directory's STATs) go out in one writev instead of a syscall each — and reach the device as one chunk.
    if (!this.#corked) {
      this.#corked = true;
      s.cork();
      process.nextTick(this.#uncork);
    }
    for (const b of bufs) s.write(b);
  }

  /** A read into recycled memory: returns true when a view of it was kept (the memory must not be reused). */
  #onRead(view: Buffer): boolean {
    this.#transient = true;
    this.#kept = false;
    try {
      this.#onData(view);
      if (this.#decoder.buffered > 0 && !this.#failure) this.#decoder.own(); // a partial header: copied
      return this.#kept;
    } finally {
      this.#transient = false;
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#failure) return;
    this.#bytesIn += chunk.length;
    this.#decoder.push(chunk);
    try {
      for (;;) {
        const ev = this.#decoder.next();
        if (!ev) break;
        if (ev.kind === 'header') this.#onHeader(ev.header, ev.headerPayload);
        else if (ev.kind === 'data') this.#onBody(ev.chunk);
        else this.#onEnd(ev.header);
        if (this.#failure) return;
      }
    } catch (e) {
      this.#fail(e instanceof IDeviceError ? e : new ProtocolError('afc', String(e), undefined, { cause: e }));
    }
  }

  #onHeader(h: AfcHeader, headerPayload: Buffer): void {
    const p = this.#pending.get(h.packetNum);
    if (!p) throw new ProtocolError('afc', `reply for unknown packet_num ${h.packetNum} (operation ${opcodeName(h.operation)})`);
    this.#current = p;
    p.streaming = p.onData !== undefined && h.operation === AfcOpcode.Data && !p.abandoned;
    this.#onBody(headerPayload);
  }

  #onBody(chunk: Buffer): void {
    const p = this.#current!;
    if (chunk.length === 0) return;
    p.contentLength += chunk.length;
    if (p.abandoned) return;
    if (this.#transient && !(p.streaming && p.transientData)) {
      if (chunk.length > COPY_OUT_MAX) this.#kept = true;
      else {
        chunk = Buffer.from(chunk);
        this.#extraCopied += chunk.length;
      }
    }
    if (p.streaming) p.onData!(chunk);
    else p.content.push(chunk);
  }

  #onEnd(h: AfcHeader): void {
    const p = this.#current!;
    this.#current = undefined;
    this.#pending.delete(p.packetNum);
    this.#inFlight--;
    if (!p.abandoned) {
      p.onEnd?.();
      p.resolve({ header: h, content: p.content, contentLength: p.contentLength });
    }
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) this.#send(this.#queue.shift()!);
  }

  #fail(err: IDeviceError): void {
    if (this.#failure) return;
    this.#failure = err;
    const all = [...this.#pending.values(), ...this.#queue];
    this.#pending.clear();
    this.#queue.length = 0;
    this.#current = undefined;
    for (const p of all) if (!p.abandoned) p.reject(err);
    if (!this.#stream.destroyed) this.#stream.destroy();
  }
}
