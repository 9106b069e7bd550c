/**
 * Bounded concurrency for the engine's stages: {@link Limiter} (a counting semaphore with an O(1) FIFO of
 * waiters) and {@link runPool} (a fixed number of workers pulling from an iterator, so work that is not
 * started yet costs no promise, closure or queue slot: memory stays O(workers), not O(items)).
 */
import { Fifo } from '../core/fifo.ts';

/** A counting semaphore: at most `n` tasks of `run()` in flight (FIFO; O(1) per task). */
export class Limiter {
  #active = 0;
  readonly #waiters = new Fifo<() => void>();
  constructor(readonly n: number) {}

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.n) await new Promise<void>((r) => this.#waiters.push(r));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiters.shift();
      if (next) next(); // hand the slot over without releasing it
      else this.#active--;
    }
  }
}

/**
 * Runs `work(item)` for every item of `items` with at most `workers` at once, pulling the next item only
 * when a worker is free. Resolves when all are done; the first rejection of `work` rejects (after the
 * running ones settle, no new item is started).
 */
export async function runPool<T>(items: Iterable<T>, workers: number, work: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const r = it.next();
      if (r.done) return;
      try {
        await work(r.value);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  if (failed) throw failed.e;
}
