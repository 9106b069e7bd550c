import type { ErrorCode } from '../core/codes.ts';
import { fixErrorName, IDeviceError } from '../core/errors.ts';

/** The codes of {@link PhotosError}. */
export type PhotosErrorCode = Extract<ErrorCode, `ERR_PHOTOS_${string}`>;

/**
 * Photo-backup errors. Codes:
 * - ERR_PHOTOS_UNSAFE_PATH: a device name or a destination path would leave DEST or pass a symlink.
 * - ERR_PHOTOS_VERIFY: the bytes received do not match the size the device reported.
 * - ERR_PHOTOS_MANIFEST: the manifest cannot be read or written.
 * - ERR_PHOTOS_BUSY: another backup holds the lock on DEST.
 * - ERR_PHOTOS_DISCONNECTED: the device went away and could not be reconnected.
 * - ERR_PHOTOS_LIMIT: a resource cap of the run was reached ({@link PhotosLimitError}).
 * - ERR_PHOTOS_CONVERT: --convert-heic could not make a JPEG of a HEIC (the HEIC itself is kept).
 * - ERR_PHOTOS_REPAIR: a damaged copy could not be restored (the device file is no longer the recorded version,
 *   it came from another device, or the name now holds another file); nothing was changed.
 * - ERR_PHOTOS_DEST_READONLY, ERR_PHOTOS_DEST_NOT_DIR, ERR_PHOTOS_DEST_DENIED, ERR_PHOTOS_DEST_FULL: DEST is
 *   unusable ({@link DestError}).
 */
export class PhotosError extends IDeviceError {
  static {
    fixErrorName(this, 'PhotosError');
  }
  declare readonly code: PhotosErrorCode;
  constructor(code: PhotosErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** A path from the device (or a destination) that is refused. Code ERR_PHOTOS_UNSAFE_PATH. */
export class UnsafePathError extends PhotosError {
  static {
    fixErrorName(this, 'UnsafePathError');
  }
  constructor(readonly path: string, readonly reason: string) {
    super('ERR_PHOTOS_UNSAFE_PATH', `unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}

/**
 * A resource cap of the run was reached (limits.ts): `limit` names the cap (maxEntries, maxFolderEntries,
 * maxFolders, maxManifestEntries), `cap` is its value. Code ERR_PHOTOS_LIMIT.
 */
export class PhotosLimitError extends PhotosError {
  static {
    fixErrorName(this, 'PhotosLimitError');
  }
  constructor(readonly limit: string, readonly cap: number, message: string) {
    super('ERR_PHOTOS_LIMIT', message);
  }
}

/** The codes of {@link DestError}. */
export type DestErrorCode = 'ERR_PHOTOS_DEST_READONLY' | 'ERR_PHOTOS_DEST_NOT_DIR' | 'ERR_PHOTOS_DEST_DENIED' | 'ERR_PHOTOS_DEST_FULL';

/**
 * DEST cannot be written (photos/dest.ts): the run stops as a whole (a backup rejects with it, the CLI exits 4)
 * instead of failing file after file. Codes:
 * - ERR_PHOTOS_DEST_READONLY: DEST is on a read-only file system (EROFS; EACCES/EPERM on a read-only mount).
 * - ERR_PHOTOS_DEST_NOT_DIR: DEST, or a folder on its path, is a file.
 * - ERR_PHOTOS_DEST_DENIED: no permission to write there (EACCES/EPERM).
 * - ERR_PHOTOS_DEST_FULL: no space left (ENOSPC) or the disk quota is used up (EDQUOT), at the start or mid-run.
 *
 * `dest` is DEST, `path` the path whose write failed, `errno` the file-system error code (ENOSPC…) when there was
 * one, `freeBytes` the space left for this user when known.
 */
export class DestError extends PhotosError {
  static {
    fixErrorName(this, 'DestError');
  }
  declare readonly code: DestErrorCode;
  readonly errno: string | undefined;
  readonly freeBytes: number | undefined;
  constructor(code: DestErrorCode, readonly dest: string, readonly path: string, message: string, options?: ErrorOptions & { errno?: string; freeBytes?: number }) {
    super(code, message, options);
    this.errno = options?.errno;
    this.freeBytes = options?.freeBytes;
  }
}
