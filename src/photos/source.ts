/**
 * What the photo engine needs from a device: a few AFC calls. `AfcClient` (src/afc/client.ts)
 * satisfies {@link PhotoAfc} structurally, so the engine never imports the AFC layer and tests can
 * inject any folder-backed implementation.
 */
import type { Readable } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';

/** The subset of AfcFileInfo the engine reads. Times are wall-clock; `mtimeNs` is exact when present. */
export interface PhotoFileInfo {
  /** Bytes. */
  size: number;
  /** 'file' | 'dir' | 'symlink' | other device types. */
  type: string;
  mtime: Date;
  birthtime: Date;
  /** Modification time in nanoseconds since the epoch, when the device sent it. */
  mtimeNs?: bigint;
  linkTarget?: string;
}

/** One AFC connection, as the engine uses it. Errors are IDeviceErrors (AfcError carries `status`). */
export interface PhotoAfc {
  stat(path: string, o?: CallOpts): Promise<PhotoFileInfo>;
  readdir(path: string, o?: CallOpts): Promise<string[]>;
  /** `size` (from stat) lets the reader pipeline its final EOF read. */
  createReadStream(path: string, opts?: { size?: number }): Readable;
  remove(path: string, o?: CallOpts): Promise<void>;
  close(): void;
}

/** A device the engine may open several AFC connections to. */
export interface PhotoDevice {
  /** Manifest key: the device's UDID. */
  udid: string;
  /** Opens a fresh AFC connection (called once per connection slot and again after a drop). */
  openAfc(o?: CallOpts): Promise<PhotoAfc>;
}

/** AFC wire status values the engine distinguishes (src/afc keeps the full table). */
export const AfcStatusOf = {
  ObjectNotFound: 8,
  PermDenied: 10,
} as const;

/** The AFC status carried by an error, if any (AfcError.status). */
export function afcStatus(e: unknown): number | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number') {
    return (e as { status: number }).status;
  }
  return undefined;
}

/** The stable error code of an IDeviceError (or Node errno code), if any. */
export function errCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

/** True when the error means the connection itself is gone or unusable (not a per-file problem). */
export function isConnectionError(e: unknown): boolean {
  const c = errCode(e);
  return c === 'ERR_CLOSED' || c === 'ERR_TIMEOUT' || c === 'ERR_PROTOCOL' || c === 'ERR_PROTOCOL_TOO_LARGE' ||
    c === 'ECONNRESET' || c === 'EPIPE' || c === 'ERR_STREAM_PREMATURE_CLOSE';
}
