/**
 * The delete-time re-check (--delete-after-import): before a device file is removed, it is looked at again on
 * the device and compared with its verified copy (the manifest entry). The file list of the walk is minutes
 * old by then; a photo edited on the phone in between must not be removed, since its new version exists nowhere.
 *
 * What is checked (policy {@link DeleteCheck}):
 * - always: stat — the file must still be a regular file with the recorded size and mtime (ns);
 * - 'hash' (the default): also the device bytes are read again and their SHA-256 must equal the recorded one,
 *   then the file is stat'ed once more (it must not have changed while it was read). A stat alone cannot be
 *   trusted: AFC lets any client rewrite a file and set its mtime back (AFC_OP_SET_FILE_TIME), so an edit can
 *   keep both size and mtime; only the bytes prove the device holds what was copied.
 * - 'stat': the stat is trusted where it can be, and the bytes are hashed where it cannot. It cannot be trusted
 *   when the device reports the mtime with whole-second resolution (or not in ns at all: an edit within the
 *   same second keeps it), and it is not worth trusting when the file is small (≤ {@link CHEAP_HASH_BYTES}: the
 *   re-read costs about as much as the round trips). Faster for large videos, at the risk stated above.
 *
 * Left open by AFC itself: there is no compare-and-remove, so an edit in the one round trip between the last
 * check and the remove is not seen.
 */
import { createHash } from 'node:crypto';
import { onAbort } from '../core/abort.ts';
import { AbortError, errorCode } from '../core/errors.ts';
import type { KeptOnDevice } from './events.ts';
import type { ManifestEntry } from './manifest.ts';
import type { PhotoAfc, PhotoFileInfo } from './source.ts';
import { connectionBytesOf, DEFAULT_WATCH, watched, type WatchOptions } from './watch.ts';

/** How the device file is re-checked before removal: see the module comment. */
export type DeleteCheck = 'hash' | 'stat';

/** Files up to this size are always hashed (the re-read is cheap), bytes. */
export const CHEAP_HASH_BYTES = 1 << 20;

/** True when a matching stat alone is good enough under the 'stat' policy. */
export function statTrusted(info: PhotoFileInfo): boolean {
  if (info.size <= CHEAP_HASH_BYTES) return false;
  return info.mtimeNs !== undefined && info.mtimeNs % 1_000_000_000n !== 0n;
}

function mtimeNsOf(info: PhotoFileInfo): string {
  return (info.mtimeNs ?? BigInt(info.mtime.getTime()) * 1_000_000n).toString();
}

/** Why the stat differs from the entry, or undefined when it matches. */
function statDiffers(info: PhotoFileInfo, e: ManifestEntry): string | undefined {
  if (info.type !== 'file') return `now a ${info.type}`;
  if (info.size !== e.size) return `size ${e.size} → ${info.size} bytes`;
  const ns = mtimeNsOf(info);
  if (ns !== e.mtimeNs) return `modified since the copy (mtime ${e.mtimeNs} → ${ns} ns)`;
  return undefined;
}

/** Options of {@link recheckDeviceFile}. */
export interface RecheckOptions {
  mode: DeleteCheck;
  signal?: AbortSignal;
  /** Each request, and the read when no byte arrives for this long, fails with ERR_TIMEOUT, ms. */
  idleMs: number;
  /** Bytes re-read (for progress). */
  onBytes?: (n: number) => void;
  /** Progress-based timeouts of the re-read (watch.ts); default DEFAULT_WATCH with `idleMs`. */
  watch?: WatchOptions;
}

/**
 * Compares the device file of `e` with the entry. Resolves undefined when the device still holds exactly the
 * copied file (it may be removed), else the reason it must stay.
 * @throws connection errors (ERR_CLOSED, ERR_TIMEOUT…), ERR_ABORTED, AFC errors other than "not found"
 */
export async function recheckDeviceFile(conn: PhotoAfc, e: ManifestEntry, o: RecheckOptions): Promise<KeptOnDevice | undefined> {
  const co = { signal: o.signal, timeoutMs: o.idleMs };
  const kept = (reason: KeptOnDevice['reason'], detail: string): KeptOnDevice => ({ remote: e.remote, reason, detail });
  const look = async (): Promise<PhotoFileInfo | undefined> => {
    try {
      return await conn.stat(e.remote, co);
    } catch (err) {
      if (errorCode(err) === 'ERR_AFC_OBJECT_NOT_FOUND') return undefined;
      throw err;
    }
  };
  const first = await look();
  if (!first) return kept('vanished', 'no longer on the device');
  const why = statDiffers(first, e);
  if (why) return kept('changed-on-device', why);
  if (o.mode === 'stat' && statTrusted(first)) return undefined;

  const sha = await hashDeviceFile(conn, e.remote, e.size, o);
  if (sha === undefined) return kept('changed-on-device', 'its size changed while it was re-read');
  if (sha !== e.sha256) return kept('content-changed', 'same size and mtime, but its bytes differ from the copy (edited on the device)');
  const again = await look();
  if (!again) return kept('vanished', 'no longer on the device');
  const why2 = statDiffers(again, e);
  if (why2) return kept('changed-on-device', `${why2}, while it was re-read`);
  return undefined;
}

/**
 * SHA-256 (hex) of a device file read in full; undefined when it does not hold exactly `size` bytes.
 * @throws connection/AFC errors; ERR_TIMEOUT when no byte arrives for `o.idleMs` or the device trickles; ERR_ABORTED
 */
export async function hashDeviceFile(conn: PhotoAfc, remote: string, size: number, o: Omit<RecheckOptions, 'mode'>): Promise<string | undefined> {
  if (o.signal?.aborted) throw new AbortError(`re-reading ${remote}`, o.signal.reason);
  const rs = conn.createReadStream(remote, { size });
  rs.on('error', () => undefined); // errors reach us through the iterator; a late one must not be unhandled
  const sig = o.signal;
  const unsubscribe = sig ? onAbort(sig, () => void rs.destroy(new AbortError(`re-reading ${remote}`, sig.reason))) : undefined;
  try {
    const h = createHash('sha256');
    let n = 0;
    for await (const chunk of watched(rs, `re-reading ${remote}`, o.watch ?? { ...DEFAULT_WATCH, idleMs: o.idleMs }, connectionBytesOf(conn))) {
      n += chunk.length;
      if (n > size) return undefined;
      h.update(chunk);
      o.onBytes?.(chunk.length);
    }
    return n === size ? h.digest('hex') : undefined;
  } finally {
    unsubscribe?.();
    if (!rs.destroyed) rs.destroy();
  }
}
