/**
 * Link shaping for the virtual iPhone: bandwidth and latency of the cable, shared by every connection of one
 * device (as all usbmux connections share one USB pipe).
 *
 * - profile `usb2`: 40 MB/s (10^6 bytes) for all connections of the device together, both directions (USB 2.0 is
 *   half-duplex), plus 0.5 ms added round trip (0.25 ms each way; sub-millisecond waits are polled with
 *   setImmediate because Node timers have ~1 ms resolution). Throughput is exact on average.
 * - profile `real`: the same usb2 bus, plus the device's afcd service times (./afcd-model.ts, applied by the AFC
 *   server, not here): a model of a real iPhone, calibrated on the peers (bench/scenarios/calibration.ts).
 * - profile `none`: no wrapper at all.
 *
 * Mechanism: one token bucket per device (debt model: a chunk reserves its bytes and is released once the
 * bucket has paid for it) and a delay line per direction per connection. Chunks are passed on as `subarray`
 * views of ≤ 64 KiB (never copied). Backpressure: at most `windowBytes` wait in a delay line; beyond that the
 * write callback (host→device) is held, or the inner stream is not read (device→host); the delay line itself
 * stops when the receiver's `write()`/`push()` returns false.
 */
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../core/errors.ts';

/** Named link profiles. */
export type LinkProfile = 'usb2' | 'real' | 'none';

/** The profile names, for option parsing. */
export const LINK_PROFILES: readonly LinkProfile[] = ['usb2', 'real', 'none'];

/**
 * The USB 2 bus: 40 MB/s shared by every connection of a device + 0.5 ms round trip. 480 Mbit/s raw; practical
 * bulk throughput ≈ 40–48 MB/s (mass storage; /work/notes/speed-research.md §1 #12). AFC through usbmuxd itself
 * tops out lower on a real phone (the device, see ./afcd-model.ts).
 */
export const USB2_LINK: Readonly<LinkParams> = Object.freeze({ bytesPerSecond: 40_000_000, roundTripMs: 0.5 });

/** Shaping parameters. */
export interface LinkParams {
  /** Shared rate of the device in bytes per second. */
  bytesPerSecond: number;
  /** Added round trip in milliseconds (half per direction). */
  roundTripMs: number;
  /** Burst allowance in bytes (default 64 KiB). */
  burstBytes?: number;
  /** Bytes a delay line may hold before backpressure applies (default 256 KiB). */
  windowBytes?: number;
}

/**
 * The bus parameters of a profile (undefined for `none`; `real` has the usb2 bus, its device timing comes from
 * afcdProfile in ./afcd-model.ts). @throws InvalidArgumentError (ERR_INVALID_ARG) for an unknown name.
 */
export function linkProfile(name: string): LinkParams | undefined {
  if (name === 'none') return undefined;
  if (name === 'usb2' || name === 'real') return { ...USB2_LINK };
  throw new InvalidArgumentError(`unknown link profile "${name}" (${LINK_PROFILES.join(' | ')})`);
}

const SLICE = 64 * 1024;

/**
 * Token bucket with debt: `reserve(n)` always succeeds and returns the time (performance.now() ms) at which the
 * n bytes have been paid for. Reservations from several connections queue up in call order, so the device's total
 * rate never exceeds `bytesPerSecond` (plus the initial burst).
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #rate: number; // bytes per ms
  readonly #burst: number;
  readonly #now: () => number;

  constructor(bytesPerSecond: number, burstBytes: number, now: () => number = () => performance.now()) {
    if (!(bytesPerSecond > 0)) throw new InvalidArgumentError('bytesPerSecond must be > 0');
    this.#rate = bytesPerSecond / 1000;
    this.#burst = Math.max(0, burstBytes);
    this.#now = now;
    this.#last = now();
    this.#tokens = this.#burst;
  }

  /** Reserves `n` bytes; returns the instant (ms, same clock as `now`) when they may be delivered. */
  reserve(n: number): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
    this.#last = now;
    this.#tokens -= n;
    return this.#tokens >= 0 ? now : now + -this.#tokens / this.#rate;
  }
}

/** The shaped cable of one device: wrap every device-side stream with {@link DeviceLink.wrap}. */
export class DeviceLink {
  readonly bucket: TokenBucket;
  readonly params: Required<LinkParams>;
  /** Bytes that went through the link, both directions. */
  bytes = 0;

  constructor(params: LinkParams) {
    this.params = { burstBytes: 64 * 1024, windowBytes: 256 * 1024, ...params };
    this.bucket = new TokenBucket(this.params.bytesPerSecond, this.params.burstBytes);
  }

  /** Due time (ms) of a chunk of `n` bytes entering the link now. */
  schedule(n: number): number {
    this.bytes += n;
    return this.bucket.reserve(n) + this.params.roundTripMs / 2;
  }

