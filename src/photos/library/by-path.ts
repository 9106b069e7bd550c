/**
 * The library's assets by device path, without a map entry per asset: the asset positions sorted by path
 * (one Int32Array) and searched by bisection. A library has 100k+ assets; a Map of them costs ~60 bytes an
 * entry plus the tables it outgrows on the way, all of it promoted to the old generation.
 */
import type { LibraryAsset } from './read-db.ts';

/**
 * Compares `remote` from position 1 (the device path without its leading '/') with `path`, as `<` orders
 * strings (UTF-16 code units), without building the substring.
 */
function compareRemote(remote: string, path: string): number {
  const n = Math.min(remote.length - 1, path.length);
  for (let i = 0; i < n; i++) {
    const d = remote.charCodeAt(i + 1) - path.charCodeAt(i);
    if (d !== 0) return d;
  }
  return remote.length - 1 - path.length;
}

/** Assets looked up by their device path ('/DCIM/100APPLE/IMG_0001.HEIC' finds the asset of 'DCIM/100APPLE/IMG_0001.HEIC'). */
export class AssetsByPath {
  readonly #assets: readonly LibraryAsset[];
  /** Positions in #assets, by path (equal paths in asset order). */
  readonly #sorted: Int32Array;

  constructor(assets: readonly LibraryAsset[]) {
    this.#assets = assets;
    const order = new Int32Array(assets.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((x, y) => {
      const a = assets[x]!.path;
      const b = assets[y]!.path;
      return a < b ? -1 : a > b ? 1 : x - y;
    });
    this.#sorted = order;
  }

  /** Number of assets. */
  get size(): number {
    return this.#sorted.length;
  }

  /**
   * Position in the asset list of the asset at device path `remote` (with its leading '/'), or -1. When the
   * database lists one path twice, the later row wins (as a map filled in row order would have it).
   */
  positionOf(remote: string): number {
    const s = this.#sorted;
    let lo = 0;
    let hi = s.length; // first position whose path is greater than remote
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRemote(remote, this.#assets[s[mid]!]!.path) >= 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return -1;
    const i = s[lo - 1]!;
    return compareRemote(remote, this.#assets[i]!.path) === 0 ? i : -1;
  }

  /** The asset at device path `remote`, or undefined. */
  get(remote: string): LibraryAsset | undefined {
    const i = this.positionOf(remote);
    return i < 0 ? undefined : this.#assets[i];
  }
}
