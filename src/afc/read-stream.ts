/**
 * Readable over an AFC file: several FileRefRead requests in flight on one handle (the device serves a
 * connection's requests in order), their DATA bytes pushed to the consumer as views of socket chunks.
 * When push() returns false no further READ is issued until _read() is called again, so memory stays
 * below maxInFlight × chunkSize plus the stream's highWaterMark.
 *
 * With a known size (from stat) the READs ask for exactly size + 1 bytes in all and the FileRefClose is sent
 * right behind the last of them, without waiting for an empty EOF read: a file that fits one READ costs
 * OPEN, then READ + CLOSE pipelined (two round trips, three requests). Getting exactly `size` bytes proves
 * EOF. Anything else (the device answered short, the file shrank or grew since the stat) falls back: the file
 * is opened again at the offset reached and read to its real EOF, so the bytes are always the file's.
 */
import { Readable } from 'node:stream';
import { onAbort, type CallOpts } from '../core/abort.ts';
import { AbortError, InvalidArgumentError } from '../core/errors.ts';
import type { AfcFileIo, AfcReadStreamOptions } from './file-io.ts';
import { AfcOpenMode } from './protocol.ts';

export type { AfcReadStreamOptions } from './file-io.ts';

interface Slot {
  chunks: Buffer[];
  /** The reply is complete (set synchronously, in the socket read that completed it). */
  ended: boolean;
  /** Its promise settled (the slot can go). */
  done: boolean;
}

/** See {@link AfcClient.createReadStream}. Errors: those of AfcClient.open / read (ERR_AFC_*, ERR_CLOSED, ERR_PROTOCOL). */
export class AfcReadStream extends Readable {
  readonly #client: AfcFileIo;
  readonly #path: string;
  readonly #chunkSize: number;
  readonly #maxInFlight: number;
  readonly #size: number | undefined;
  readonly #start: number;
  readonly #callOpts: CallOpts;
  readonly #sink: ((chunk: Buffer) => void) | undefined;
  #handle: number | undefined;
  #slots: Slot[] = [];
  #inFlight = 0;
  #eof = false;
  #wants = false;
  #ended = false;
  /** Bytes still to request in the fast path (known size: size − start + 1), undefined when reading to EOF. */
  #budget: number | undefined;
  /** The handle's CLOSE was sent (fast path). */
  #closing: Promise<void> | undefined;
  /** Position in the file of the next byte to deliver. */
  #pos: number;
  /** Bytes delivered so far. */
  bytesRead = 0;

