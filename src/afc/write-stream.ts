/**
 * Writable over an AFC file: incoming chunks are gathered (as views, no copy) into WRITE packets of up to
 * chunkSize bytes, several in flight; the file is closed in _final.
 */
import { Writable } from 'node:stream';
import { onAbort, type CallOpts } from '../core/abort.ts';
import { AbortError, InvalidArgumentError } from '../core/errors.ts';
import type { AfcFileIo, AfcWriteStreamOptions } from './file-io.ts';
import type { AfcOpenMode } from './protocol.ts';

export type { AfcWriteStreamOptions } from './file-io.ts';

/** See {@link AfcClient.createWriteStream}. Errors: ERR_AFC_* from open/write/close, ERR_CLOSED, ERR_PROTOCOL. */
export class AfcWriteStream extends Writable {
  readonly #client: AfcFileIo;
  readonly #path: string;
  readonly #chunkSize: number;
  readonly #maxInFlight: number;
  readonly #mode: AfcOpenMode | string;
  readonly #callOpts: CallOpts;
  #handle: number | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inFlight = 0;
  #error: Error | undefined;
  #waiter: (() => void) | undefined;
  /** Bytes acknowledged by the device. */
  bytesWritten = 0;

  constructor(client: AfcFileIo, path: string, opts: AfcWriteStreamOptions = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 4 * 1024 * 1024 });
    // Abort destroys the stream with our typed AbortError (ERR_ABORTED), not Node's ABORT_ERR.
    const signal = opts.signal;
    if (signal) {
      const aborted = (): void => void this.destroy(new AbortError(`AFC ${path}`, signal.reason));
      if (signal.aborted) queueMicrotask(aborted);
      else this.once('close', onAbort(signal, aborted)); // one shared listener per signal (core/abort.ts)
    }
    const chunk = opts.chunkSize ?? 4 * 1024 * 1024;
    if (!Number.isInteger(chunk) || chunk < 1024 || chunk > 16 * 1024 * 1024) throw new InvalidArgumentError(`bad chunkSize ${chunk}`);
    this.#client = client;
    this.#path = path;
    this.#chunkSize = chunk;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 3);
    this.#mode = opts.mode ?? 'w';
    this.#callOpts = opts.signal ? { signal: opts.signal } : {};
  }

  override _construct(cb: (err?: Error | null) => void): void {
    this.#client.open(this.#path, this.#mode, this.#callOpts).then((h) => {
      this.#handle = h;
      cb();
    }, cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#error) return cb(this.#error);
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, this.#chunkSize - this.#pendingBytes);
      this.#pending.push(off === 0 && take === chunk.length ? chunk : chunk.subarray(off, off + take));
      this.#pendingBytes += take;
      off += take;
      if (this.#pendingBytes >= this.#chunkSize) this.#send();
    }
    this.#whenBelow(this.#maxInFlight, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#pendingBytes > 0) this.#send();
    this.#whenBelow(1, (err) => {
      if (err) return cb(err);
      const h = this.#handle!;
      this.#handle = undefined;
      this.#client.closeFile(h, this.#callOpts).then(() => cb(), cb);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const h = this.#handle;
    this.#handle = undefined;
    if (h !== undefined && !this.#client.connection.closed) this.#client.closeFile(h).catch(() => undefined);
    cb(err);
  }

  #send(): void {
    const data = this.#pending;
    const n = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inFlight++;
    this.#client.writePacket(this.#handle!, data, this.#callOpts).then(
      () => {
        this.#inFlight--;
        this.bytesWritten += n;
        this.#wake();
      },
      (e: Error) => {
        this.#inFlight--;
        this.#error ??= e;
        this.#wake();
      },
    );
  }

  /** Calls cb once fewer than `limit` WRITEs are in flight (or with the first error). */
  #whenBelow(limit: number, cb: (err?: Error | null) => void): void {
    const ready = (): boolean => this.#error !== undefined || this.#inFlight < limit;
    const call = (): void => (this.#error ? cb(this.#error) : cb());
    if (ready()) return call();
    this.#waiter = () => {
      if (!ready()) return;
      this.#waiter = undefined; // cleared before cb: cb may run _write, which can set a new waiter
      call();
    };
  }

  #wake(): void {
    this.#waiter?.();
  }
}
