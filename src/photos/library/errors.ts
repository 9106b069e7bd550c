/**
 * Errors of the photo-library reader and the media parsers.
 *
 * - ERR_PHOTOS_LIBRARY: the copy of Photos.sqlite cannot be opened or queried (not a database, corrupt,
 *   unreadable). The backup then falls back to the file-only inventory; it is never fatal.
 * - ERR_PHOTOS_MEDIA: a media file's bytes do not parse (MakerNote, QuickTime metadata, HEIF boxes) or a
 *   length in it exceeds a cap. Local to that file: callers treat it as "no content identifier".
 *
 * Both are distinct from ERR_PROTOCOL on purpose: the engine treats ERR_PROTOCOL as a broken connection
 * (and reconnects), while a malformed photo says nothing about the connection.
 */
import { fixErrorName } from '../../core/errors.ts';
import { PhotosError } from '../errors.ts';

/** Photos.sqlite could not be opened or read. Code ERR_PHOTOS_LIBRARY. */
export class LibraryError extends PhotosError {
  static {
    fixErrorName(this, 'LibraryError');
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PHOTOS_LIBRARY', message, options);
  }
}

/** A media file is malformed or over a cap. Code ERR_PHOTOS_MEDIA; `offset` is the byte where parsing stopped. */
export class MediaFormatError extends PhotosError {
  static {
    fixErrorName(this, 'MediaFormatError');
  }
  constructor(readonly format: string, readonly reason: string, readonly offset?: number) {
    super('ERR_PHOTOS_MEDIA', `${format}: ${reason}${offset !== undefined ? ` (at byte ${offset})` : ''}`);
  }
}
