/** A counting semaphore: at most `n` tasks of `run()` in flight (FIFO). */
export class Limiter {
  #active = 0;
  #waiters: (() => void)[] = [];
  constructor(readonly n: number) {}

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
