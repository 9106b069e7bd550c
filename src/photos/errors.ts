import { IDeviceError } from '../core/errors.ts';

/**
 * Photo-backup errors. Codes:
 * - ERR_PHOTOS_UNSAFE_PATH: a device name or a destination path would leave DEST or pass a symlink.
 * - ERR_PHOTOS_VERIFY: the bytes received do not match the size the device reported.
 * - ERR_PHOTOS_MANIFEST: the manifest cannot be read or written.
 * - ERR_PHOTOS_BUSY: another backup holds the lock on DEST.
 * - ERR_PHOTOS_DISCONNECTED: the device went away and could not be reconnected.
 */
export class PhotosError extends IDeviceError {
  constructor(code: `ERR_PHOTOS_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A path from the device (or a destination) that is refused. Code ERR_PHOTOS_UNSAFE_PATH. */
export class UnsafePathError extends PhotosError {
  constructor(readonly path: string, readonly reason: string) {
    super('ERR_PHOTOS_UNSAFE_PATH', `unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}
