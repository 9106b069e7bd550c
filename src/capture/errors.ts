/**
 * Errors of the capture layer (pcapng files, TCP reassembly, replay). Codes:
 * - ERR_CAPTURE_FORMAT     not a pcapng file / malformed block or packet
 * - ERR_CAPTURE_TRUNCATED  the file ends inside a block (strict mode only; otherwise reported as `truncated`)
 * - ERR_CAPTURE_TOO_LARGE  a block or secret length above its cap
 * - ERR_CAPTURE_UNSUPPORTED a link type or secrets type this reader does not handle
 * - ERR_CAPTURE_REPLAY_MISMATCH the live client deviated from the recording (`diff` says where)
 * - ERR_CAPTURE_WRITE      the recording proxy could not write the capture (the fs error is the cause)
 */
import { fixErrorName, IDeviceError } from '../core/errors.ts';

export type CaptureErrorCode =
  | 'ERR_CAPTURE_FORMAT'
  | 'ERR_CAPTURE_TRUNCATED'
  | 'ERR_CAPTURE_TOO_LARGE'
  | 'ERR_CAPTURE_UNSUPPORTED'
  | 'ERR_CAPTURE_REPLAY_MISMATCH'
  | 'ERR_CAPTURE_WRITE';

/** A capture file or replay problem; `offset` is the byte offset in the file when known. */
export class CaptureError extends IDeviceError {
  static {
    fixErrorName(this, 'CaptureError');
  }
  declare readonly code: CaptureErrorCode;
  constructor(
    code: CaptureErrorCode,
    message: string,
    readonly offset?: number,
    options?: ErrorOptions,
  ) {
    super(code, offset !== undefined ? `${message} (at file offset ${offset})` : message, options);
  }
}
