/**
 * The error a `photos ui` request ends with: a code from the ErrorCode union, a sentence for the page, and the
 * HTTP status the server answers with.
 */
import { type ErrorCode, isErrorCode } from '../core/codes.ts';
import { errorCode, fixErrorName, IDeviceError } from '../core/errors.ts';

export type UiErrorCode = Extract<ErrorCode, `ERR_UI_${string}`> | 'ERR_INVALID_ARG';

export class UiError extends IDeviceError {
  static {
    fixErrorName(this, 'UiError');
  }
  constructor(readonly status: number, code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** The code of `e` when it is one of ours, else `fallback`. */
export function codeOr(e: unknown, fallback: ErrorCode): ErrorCode {
  const c = errorCode(e);
  return c !== undefined && isErrorCode(c) ? c : fallback;
}