  /**
   * Wraps `inner` (the stream whose far end is the device service): writes to the wrapper reach `inner` shaped,
   * data from `inner` comes out of the wrapper shaped. Ending and errors propagate both ways.
   */
  wrap(inner: Duplex): Duplex {
    return new ShapedStream(inner, this);
  }
}

/** A FIFO of views released at their due times to `deliver` (which returns false to pause). */
class DelayLine {
  #q: { buf: Buffer; due: number }[] = [];
  #head = 0;
  bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #paused = false;

  constructor(
    readonly link: DeviceLink,
    readonly deliver: (b: Buffer) => boolean,
    readonly onProgress: () => void,
  ) {}

  get empty(): boolean {
    return this.#head === this.#q.length;
  }

  enqueue(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; off += SLICE) {
      const buf = chunk.subarray(off, Math.min(chunk.length, off + SLICE));
      this.#q.push({ buf, due: this.link.schedule(buf.length) });
      this.bytes += buf.length;
    }
    this.pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.pump();
  }

  pump(): void {
    if (this.#timer || this.#immediate) return;
    const now = performance.now();
    while (!this.#paused && !this.empty && this.#q[this.#head]!.due <= now) {
      const { buf } = this.#q[this.#head++]!;
      this.bytes -= buf.length;
      if (!this.deliver(buf)) this.#paused = true;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#q.length) {
      this.#q = this.#q.slice(this.#head);
      this.#head = 0;
    }
    if (!this.#paused && !this.empty) {
      const wait = Math.max(0, this.#q[this.#head]!.due - now);
      const again = (): void => {
        this.#timer = undefined;
        this.#immediate = undefined;
        this.pump();
      };
      // Node timers have ~1 ms resolution: sub-millisecond waits (the latency part) are polled with setImmediate
      // instead, which costs at most ~1 ms of event-loop turns per chunk; longer (bandwidth) waits use a timer.
      if (wait < 1) this.#immediate = setImmediate(again);
      else this.#timer = setTimeout(again, wait);
    }
    this.onProgress();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#q = [];
    this.#head = 0;
    this.bytes = 0;
  }
}

class ShapedStream extends Duplex {
  readonly #inner: Duplex;
  readonly #window: number;
  readonly #toDevice: DelayLine;
  readonly #fromDevice: DelayLine;
  #heldWriteCb: ((err?: Error | null) => void) | undefined;
  #finalCb: ((err?: Error | null) => void) | undefined;
  #innerEnded = false;
  #pushedEnd = false;

  constructor(inner: Duplex, link: DeviceLink) {
    super({ allowHalfOpen: true });
    this.#inner = inner;
    this.#window = link.params.windowBytes;
    this.#toDevice = new DelayLine(
      link,
      (b) => inner.write(b),
      () => this.#afterToDevice(),
    );
    this.#fromDevice = new DelayLine(
      link,
      (b) => this.push(b),
      () => this.#afterFromDevice(),
    );
    inner.on('drain', () => this.#toDevice.resume());
    // 'data' hands over each chunk as it arrived (read() without a size would concatenate buffered chunks)
    inner.on('data', (chunk: Buffer) => {
      this.#fromDevice.enqueue(chunk);
      if (this.#fromDevice.bytes >= this.#window) inner.pause();
    });
    inner.on('end', () => {
      this.#innerEnded = true;
      this.#afterFromDevice();
    });
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => {
      if (!this.#innerEnded && !this.destroyed) this.destroy();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#toDevice.enqueue(chunk);
    if (this.#toDevice.bytes < this.#window) cb();
    else this.#heldWriteCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#finalCb = cb;
    this.#afterToDevice();
  }

  #afterToDevice(): void {
    if (this.#heldWriteCb && this.#toDevice.bytes < this.#window) {
      const cb = this.#heldWriteCb;
      this.#heldWriteCb = undefined;
      cb();
    }
    if (this.#finalCb && this.#toDevice.empty) {
      const cb = this.#finalCb;
      this.#finalCb = undefined;
      this.#inner.end();
      cb();
    }
  }

  override _read(): void {
    this.#fromDevice.resume();
  }

  #afterFromDevice(): void {
    if (this.#fromDevice.bytes < this.#window && this.#inner.isPaused() && !this.destroyed) this.#inner.resume();
    if (this.#innerEnded && this.#fromDevice.empty && !this.#pushedEnd) {
      this.#pushedEnd = true;
      this.push(null);
    }
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#toDevice.stop();
    this.#fromDevice.stop();
    if (!this.#inner.destroyed) this.#inner.destroy(err ?? undefined);
    const held = this.#heldWriteCb;
    this.#heldWriteCb = undefined;
    held?.(err);
    cb(err);
  }
}
