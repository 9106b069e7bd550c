/**
 * What the photo engine needs from a device: a few AFC calls. `AfcClient` (src/afc/client.ts)
 * satisfies {@link PhotoAfc} structurally, so the engine never imports the AFC layer and tests can
 * inject any folder-backed implementation. Errors are compared by their stable codes (core/errors.ts
 * `errorCode`, `isConnectionLost`; AFC statuses as `ERR_AFC_<NAME>`).
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
  /** Without '.' and '..'. With `maxEntries`, a longer listing fails with ERR_AFC_TOO_MANY_ENTRIES (checked while parsing). */
  readdir(path: string, o?: CallOpts & { maxEntries?: number }): Promise<string[]>;
  /**
   * `size` (from stat, or the bytes wanted from `start`) lets the reader pipeline its final EOF read; `start` is a
   * byte offset (seek after open); `chunkSize` the READ size (≥ 1024; small for header reads). With `sink` (AfcClient
   * has it) the bytes go to the sink, in order, each chunk valid only during the call, and no 'data' is emitted; an
   * implementation without sink mode ignores it and emits 'data' (callers handle both).
   */
  createReadStream(path: string, opts?: { size?: number; start?: number; chunkSize?: number; sink?: (chunk: Buffer) => void }): Readable;
  remove(path: string, o?: CallOpts): Promise<void>;
  close(): void;
  /**
   * The connection underneath (AfcClient has it): `pendingCount`, requests pending (lets the copy window grow while the
   * device is starved); `bytesReceived`, bytes the device sent on it so far (the transfer watch's progress, watch.ts).
   */
  readonly connection?: { readonly pendingCount?: number; readonly bytesReceived?: number };
}

/** A device the engine may open several AFC connections to. */
export interface PhotoDevice {
  /** Manifest key: the device's UDID. */
  udid: string;
  /** The device's name (lockdown DeviceName, "Anna's iPhone"): names its folder in DEST (device-folder.ts). */
  name?: string;
  /** Opens a fresh AFC connection (called once per connection slot and again after a drop). */
  openAfc(o?: CallOpts): Promise<PhotoAfc>;
}
