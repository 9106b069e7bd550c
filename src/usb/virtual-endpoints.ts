/**
 * An in-process pair of bulk endpoint pairs ("a cable") for fast tests and benchmarks: `host` is what node `usb` gives the
 * host end, `device` what FunctionFS gives the device end. It models what matters to the mux:
 * - a transfer completes on a short packet, on a ZLP, or when the receiver's transfer buffer is full
 *   (host IN: 16384 bytes; device OUT reads: 65536), so a missing ZLP merges packets as on real hardware;
 * - optional pacing at a fixed rate (USB 2.0 high-speed bulk ≈ 53 MB/s per direction in theory), FIFO per direction;
 * - `unplug()`: every pending and later write rejects with ERR_USB_DETACHED and both ends get onClose(err).
 */
import { DetachedError } from './errors.ts';
import type { BulkTransport } from './transport.ts';

/** Highest high-speed bulk rate: 13 packets of 512 bytes per 125 µs microframe, bytes/s. */
export const USB2_BULK_BYTES_PER_SEC = 13 * 512 * 8000;

export interface VirtualUsbOptions {
  /** wMaxPacketSize of both bulk endpoints (default 512). */
  maxPacketSize?: number;
  /** Host IN transfer size (default 16384, usbmuxd's). */
  hostInTransferSize?: number;
  /** Device OUT read size (default 65536). */
  deviceReadSize?: number;
  /** Pace each direction at this many bytes/s (e.g. USB2_BULK_BYTES_PER_SEC); default unpaced. */
  bytesPerSecond?: number;
}

export interface VirtualUsbPair {
  host: BulkTransport;
  device: BulkTransport;
  /** Simulates pulling the cable. */
  unplug(): void;
  /** Bytes written by each side so far (for benchmarks). */
  readonly bytes: { hostToDevice: number; deviceToHost: number };
}

class Direction {
  /** Data of the transfer currently being filled on the receiving side. */
  #parts: Buffer[] = [];
  #filled = 0;
  #busyUntil = 0;
  #chain: Promise<void> = Promise.resolve();
  receiver: ((b: Buffer) => void) | undefined;
  bytes = 0;

  constructor(
    readonly mps: number,
    readonly recvSize: number,
    readonly rate: number | undefined,
    readonly isDetached: () => Error | undefined,
  ) {}

  write(buf: Buffer): Promise<void> {
    const err = this.isDetached();
    if (err) return Promise.reject(err);
    this.bytes += buf.length;
    const delay = this.#pace(buf.length);
    const run = async (): Promise<void> => {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      else await new Promise((r) => setImmediate(r));
      const e = this.isDetached();
      if (e) throw e;
      this.#deliver(buf);
    };
    const p = this.#chain.then(run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  #pace(n: number): number {
    if (!this.rate) return 0;
    const now = performance.now();
    this.#busyUntil = Math.max(now, this.#busyUntil) + ((n + 64) / this.rate) * 1000;
    // sleep only once the link is ≥ 4 ms behind: the average rate is kept by #busyUntil, and timers
    // (≥ 1 ms granularity) per 48 KiB transfer would otherwise cap the rate below the configured one
    const d = this.#busyUntil - now;
    return d >= 4 ? d : 0;
  }

  #deliver(buf: Buffer): void {
    // split into max-packet USB packets as the wire would, completing the receiver's transfer when appropriate
    let off = 0;
    if (buf.length === 0) return this.#complete(); // ZLP ends the transfer
    while (off < buf.length) {
      const room = this.recvSize - this.#filled;
      const n = Math.min(room, buf.length - off);
      this.#parts.push(buf.subarray(off, off + n));
      this.#filled += n;
      off += n;
      if (this.#filled === this.recvSize) this.#complete();
    }
    if (buf.length % this.mps !== 0) this.#complete(); // short packet ends the transfer
  }

  #complete(): void {
    // a fresh buffer per completion, like a USB transfer (a single part is the sender's own fresh transfer buffer,
    // never reused by the mux, so it is handed over without a copy)
    const data = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#filled);
    this.#parts = [];
    this.#filled = 0;
    this.receiver?.(data);
  }
}

/** Creates a connected virtual host/device endpoint pair. */
export function createVirtualUsbPair(opts: VirtualUsbOptions = {}): VirtualUsbPair {
  const mps = opts.maxPacketSize ?? 512;
  let detached: Error | undefined;
  const isDetached = (): Error | undefined => detached;
  const h2d = new Direction(mps, opts.deviceReadSize ?? 65536, opts.bytesPerSecond, isDetached);
  const d2h = new Direction(mps, opts.hostInTransferSize ?? 16384, opts.bytesPerSecond, isDetached);
  const closeCbs: { host: ((e?: Error) => void)[]; device: ((e?: Error) => void)[] } = { host: [], device: [] };
  let closed = false;
  const end = (err: Error | undefined): void => {
    if (closed) return;
    closed = true;
    detached = err ?? new DetachedError('virtual usb');
    for (const cb of [...closeCbs.host, ...closeCbs.device]) cb(err);
  };
  const side = (out: Direction, inn: Direction, which: 'host' | 'device', inSize?: number): BulkTransport => ({
    maxPacketSize: mps,
    inTransferSize: inSize,
    write: (buf) => out.write(buf),
    onData: (cb) => {
      inn.receiver = cb;
    },
    onClose: (cb) => {
      closeCbs[which].push(cb);
    },
    close: async () => end(undefined),
  });
  return {
    host: side(h2d, d2h, 'host', opts.hostInTransferSize ?? 16384),
    device: side(d2h, h2d, 'device'),
    unplug: () => end(new DetachedError('virtual usb')),
    bytes: {
      get hostToDevice() {
        return h2d.bytes;
      },
      get deviceToHost() {
        return d2h.bytes;
      },
    },
  };
}
