/**
 * The manifest's live entries in memory (manifest.ts), column by column: a 200k-item library is 200k entries, and
 * an object per entry with its SHA-256 and mtime as strings cost about 340 bytes each. Here an entry is a slot
 * number in one Map per device (remote path → slot) plus fixed-width columns: size (8 bytes), mtime in ns
 * (8 bytes, int64), SHA-256 (32 bytes), flags (1 byte), and the local path as its folder (an index into the folders
 * seen, 4 bytes) plus its name, kept only when it is not the device file's name (a name clash suffix, an iCloud
 * original's real name) — about 150 bytes with the key.
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

/** The last component of a device path. */
const nameOf = (remote: string): string => remote.slice(remote.lastIndexOf('/') + 1);

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
  #dir = new Int32Array(0);
  /** Folder part of local paths ('' for a path starting with '/'); index -1: a local path without a folder. */
  readonly #dirs: string[] = [];
  readonly #dirIndex = new Map<string, number>();
  /** The local file name, when it is not the device file's (undefined: the same name as the key's last component). */
  readonly #base: (string | undefined)[] = [];
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
    const dir = new Int32Array(cap);
    dir.set(this.#dir);
    this.#dir = dir;
    this.#size = size;
    this.#mtime = mtime;
    this.#sha = sha;
    this.#flags = flags;
    this.#cap = cap;
  }

  /** Stores `e` (the entry of device file `remote`) in a new slot; returns the slot. */
  add(e: StoredEntry, remote: string): number {
    let i = this.#free.pop();
    if (i === undefined) {
      if (this.#used === this.#cap) this.#grow();
      i = this.#used++;
    }
    this.write(i, e, remote);
    return i;
  }

  /** Overwrites slot `i` with `e`, the entry of device file `remote`. */
  write(i: number, e: StoredEntry, remote: string): void {
    this.#size[i] = e.size;
    const cut = e.local.lastIndexOf('/');
    if (cut < 0) this.#dir[i] = -1;
    else {
      const d = e.local.slice(0, cut);
      let k = this.#dirIndex.get(d);
      if (k === undefined) {
        k = this.#dirs.push(d) - 1;
        this.#dirIndex.set(d, k);
      }
      this.#dir[i] = k;
    }
    const base = e.local.slice(cut + 1);
    this.#base[i] = base === nameOf(remote) ? undefined : base;
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
    this.#base[i] = undefined;
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

  /** The local path of slot `i`, the entry of device file `remote`. */
  local(i: number, remote: string): string {
    const base = this.#base[i] ?? nameOf(remote);
    const d = this.#dir[i]!;
    return d < 0 ? base : `${this.#dirs[d]!}/${base}`;
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

  /** Slot `i` (of device file `remote`) without its SHA-256. */
  info(i: number, remote: string): Omit<StoredEntry, 'sha256'> {
    const f = this.#flags[i]!;
    return { size: this.#size[i]!, mtimeNs: this.mtimeNs(i), local: this.local(i, remote), captured: this.#captured.get(i), stale: (f & STALE) !== 0, dropped: (f & DROPPED) !== 0 };
  }

  /** Slot `i` (of device file `remote`) as strings again. */
  read(i: number, remote: string): StoredEntry {
    const f = this.#flags[i]!;
    return {
      size: this.#size[i]!, mtimeNs: this.mtimeNs(i), sha256: this.sha256(i), local: this.local(i, remote), captured: this.#captured.get(i),
      stale: (f & STALE) !== 0, dropped: (f & DROPPED) !== 0,
    };
  }
}
