/**
 * Progress-based timeouts for a transfer from the device: a stream that delivers no byte for `idleMs`, or
 * fewer than `minBytesPerSec` over a window of `windowMs`, is cut off with ERR_TIMEOUT naming the file and the
 * rate. Only time spent waiting for the device counts: while the consumer is busy (writing to a slow disk),
 * the clock is paused, so a slow DEST never looks like a slow device.
 *
 * Defaults ({@link DEFAULT_WATCH}): 15 s without a byte, or under 64 KiB/s over 15 s of waiting. A healthy
 * phone over USB 2 delivers 20–40 MB/s; a device that trickles a few bytes per second is cut off after 15 s.
 */
import { fixErrorName, TimeoutError } from '../core/errors.ts';

/** Bounds of a watched transfer. */
export interface WatchOptions {
  /** No byte for this long (of waiting) fails, ms. */
  idleMs: number;
  /** Fewer bytes per second than this over one window fails. 0 disables the rate check. */
  minBytesPerSec: number;
  /** Length of the rate window (of waiting), ms. */
  windowMs: number;
}

export const DEFAULT_WATCH: Readonly<WatchOptions> = Object.freeze({ idleMs: 15_000, minBytesPerSec: 64 * 1024, windowMs: 15_000 });

/** A transfer that is too slow: code ERR_TIMEOUT; `bytesPerSec` is the measured rate (0 when nothing came). */
export class TransferTimeoutError extends TimeoutError {
  static {
    fixErrorName(this, 'TransferTimeoutError');
  }
  constructor(what: string, ms: number, readonly bytesPerSec: number, detail: string) {
    super(what, ms);
    this.message = `${what} timed out: ${detail}`;
  }
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function rate(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB/s`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB/s`;
  return `${n.toFixed(n < 10 ? 1 : 0)} B/s`;
}

/**
 * Watches one transfer. Call {@link waiting} before awaiting the next chunk and {@link got} when it arrives;
 * `onTimeout` is called (once) with the error when a bound is crossed. {@link stop} ends the watch.
 */
export class TransferWatch {
  readonly #what: string;
  readonly #o: WatchOptions;
  readonly #onTimeout: (e: TransferTimeoutError) => void;
  readonly #timer: NodeJS.Timeout;
  #waitingSince: number | undefined;
  /** Waiting time of the current window (not counting the wait in progress), ms. */
  #windowWait = 0;
  #windowBytes = 0;
  /** Waiting time since the last byte (not counting the wait in progress), ms. */
  #idleWait = 0;
  #fired = false;

  constructor(what: string, o: WatchOptions, onTimeout: (e: TransferTimeoutError) => void) {
    this.#what = what;
    this.#o = o;
    this.#onTimeout = onTimeout;
    const tick = Math.max(5, Math.min(o.idleMs, o.windowMs) / 5);
    this.#timer = setInterval(() => this.#check(), tick);
  }

  /** The consumer is now waiting for the device. */
  waiting(): void {
    this.#waitingSince ??= performance.now();
  }

  /** `n` bytes arrived (ends the wait in progress). */
  got(n: number): void {
    this.#account();
    this.#windowBytes += n;
    if (n > 0) this.#idleWait = 0;
    this.#rollWindow();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Moves the wait in progress into the counters. */
  #account(): void {
    if (this.#waitingSince === undefined) return;
    const d = performance.now() - this.#waitingSince;
    this.#waitingSince = undefined;
    this.#windowWait += d;
    this.#idleWait += d;
  }

  #rollWindow(): void {
    if (this.#windowWait < this.#o.windowMs) return;
    const bps = (this.#windowBytes * 1000) / this.#windowWait;
    if (this.#o.minBytesPerSec > 0 && bps < this.#o.minBytesPerSec) {
      return this.#fire(this.#windowWait, bps, `${rate(bps)} over the last ${secs(this.#windowWait)}, below the minimum of ${rate(this.#o.minBytesPerSec)}`);
    }
    this.#windowWait = 0;
    this.#windowBytes = 0;
  }

  #check(): void {
    if (this.#fired || this.#waitingSince === undefined) return;
    const now = performance.now();
    const waitNow = now - this.#waitingSince;
    if (this.#idleWait + waitNow >= this.#o.idleMs) {
      return this.#fire(this.#o.idleMs, 0, `no data for ${secs(this.#idleWait + waitNow)}`);
    }
    if (this.#windowWait + waitNow >= this.#o.windowMs) {
      this.#account();
      this.#waitingSince = now; // still waiting
      this.#rollWindow();
    }
  }

  #fire(ms: number, bps: number, detail: string): void {
    if (this.#fired) return;
    this.#fired = true;
    this.stop();
    this.#onTimeout(new TransferTimeoutError(this.#what, Math.round(ms), bps, detail));
  }
}

/**
 * Iterates `stream`'s chunks under a {@link TransferWatch}: on a timeout the stream is destroyed with the
 * TransferTimeoutError, which the loop then throws.
 */
export async function* watched(stream: NodeJS.ReadableStream & { destroy(e?: Error): unknown }, what: string, o: WatchOptions): AsyncGenerator<Buffer> {
  const w = new TransferWatch(what, o, (e) => void stream.destroy(e));
  try {
    const it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      w.waiting();
      const r = await it.next();
      if (r.done) return;
      w.got(r.value.length);
      yield r.value;
    }
  } finally {
    w.stop();
  }
}
