/**
 * Readable over an AFC file: several FileRefRead requests in flight on one handle (the device serves a
 * connection's requests in order), their DATA bytes pushed to the consumer as views of socket chunks.
 * When push() returns false no further READ is issued until _read() is called again, so memory stays
 * below maxInFlight × chunkSize plus the stream's highWaterMark.
 */
import { Readable } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import { AbortError, InvalidArgumentError } from '../core/errors.ts';
import type { AfcFileIo, AfcReadStreamOptions } from './file-io.ts';
import { AfcOpenMode } from './protocol.ts';

export type { AfcReadStreamOptions } from './file-io.ts';

interface Slot {
  chunks: Buffer[];
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
  #handle: number | undefined;
  #slots: Slot[] = [];
  #inFlight = 0;
  #requested = 0;
  #eof = false;
  #wants = false;
  #ended = false;
  /** Bytes delivered so far. */
  bytesRead = 0;

  constructor(client: AfcFileIo, path: string, opts: AfcReadStreamOptions = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 1024 * 1024 });
    // Abort destroys the stream with our typed AbortError (ERR_ABORTED), not Node's ABORT_ERR.
    const signal = opts.signal;
    if (signal) {
      const onAbort = (): void => void this.destroy(new AbortError(`AFC ${path}`, signal.reason));
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    const chunk = opts.chunkSize ?? 1024 * 1024;
    if (!Number.isInteger(chunk) || chunk < 1024 || chunk > 16 * 1024 * 1024) throw new InvalidArgumentError(`bad chunkSize ${chunk}`);
    this.#client = client;
    this.#path = path;
    this.#chunkSize = chunk;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.#size = opts.size;
    this.#start = opts.start ?? 0;
    this.#callOpts = opts.signal ? { signal: opts.signal } : {};
  }

  /** The remote path. */
  get path(): string {
    return this.#path;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    this.#client.open(this.#path, AfcOpenMode.RDONLY, this.#callOpts).then(async (h) => {
      this.#handle = h;
      if (this.#start > 0) await this.#client.seek(h, this.#start, 0, this.#callOpts);
      cb();
    }, cb);
  }

  override _read(): void {
    this.#wants = true;
    this.#pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const h = this.#handle;
    this.#handle = undefined;
    if (h !== undefined && !this.#client.connection.closed) this.#client.closeFile(h).catch(() => undefined);
    cb(err);
  }

  #canIssue(): boolean {
    if (this.#eof || !this.#wants || this.#inFlight >= this.#maxInFlight || this.destroyed || this.#handle === undefined) return false;
    // With a known size, stop after one READ past the end (it confirms EOF) unless the file turned out longer.
    return this.#size === undefined || this.#requested <= this.#size || this.#inFlight === 0;
  }

  #pump(): void {
    while (this.#canIssue()) {
      const remaining = this.#size !== undefined ? this.#size - this.#requested : 0;
      const size = remaining > 0 ? Math.min(this.#chunkSize, remaining) : this.#chunkSize;
      this.#issue(size);
    }
  }

  #issue(size: number): void {
    const slot: Slot = { chunks: [], done: false };
    this.#slots.push(slot);
    this.#inFlight++;
    this.#requested += size;
    this.#client.readStreaming(this.#handle!, size, (c) => this.#deliver(slot, c), this.#callOpts).then(
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
    if (slot === this.#slots[0]) this.#push(c);
    else slot.chunks.push(c); // a later READ answered first (not expected from a serial device)
  }

  #push(c: Buffer): void {
    this.bytesRead += c.length;
    if (!this.push(c)) this.#wants = false;
  }

  #flush(): void {
    while (this.#slots.length > 0 && this.#slots[0]!.done) {
      this.#slots.shift();
      const next = this.#slots[0];
      if (next) for (const c of next.chunks.splice(0)) this.#push(c);
    }
  }

  #maybeFinish(): void {
    if (!this.#eof || this.#inFlight > 0 || this.#ended || this.destroyed) return;
    this.#ended = true;
    const h = this.#handle!;
    this.#handle = undefined;
    this.#client.closeFile(h, this.#callOpts).then(
      () => this.push(null),
      (e: Error) => this.destroy(e),
    );
  }
}
