/**
 * Progress-based timeouts for a transfer from the device: a stream that delivers no byte for `idleMs`, or
 * fewer than `minBytesPerSec` over a window of `windowMs`, is cut off with ERR_TIMEOUT naming the file and the
 * rate. Only time spent waiting for the device counts: while the consumer is busy (writing to a slow disk),
 * the clock is paused, so a slow DEST never looks like a slow device.
 *
 * Defaults ({@link DEFAULT_WATCH}): 15 s without a byte, or under 64 KiB/s over 15 s of waiting. A healthy
 * phone over USB 2 delivers 20–40 MB/s; a device that trickles a few bytes per second is cut off after 15 s.
 *
 * With the connection's byte count (`connectionBytes`, PhotoAfc.connection.bytesReceived) both bounds are judged on
 * what the device sends on the whole connection, not on this file alone: files in flight on one connection are
 * answered in order, so a file whose reads wait behind other files' (16 devices sharing one USB bus, each with
 * several files in flight) gets nothing for a while although the device is sending at its pace. A device that
 * stops, or trickles, does so on the whole connection, and is still cut off.
 */
import { fixErrorName, TimeoutError } from '../core/errors.ts';

/** A PhotoAfc connection's received-byte count for {@link watched}, when the connection has one. */
export function connectionBytesOf(conn: { readonly connection?: { readonly bytesReceived?: number } }): (() => number) | undefined {
  const c = conn.connection;
  return c && typeof c.bytesReceived === 'number' ? () => c.bytesReceived ?? 0 : undefined;
}

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
  readonly #connectionBytes: (() => number) | undefined;
  #seen = 0;

  /** `connectionBytes`: the connection's received-byte count (see the module comment); without it, this stream's own bytes count. */
  constructor(what: string, o: WatchOptions, onTimeout: (e: TransferTimeoutError) => void, connectionBytes?: () => number) {
    this.#what = what;
    this.#o = o;
    this.#onTimeout = onTimeout;
    this.#connectionBytes = connectionBytes;
    if (connectionBytes) this.#seen = connectionBytes();
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
    if (this.#connectionBytes) this.#pull(); // the connection's count includes these n bytes
    else {
      this.#windowBytes += n;
      if (n > 0) this.#idleWait = 0;
    }
    this.#rollWindow();
  }

  /** Counts what arrived on the connection since the last look: bytes arrived = the device is sending. */
  #pull(): void {
    const p = this.#connectionBytes!();
    const d = p - this.#seen;
    if (d <= 0) return;
    this.#seen = p;
    if (this.#waitingSince !== undefined) {
      this.#account();
      this.#waitingSince = performance.now(); // still waiting, from now
    }
    this.#idleWait = 0;
    this.#windowBytes += d;
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
    if (this.#connectionBytes) this.#pull();
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
 * Iterates `stream`'s chunks under a {@link TransferWatch} (judged on the connection's bytes when `connectionBytes`
 * is given): on a timeout the stream is destroyed with the TransferTimeoutError, which the loop then throws.
 */
export async function* watched(
  stream: NodeJS.ReadableStream & { destroy(e?: Error): unknown }, what: string, o: WatchOptions, connectionBytes?: () => number,
): AsyncGenerator<Buffer> {
  const w = new TransferWatch(what, o, (e) => void stream.destroy(e), connectionBytes);
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
