import { Duplex } from 'node:stream';

/**
 * Two connected in-memory Duplex streams (Node 20 has no stream.duplexPair): what one side writes
 * the other reads. Each write is delivered as its own chunk (no copy). Used by the in-process virtual
 * iPhone and by tests; backpressure follows the reader's highWaterMark.
 */
export function duplexPair(opts?: { highWaterMark?: number }): [Duplex, Duplex] {
  const sides: PairSide[] = [];
  sides.push(new PairSide(() => sides[1]!, opts?.highWaterMark));
  sides.push(new PairSide(() => sides[0]!, opts?.highWaterMark));
  return [sides[0]!, sides[1]!];
}

class PairSide extends Duplex {
  #peer: () => PairSide;
  #pendingWrite: (() => void) | null = null;

  constructor(peer: () => PairSide, highWaterMark?: number) {
    super({ allowHalfOpen: true, ...(highWaterMark ? { readableHighWaterMark: highWaterMark } : {}) });
    this.#peer = peer;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.#peer();
    if (peer.destroyed) return cb(Object.assign(new Error('peer destroyed'), { code: 'EPIPE' }));
    if (peer.push(chunk)) cb();
    else peer.#pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#peer().push(null);
    cb();
  }

  override _read(): void {
    const cb = this.#pendingWrite;
    if (cb) {
      this.#pendingWrite = null;
      cb();
    }
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    const peer = this.#peer();
    if (!peer.destroyed) peer.destroy();
    const pending = this.#pendingWrite;
    this.#pendingWrite = null;
    pending?.();
    cb(err);
  }
}
