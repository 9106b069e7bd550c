/**
 * Socket chunks in arrival order. Payload bytes are handed out as views of the original chunks
 * (never concatenated); only small headers that span chunks are copied, and those copies are counted
 * in {@link ChunkQueue.bytesCopied}. Chunks are never compacted or reused, so views stay valid (a producer that
 * reuses its memory calls {@link ChunkQueue.own} first).
 */
export class ChunkQueue {
  #chunks: Buffer[] = [];
  #head = 0; // index of the first live chunk in #chunks
  #offset = 0; // bytes already consumed from #chunks[#head]
  #length = 0;
  /** Bytes copied by take() when a request spanned chunks (debug/benchmark counter). */
  bytesCopied = 0;

  /** Bytes buffered. */
  get length(): number {
    return this.#length;
  }

  /** Number of chunks currently held (for caps on buffered chunk count). */
  get chunkCount(): number {
    return this.#chunks.length - this.#head;
  }

  /** Appends a chunk as is. Empty chunks are ignored. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Up to `max` bytes from the front chunk, as a view (zero-copy). Empty buffer when the queue is empty. */
  takeSome(max: number): Buffer {
    if (this.#length === 0 || max <= 0) return Buffer.alloc(0);
    const chunk = this.#chunks[this.#head]!;
    const avail = chunk.length - this.#offset;
    const n = Math.min(avail, max);
    const view = chunk.subarray(this.#offset, this.#offset + n);
    this.#consume(n, avail);
    return view;
  }

  /**
   * Exactly `n` bytes (the caller checked `length >= n`). A view when they lie in one chunk,
   * otherwise a copy (counted in bytesCopied). Use for headers, not for bulk payloads.
   */
  take(n: number): Buffer {
    if (n > this.#length) throw new RangeError(`ChunkQueue.take(${n}) with ${this.#length} buffered`);
    if (n === 0) return Buffer.alloc(0);
    const chunk = this.#chunks[this.#head]!;
    const avail = chunk.length - this.#offset;
    if (avail >= n) {
      const view = chunk.subarray(this.#offset, this.#offset + n);
      this.#consume(n, avail);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.takeSome(n - filled);
      piece.copy(out, filled);
      filled += piece.length;
    }
    this.bytesCopied += n;
    return out;
  }

  /** Copies `n` bytes starting `at` bytes from the front into a new buffer without consuming (n small). */
  peek(n: number, at = 0): Buffer {
    if (at + n > this.#length) throw new RangeError(`ChunkQueue.peek(${n}, ${at}) with ${this.#length} buffered`);
    const out = Buffer.allocUnsafe(n);
    let skip = at;
    let filled = 0;
    let offset = this.#offset;
    for (let i = this.#head; filled < n; i++) {
      const chunk = this.#chunks[i]!;
      let start = offset;
      offset = 0;
      const len = chunk.length - start;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      start += skip;
      skip = 0;
      const k = Math.min(chunk.length - start, n - filled);
      chunk.copy(out, filled, start, start + k);
      filled += k;
    }
    return out;
  }

  /** Reads a u32 LE at `at` bytes from the front without consuming. */
  peekUInt32LE(at = 0): number {
    return this.#peekSmall(4, at).readUInt32LE(0);
  }

  /** Reads a u32 BE at `at` bytes from the front without consuming. */
  peekUInt32BE(at = 0): number {
    return this.#peekSmall(4, at).readUInt32BE(0);
  }

  /** Drops `n` bytes from the front. */
  skip(n: number): void {
    while (n > 0) n -= this.takeSome(n).length;
  }

  /**
   * Replaces what is buffered by one copy of it (counted in bytesCopied), for a producer that is about to reuse the
   * memory of the chunks it pushed (socket reads into a recycled buffer, core/read-recycler.ts).
   */
  own(): void {
    if (this.#length === 0) return;
    const n = this.#length;
    const copy = Buffer.allocUnsafe(n);
    let filled = 0;
    while (this.#length > 0) {
      const piece = this.takeSome(this.#length);
      piece.copy(copy, filled);
      filled += piece.length;
    }
    this.bytesCopied += n;
    this.push(copy);
  }

  /** Removes and returns every buffered chunk (views), e.g. to hand leftovers to the next layer. */
  drain(): Buffer[] {
    const out: Buffer[] = [];
    while (this.#length > 0) out.push(this.takeSome(this.#length));
    return out;
  }

  #peekSmall(n: number, at: number): Buffer {
    const chunk = this.#chunks[this.#head];
    if (chunk && chunk.length - this.#offset >= at + n) return chunk.subarray(this.#offset + at, this.#offset + at + n);
    return this.peek(n, at);
  }

  #consume(n: number, avail: number): void {
    this.#length -= n;
    if (n === avail) {
      this.#chunks[this.#head] = undefined as unknown as Buffer;
      this.#head++;
      this.#offset = 0;
      if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    } else {
      this.#offset += n;
    }
  }
}
