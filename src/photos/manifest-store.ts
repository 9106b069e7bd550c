/**
 * The manifest's live entries in memory (manifest.ts), column by column: a 200k-item library is 200k entries, and
 * an object per entry with its SHA-256 and mtime as strings cost about 340 bytes each. Here an entry is a slot
 * number in one Map per device (remote path → slot) plus fixed-width columns: size (8 bytes), mtime in ns
 * (8 bytes, int64), SHA-256 (32 bytes), flags (1 byte), the local path (one string) — about 200 bytes with the key.
 *
 * Nothing is lost by the packing: a value that does not fit its column exactly (an mtime that is not a canonical
 * int64 decimal, a SHA-256 that is not 64 lowercase hex digits — a foreign or hand-edited line) is kept as the
 * string it was, beside the columns, and read back unchanged.
 */

/** One entry as stored (what {@link EntryStore.read} gives back). */
export interface StoredEntry {
  size: number;
  mtimeNs: string;
  sha256: string;
  local: string;
  captured: string | undefined;
  stale: boolean;
  dropped: boolean;
}

const STALE = 1;
const DROPPED = 2;
const INT64 = /^(0|-?[1-9][0-9]{0,18})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

/** Slots of entries, reused after a delete; see the module comment. */
export class EntryStore {
  #cap = 0;
  #used = 0;
  readonly #free: number[] = [];
  #size = new Float64Array(0);
  #mtime = new BigInt64Array(0);
  #sha = new Uint8Array(0);
  #flags = new Uint8Array(0);
  readonly #local: (string | undefined)[] = [];
  /** Rare values: capture dates (--split-by-date only), and mtime / SHA-256 strings that fit no column. */
  readonly #captured = new Map<number, string>();
  readonly #oddMtime = new Map<number, string>();
  readonly #oddSha = new Map<number, string>();

  #grow(): void {
    const cap = Math.max(1024, this.#cap * 2);
    const size = new Float64Array(cap);
    size.set(this.#size);
    const mtime = new BigInt64Array(cap);
    mtime.set(this.#mtime);
    const sha = new Uint8Array(cap * 32);
    sha.set(this.#sha);
    const flags = new Uint8Array(cap);
    flags.set(this.#flags);
    this.#size = size;
    this.#mtime = mtime;
    this.#sha = sha;
    this.#flags = flags;
    this.#cap = cap;
  }

  /** Stores `e` in a new slot; returns the slot. */
  add(e: StoredEntry): number {
    let i = this.#free.pop();
    if (i === undefined) {
      if (this.#used === this.#cap) this.#grow();
      i = this.#used++;
    }
    this.write(i, e);
    return i;
  }

  /** Overwrites slot `i` with `e`. */
  write(i: number, e: StoredEntry): void {
    this.#size[i] = e.size;
    this.#local[i] = e.local;
    this.#flags[i] = (e.stale ? STALE : 0) | (e.dropped ? DROPPED : 0);
    if (e.captured !== undefined) this.#captured.set(i, e.captured);
    else this.#captured.delete(i);
    let t: bigint | undefined;
    if (INT64.test(e.mtimeNs)) {
      t = BigInt(e.mtimeNs);
      if (t < MIN_I64 || t > MAX_I64) t = undefined;
    }
    if (t !== undefined) {
      this.#mtime[i] = t;
      this.#oddMtime.delete(i);
    } else this.#oddMtime.set(i, e.mtimeNs);
    if (HEX64.test(e.sha256)) {
      this.#sha.set(Buffer.from(e.sha256, 'hex'), i * 32);
      this.#oddSha.delete(i);
    } else this.#oddSha.set(i, e.sha256);
  }

  /** Frees slot `i` (its strings are dropped at once). */
  remove(i: number): void {
    this.#local[i] = undefined;
    this.#captured.delete(i);
    this.#oddMtime.delete(i);
    this.#oddSha.delete(i);
    this.#free.push(i);
  }

  /** Sets or clears a flag of slot `i`. */
  mark(i: number, what: 'stale' | 'dropped', on = true): void {
    const bit = what === 'stale' ? STALE : DROPPED;
    this.#flags[i] = on ? this.#flags[i]! | bit : this.#flags[i]! & ~bit;
  }

  size(i: number): number {
    return this.#size[i]!;
  }

  local(i: number): string {
    return this.#local[i]!;
  }

  dropped(i: number): boolean {
    return (this.#flags[i]! & DROPPED) !== 0;
  }

  mtimeNs(i: number): string {
    return this.#oddMtime.get(i) ?? this.#mtime[i]!.toString();
  }

  sha256(i: number): string {
    return this.#oddSha.get(i) ?? Buffer.from(this.#sha.buffer, this.#sha.byteOffset + i * 32, 32).toString('hex');
  }

  /** Slot `i` without its SHA-256. */
  info(i: number): Omit<StoredEntry, 'sha256'> {
    const f = this.#flags[i]!;
    return { size: this.#size[i]!, mtimeNs: this.mtimeNs(i), local: this.#local[i]!, captured: this.#captured.get(i), stale: (f & STALE) !== 0, dropped: (f & DROPPED) !== 0 };
  }

  /** Slot `i` as strings again. */
  read(i: number): StoredEntry {
    const f = this.#flags[i]!;
    return {
      size: this.#size[i]!, mtimeNs: this.mtimeNs(i), sha256: this.sha256(i), local: this.#local[i]!, captured: this.#captured.get(i),
      stale: (f & STALE) !== 0, dropped: (f & DROPPED) !== 0,
    };
  }
}
