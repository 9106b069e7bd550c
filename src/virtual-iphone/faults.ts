/**
 * Fault injection for the virtual iPhone's connections: what a flaky cable or an unplugged phone does.
 *
 * - `drop`: after N bytes device→host the connection is destroyed (the host sees exactly N bytes, then a close).
 * - `stall`: after N bytes device→host nothing moves any more in either direction, the connection stays open
 *   (clients must time out / abort).
 * - `detach`: after N bytes device→host over *all* connections of the device, `onDetach` runs (the emulator
 *   then errors out every stream of the device and sends usbmux `Detached`).
 *
 * A fault is armed on a {@link DeviceFaults} (one per device). `drop`/`stall` apply to connections opened afterwards
 * (optionally only those to one port; by default the next one only, `persistent` for all); `detach` counts every
 * wrapped connection, including those already open when it was armed if the device wraps all (`wrapAll`). Wrapping is a pass-through Duplex: chunks are forwarded as they are (the threshold chunk is cut with
 * `subarray`), backpressure is the inner/outer stream's own.
 */
import { Duplex } from 'node:stream';
import { InvalidArgumentError } from '../core/errors.ts';

/** A fault to arm. */
export type FaultSpec =
  | { kind: 'drop'; afterBytes: number; port?: number; persistent?: boolean }
  | { kind: 'stall'; afterBytes: number; port?: number; persistent?: boolean }
  | { kind: 'detach'; afterBytes: number };

type ConnFault = Extract<FaultSpec, { kind: 'drop' | 'stall' }>;

/** The fault state of one device. */
export class DeviceFaults {
  #conn: ConnFault[] = [];
  #detachAt: number | undefined;
  #deviceBytes = 0;
  #onDetach: () => void;
  readonly #wrapAll: boolean;

  /**
   * `onDetach` is called once when an armed detach fault fires. With `wrapAll`, every connection is wrapped (a
   * pass-through when no fault applies), so a detach armed later also counts the bytes of connections already open.
   */
  constructor(onDetach: () => void, opts: { wrapAll?: boolean } = {}) {
    this.#onDetach = onDetach;
    this.#wrapAll = opts.wrapAll ?? false;
  }

  /** Arms a fault. @throws InvalidArgumentError (ERR_INVALID_ARG) when afterBytes is not a non-negative integer. */
  arm(spec: FaultSpec): void {
    if (!Number.isSafeInteger(spec.afterBytes) || spec.afterBytes < 0) throw new InvalidArgumentError('afterBytes must be a non-negative integer');
    if (spec.kind === 'detach') this.#detachAt = this.#deviceBytes + spec.afterBytes;
    else this.#conn.push(spec);
  }

  /** Disarms everything. */
  clear(): void {
    this.#conn = [];
    this.#detachAt = undefined;
  }

  /** True when wrapping is needed for a connection to `port` (so fault-free connections stay unwrapped). */
  wants(port: number): boolean {
    return this.#wrapAll || this.#detachAt !== undefined || this.#conn.some((f) => f.port === undefined || f.port === port);
  }

  /** Wraps a device-side stream (see module doc). Returns `inner` itself when no fault applies. */
  wrap(inner: Duplex, port: number): Duplex {
    if (!this.wants(port)) return inner;
    const idx = this.#conn.findIndex((f) => f.port === undefined || f.port === port);
    let fault: ConnFault | undefined;
    if (idx >= 0) {
      fault = this.#conn[idx]!;
      if (!fault.persistent) this.#conn.splice(idx, 1);
    }
    return new FaultStream(inner, fault, this);
  }

  /** Counts device→host bytes; returns how many of `n` may still pass before a detach fires (n when none). */
  budget(n: number): number {
    if (this.#detachAt === undefined) return n;
    return Math.max(0, Math.min(n, this.#detachAt - this.#deviceBytes));
  }

  /** Records bytes sent; fires the detach when the threshold is reached. */
  sent(n: number): void {
    this.#deviceBytes += n;
    if (this.#detachAt !== undefined && this.#deviceBytes >= this.#detachAt) {
      this.#detachAt = undefined;
      this.#onDetach();
    }
  }
}

class FaultStream extends Duplex {
  readonly #inner: Duplex;
  readonly #fault: ConnFault | undefined;
  readonly #device: DeviceFaults;
  #sent = 0;
  #stalled = false;
  #innerEnded = false;

  constructor(inner: Duplex, fault: ConnFault | undefined, device: DeviceFaults) {
    super({ allowHalfOpen: true });
    this.#inner = inner;
    this.#fault = fault;
    this.#device = device;
    inner.on('data', (chunk: Buffer) => this.#fromDevice(chunk));
    inner.on('end', () => {
      this.#innerEnded = true;
      if (!this.#stalled) this.push(null);
    });
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => {
      if (!this.#innerEnded && !this.destroyed) this.destroy();
    });
    if (fault && fault.afterBytes === 0) queueMicrotask(() => this.#trip());
  }

  #fromDevice(chunk: Buffer): void {
    if (this.#stalled || this.destroyed) return;
    let allowed = this.#device.budget(chunk.length);
    if (this.#fault) allowed = Math.min(allowed, this.#fault.afterBytes - this.#sent);
    const part = allowed < chunk.length ? chunk.subarray(0, allowed) : chunk;
    if (part.length > 0) {
      this.#sent += part.length;
      if (!this.push(part)) this.#inner.pause();
      this.#device.sent(part.length);
    }
    if (this.destroyed) return;
    if (this.#fault && this.#sent >= this.#fault.afterBytes) this.#trip();
  }

  #trip(): void {
    if (!this.#fault || this.destroyed) return;
    if (this.#fault.kind === 'drop') {
      this.destroy();
    } else {
      this.#stalled = true;
      this.#inner.pause();
    }
  }

  override _read(): void {
    if (!this.#stalled && this.#inner.isPaused()) this.#inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#stalled) return; // never acknowledged: the writer stalls too
    if (this.#inner.write(chunk)) cb();
    else this.#inner.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#stalled) return;
    this.#inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (!this.#inner.destroyed) this.#inner.destroy(err ?? undefined);
    cb(err);
  }
}
