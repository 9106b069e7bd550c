/**
 * Socket reads into reused memory (net.Socket's `onread` option). Node normally gives every socket read a fresh
 * 64 KiB backing store; a bulk transfer that drops them a moment later still leaves tens of MB of dead stores until
 * V8 happens to collect them (about 32 MB on a 4 GiB pull), and each read is one allocation and, when short, one
 * copy. With a recycler the kernel reads into one buffer that is used again for the next read whenever nobody kept
 * a view of it — that is, when the consumer handled the bytes before returning (AfcConnection's transient mode:
 * a pulled file's bytes are written to disk inside the call).
 *
 * Two modes:
 * - no sink (the default, e.g. during the usbmux Connect handshake): each read is copied into a buffer of its exact
 *   size and pushed into the socket's Readable side — what Node itself does for every read shorter than 64 KiB — so
 *   'data' listeners, pause/resume, unshift and backpressure behave as on a plain socket;
 * - a sink ({@link ReadRecycler.setSink}): each read is handed to the sink as a view, valid only during the call.
 *   The sink returns true when it kept the view (or part of it): then that memory is left to its holder and the
 *   next read goes to a fresh 64 KiB buffer (as Node would); after a read nobody kept, the reusable
 *   {@link RECYCLED_READ_BYTES} buffer is used again. No 'data' events are emitted in this mode; 'end', 'close'
 *   and 'error' are the socket's own.
 */
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Size of the reused read buffer, 256 KiB: a unix socket then hands over up to ~210 KiB per read (its default
 * receive buffer) instead of 64 KiB, a quarter of the read system calls and wake-ups of a bulk transfer.
 */
export const RECYCLED_READ_BYTES = 256 * 1024;
/** Size of a fresh buffer after a kept read (Node's own read size). */
const FRESH_READ_BYTES = 64 * 1024;

/** Receives each read as a view (valid only during the call); returns true when it kept the view. */
export type ReadSink = (view: Buffer) => boolean;

const recyclers = new WeakMap<object, ReadRecycler>();

/** The recycler of a socket created with one, if any. */
export function recyclerOf(stream: Duplex): ReadRecycler | undefined {
  return recyclers.get(stream);
}

/**
 * `net.connect(options)` with the socket's reads going into reused memory (a {@link ReadRecycler} attached): for a
 * stream handed to `new AfcClient(socket)`, which then decodes each read in place. Behaves as a plain socket for
 * any other reader.
 */
export function connectRecycled(options: NetConnectOpts): Socket {
  const recycler = new ReadRecycler();
  const socket = netConnect({ ...options, onread: recycler.onread });
  recycler.attach(socket);
  return socket;
}

/** See the module comment. Create it, pass {@link onread} to net.connect, then {@link attach} the socket. */
export class ReadRecycler {
  #reusable: Buffer | undefined;
  #current: Buffer | undefined;
  #kept = false;
  #socket: Socket | undefined;
  #sink: ReadSink | undefined;
  /** Reads so far, and how many of them went into the reused buffer again. */
  reads = 0;
  reused = 0;

  /** The `onread` option for net.connect() / new net.Socket(). */
  get onread(): { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
    return { buffer: () => this.#next(), callback: (n, buf) => this.#onRead(n, buf as Buffer) };
  }

  /** Binds the socket created with {@link onread} (so {@link recyclerOf} finds this recycler). */
  attach(socket: Socket): void {
    this.#socket = socket;
    recyclers.set(socket, this);
  }

  /**
   * Hands every further read to `sink`. Returns the bytes that were already read and are waiting in the socket's
   * Readable buffer (they come before anything the sink will get), for the caller to handle first.
   */
  setSink(sink: ReadSink): Buffer[] {
    const s = this.#socket;
    const waiting: Buffer[] = [];
    if (s) for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) waiting.push(c);
    this.#sink = sink;
    return waiting;
  }

  #next(): Buffer {
    const last = this.#current;
    if (last !== undefined && this.#kept) {
      // its holder has that memory now: a fresh buffer of Node's size (a consumer that keeps views keeps on doing so)
      if (last === this.#reusable) this.#reusable = undefined;
      this.#kept = false;
      return (this.#current = Buffer.allocUnsafeSlow(FRESH_READ_BYTES));
    }
    if (last !== undefined && last === this.#reusable) this.reused++;
    return (this.#current = this.#reusable ??= Buffer.allocUnsafeSlow(RECYCLED_READ_BYTES));
  }

  #onRead(n: number, buf: Buffer): boolean {
    this.reads++;
    this.#current = buf;
    const view = buf.subarray(0, n);
    if (this.#sink) {
      this.#kept = this.#sink(view);
      return true;
    }
    this.#kept = false;
    const copy = Buffer.allocUnsafe(n);
    view.copy(copy);
    return this.#socket ? this.#socket.push(copy) : true;
  }
}
