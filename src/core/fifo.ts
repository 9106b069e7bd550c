/**
 * A first-in first-out queue with O(1) push and shift (a growable ring buffer), for work queues that may
 * hold many items: `Array.prototype.shift` moves every remaining element, so draining n items from an array
 * costs O(n²).
 */
export class Fifo<T> {
  #buf: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #length = 0;

  /** Items queued. */
  get length(): number {
    return this.#length;
  }

  /** Appends an item (amortised O(1)). */
  push(item: T): void {
    if (this.#length === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#length) & (this.#buf.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the oldest item, or undefined when empty (O(1)). */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined; // no reference kept to a taken item
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#length--;
    return item;
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#buf[this.#head];
  }

  /** Removes every item. */
  clear(): void {
    this.#buf = new Array<T | undefined>(16);
    this.#head = 0;
    this.#length = 0;
  }

  /** Takes every item, oldest first, leaving the queue empty. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#length > 0) out.push(this.shift() as T);
    return out;
  }

  #grow(): void {
    const old = this.#buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