  constructor(client: AfcFileIo, path: string, opts: AfcReadStreamOptions = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 1024 * 1024 });
    // Abort destroys the stream with our typed AbortError (ERR_ABORTED), not Node's ABORT_ERR.
    const signal = opts.signal;
    if (signal) {
      const aborted = (): void => void this.destroy(new AbortError(`AFC ${path}`, signal.reason));
      if (signal.aborted) queueMicrotask(aborted);
      else this.once('close', onAbort(signal, aborted)); // one shared listener per signal (core/abort.ts)
    }
    const chunk = opts.chunkSize ?? 1024 * 1024;
    if (!Number.isInteger(chunk) || chunk < 1024 || chunk > 16 * 1024 * 1024) throw new InvalidArgumentError(`bad chunkSize ${chunk}`);
    this.#client = client;
    this.#path = path;
    this.#chunkSize = chunk;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.#size = opts.size;
    this.#start = opts.start ?? 0;
    this.#pos = this.#start;
    this.#budget = opts.size !== undefined ? Math.max(0, opts.size - this.#start) + 1 : undefined;
    this.#callOpts = opts.signal ? { signal: opts.signal } : {};
    this.#sink = opts.sink;
    // with a sink nothing is pushed, so nothing ever asks the READs to wait
    if (this.#sink) this.#wants = true;
  }

  /** The remote path. */
  get path(): string {
    return this.#path;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    // A stream its consumer destroyed while the open was in flight ends quietly: the open's failure (e.g. the
    // connection closed meanwhile) would otherwise surface as an 'error' nobody listens to any more.
    this.#open(this.#start).then(() => cb(), (e: Error) => cb(this.destroyed ? null : e));
  }

  async #open(at: number): Promise<void> {
    const h = await this.#client.open(this.#path, AfcOpenMode.RDONLY, this.#callOpts);
    this.#handle = h;
    if (at > 0 && !this.destroyed) await this.#client.seek(h, at, 0, this.#callOpts);
  }

  override _read(): void {
    this.#wants = true;
    this.#pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const h = this.#handle;
    this.#handle = undefined;
    if (h !== undefined && this.#closing === undefined && !this.#client.connection.closed) this.#client.closeFile(h).catch(() => undefined);
    this.#closing?.catch(() => undefined);
    cb(err);
  }

  #canIssue(): boolean {
    if (this.#eof || !this.#wants || this.#inFlight >= this.#maxInFlight || this.destroyed || this.#handle === undefined) return false;
    return this.#budget === undefined || this.#budget > 0;
  }

  #pump(): void {
    while (this.#canIssue()) {
      const size = this.#budget !== undefined ? Math.min(this.#chunkSize, this.#budget) : this.#chunkSize;
      if (this.#budget !== undefined) this.#budget -= size;
      this.#issue(size);
      if (this.#budget === 0 && this.#closing === undefined) {
        // Every byte up to size + 1 is asked for: close right behind the last READ (served after it, in order).
        this.#closing = this.#client.closeFile(this.#handle!, this.#callOpts);
        this.#closing.catch(() => undefined); // observed in #maybeFinish
      }
    }
  }

  #issue(size: number): void {
    const slot: Slot = { chunks: [], ended: false, done: false };
    this.#slots.push(slot);
    this.#inFlight++;
    const co = this.#sink ? { ...this.#callOpts, transientData: true, onEnd: () => this.#replyEnded(slot) } : this.#callOpts;
    this.#client.readStreaming(this.#handle!, size, (c) => this.#deliver(slot, c), co).then(
      (n) => {
        this.#inFlight--;
        slot.done = true;
        if (n === 0) this.#eof = true;
        this.#flush();
        this.#pump();
        this.#maybeFinish();
      },
      (e: Error) => this.destroy(e),
    );
  }

  #deliver(slot: Slot, c: Buffer): void {
    if (this.destroyed) return;
    if (slot === this.#slots[0] || (this.#sink && this.#inOrder(slot))) this.#push(c);
    else slot.chunks.push(this.#sink ? Buffer.from(c) : c); // a later READ answered first (not expected from a serial device)
  }

  /** Sink mode: every READ before `slot` is complete and delivered, so its bytes are next. */
  #inOrder(slot: Slot): boolean {
    for (const s of this.#slots) {
      if (s === slot) return true;
      if (!s.ended || s.chunks.length > 0) return false;
    }
    return false;
  }

  /** Sink mode: a READ's reply is complete; bytes of later READs that arrived first can go now, in order. */
  #replyEnded(slot: Slot): void {
    slot.ended = true;
    if (this.destroyed) return;
    for (const s of this.#slots) {
      if (s.chunks.length > 0 && this.#inOrder(s)) for (const c of s.chunks.splice(0)) this.#push(c);
      if (!s.ended) break;
    }
  }

  #push(c: Buffer): void {
    this.bytesRead += c.length;
    this.#pos += c.length;
    if (this.#sink) {
      try {
        this.#sink(c);
      } catch (e) {
        this.destroy(e as Error);
      }
    } else if (!this.push(c)) this.#wants = false;
  }

  #flush(): void {
    while (this.#slots.length > 0 && this.#slots[0]!.done) {
      this.#slots.shift();
      const next = this.#slots[0];
      if (next) for (const c of next.chunks.splice(0)) this.#push(c);
    }
  }

  #maybeFinish(): void {
    if (this.#ended || this.destroyed || this.#inFlight > 0) return;
    if (this.#closing) {
      if (this.#budget !== 0) return;
      // Fast path done: exactly `size` bytes prove EOF; otherwise read on from where we are, to the real EOF.
      const exact = this.#size !== undefined && this.#pos === this.#size;
      const closing = this.#closing;
      this.#closing = undefined;
      this.#handle = undefined;
      this.#ended = exact;
      closing.then(
        () => (exact ? this.push(null) : this.#continueToEof()),
        (e: Error) => this.destroy(e),
      );
      return;
    }
    if (!this.#eof) return;
    this.#ended = true;
    const h = this.#handle!;
    this.#handle = undefined;
    this.#client.closeFile(h, this.#callOpts).then(
      () => this.push(null),
      (e: Error) => this.destroy(e),
    );
  }

  /** Fallback of the fast path: reopen at the current position and read until an empty READ. */
  #continueToEof(): void {
    if (this.destroyed) return;
    this.#budget = undefined;
    this.#eof = false;
    this.#open(this.#pos).then(
      () => {
        if (this.destroyed) {
          const h = this.#handle;
          this.#handle = undefined;
          if (h !== undefined && !this.#client.connection.closed) this.#client.closeFile(h).catch(() => undefined);
          return;
        }
        this.#wants = true;
        this.#pump();
      },
      (e: Error) => this.destroy(e),
    );
  }
}
