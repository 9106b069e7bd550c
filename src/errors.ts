/**
 * `iosdevice/errors`: every error class the library raises, the {@link ErrorCode} union with its description table,
 * and the helpers to read a code. docs/errors.md says what each code means and what to do.
 * Everything here is also exported from the package root.
 */
export { ERROR_CODES, isErrorCode, type ErrorCode } from './core/codes.ts';
export {
  AbortError,
  ClosedError,
  errorCode,
  IDeviceError,
  InternalError,
  InvalidArgumentError,
  isConnectionLost,
  ProtocolError,
  TimeoutError,
  TooLargeError,
  type Layer,
} from './core/errors.ts';
export { AmbiguousDeviceError, DeviceNotFoundError, NotPairedError, UsbUnavailableError } from './provider.ts';
export { UsbmuxConsumedError, UsbmuxError, UsbmuxHeaderVersionError, UsbmuxListenError, UsbmuxUnreachableError, type UsbmuxResultCode } from './usbmux/errors.ts';
export {
  DeviceCertificateMismatchError,
  InvalidHostIdError,
  LockdownError,
  PairingDialogResponsePendingError,
  PasswordProtectedError,
  ServiceError,
  SessionError,
  UserDeniedPairingError,
  ValueError,
  type LockdownErrorCode,
} from './lockdown/errors.ts';
export { PairingError, type PairingErrorCode } from './pairing/errors.ts';
export { AfcBadReplyError, AfcDirNotEmptyError, AfcError, AfcTooManyEntriesError, type AfcErrorCode } from './afc/errors.ts';
export { PlistError, type PlistErrorCode } from './plist/errors.ts';
export { DetachedError, MuxRefusedError, MuxResetError, UsbError, type UsbErrorCode } from './usb/errors.ts';
export { CaptureError, type CaptureErrorCode } from './capture/errors.ts';
export { ReplayMismatchError } from './capture/replay-script.ts';
export { DestError, PhotosError, PhotosLimitError, UnsafePathError, type DestErrorCode, type PhotosErrorCode } from './photos/errors.ts';
export { TransferTimeoutError } from './photos/watch.ts';
export { LibraryError, MediaFormatError } from './photos/library/errors.ts';
export { EmulatorDetachedError } from './virtual-iphone/errors.ts';
export { ThumbDecodeError } from './thumbs/decode.ts';
export { UiError, type UiErrorCode } from './ui/errors.ts';
