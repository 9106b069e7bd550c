/**
 * An adaptive window for many files in flight on one device: how many files are being transferred at once, and
 * how many bytes they may have outstanding. The file window starts small and grows by one each time a file
 * completes while the connection had (almost) nothing left to do — the request pipeline ran dry, so another file
 * in flight would have kept the device busy — up to `maxFiles`. The byte budget bounds memory whatever the file
 * window (a file is charged what it can have outstanding: its size, at most the reads one stream keeps in flight);
 * a single file larger than the budget is admitted alone. {@link runWindowed} drives a source of items through it.
 */
import { AbortError, InvalidArgumentError } from './errors.ts';
import { Fifo } from './fifo.ts';

/** Options of {@link AdaptiveWindow}. */
export interface AdaptiveWindowOptions {
  /** Files in flight at the start (default 4, at most maxFiles). */
  initialFiles?: number;
  /** The cap on files in flight. */
  maxFiles: number;
  /** The cap on bytes charged by files in flight. */
  maxBytes: number;
  /** True when the device side has run out of work (e.g. fewer than 2 requests pending on the connection). */
  starved?: () => boolean;
}

/**
 * See the module comment. All methods are synchronous except {@link AdaptiveWindow.acquire}.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for caps below 1.
 */
export class AdaptiveWindow {
  readonly maxFiles: number;
  readonly maxBytes: number;
  #limit: number;
  #files = 0;
  #bytes = 0;
  readonly #starved: (() => boolean) | undefined;
  readonly #waiters = new Fifo<{ bytes: number; grant: () => void }>();

  constructor(o: AdaptiveWindowOptions) {
    if (!(o.maxFiles >= 1) || !(o.maxBytes >= 1)) throw new InvalidArgumentError('window caps must be >= 1');
    this.maxFiles = Math.floor(o.maxFiles);
    this.maxBytes = o.maxBytes;
    this.#limit = Math.max(1, Math.min(this.maxFiles, Math.floor(o.initialFiles ?? 4)));
    this.#starved = o.starved;
  }

  /** Current file window. */
  get limit(): number {
    return this.#limit;
  }

  /** Files admitted and not released. */
  get inFlight(): number {
    return this.#files;
  }

  /** Bytes charged by the files in flight. */
  get bytesInFlight(): number {
    return this.#bytes;
  }

  #fits(bytes: number): boolean {
    return this.#files < this.#limit && (this.#files === 0 || this.#bytes + bytes <= this.maxBytes);
  }

  /**
   * Waits (FIFO) until a file charging `bytes` fits, then admits it; resolves with its release function (call it
   * exactly once when the file is done, whatever the outcome). Rejects with AbortError (ERR_ABORTED) on `signal`.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const charge = Math.max(0, bytes);
    if (signal?.aborted) return Promise.reject(new AbortError('waiting for a transfer slot', signal.reason));
    if (this.#waiters.length === 0 && this.#fits(charge)) return Promise.resolve(this.#admit(charge));
    return new Promise((resolve, reject) => {
      const entry = {
        bytes: charge,
        grant: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#admit(charge));
        },
      };
      const onAbort = (): void => {
        entry.bytes = 0;
        entry.grant = () => this.#pump(); // once its turn comes, pass it on
        reject(new AbortError('waiting for a transfer slot', signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(entry);
    });
  }

  #admit(bytes: number): () => void {
    this.#files++;
    this.#bytes += bytes;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#files--;
      this.#bytes -= bytes;
      if (this.#limit < this.maxFiles && this.#starved?.()) this.#limit++;
      this.#pump();
    };
  }

  #pump(): void {
    for (let w = this.#waiters.peek(); w && this.#fits(w.bytes); w = this.#waiters.peek()) {
      this.#waiters.shift();
      w.grant();
    }
  }
}

/**
 * Runs `work(item)` for every item of `items` (sync or async iterable, consumed only as items are admitted),
 * each admitted through `window` charging `charge(item)` bytes. Resolves when all are done; the first rejection of
 * `work` stops admitting new items and rejects once the running ones settle.
 */
export async function runWindowed<T>(
  items: Iterable<T> | AsyncIterable<T>,
  window: AdaptiveWindow,
  charge: (item: T) => number,
  work: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let failed: { e: unknown } | undefined;
  const running = new Set<Promise<void>>();
  for await (const item of items as AsyncIterable<T>) {
    if (failed) break;
    let release: () => void;
    try {
      release = await window.acquire(charge(item), signal);
    } catch (e) {
      failed ??= { e };
      break;
    }
    if (failed) {
      release();
      break;
    }
    const p: Promise<void> = work(item)
      .catch((e: unknown) => void (failed ??= { e }))
      .finally(() => {
        release();
        running.delete(p);
      });
    running.add(p);
  }
  await Promise.all(running);
  if (failed) throw failed.e;
}
