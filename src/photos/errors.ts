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
