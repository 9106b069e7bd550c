import type { ErrorCode } from '../core/codes.ts';
import { fixErrorName, IDeviceError } from '../core/errors.ts';

/** The codes of lockdown `Error` strings: `ERR_LOCKDOWN_<NAME>` for the known ones, ERR_LOCKDOWN_UNKNOWN for any other. */
export type LockdownErrorCode = Extract<ErrorCode, `ERR_LOCKDOWN_${string}`>;

/**
 * Errors lockdownd reports in a reply's `Error` string. {@link LockdownError} keeps the raw string
 * (`error`) and the request name; known strings map to a stable code `ERR_LOCKDOWN_<NAME>` and, for the
 * trust flow, to leaf classes callers switch on. Unknown strings are preserved verbatim with the code
 * ERR_LOCKDOWN_UNKNOWN (never collapsed).
 */
export class LockdownError extends IDeviceError {
  static {
    fixErrorName(this, 'LockdownError');
  }
  /** The raw `Error` string from the device, e.g. "InvalidHostID". */
  readonly error: string;
  /** The request that failed, e.g. "StartSession". */
  readonly request: string;
  declare readonly code: LockdownErrorCode;
  constructor(error: string, request: string, code?: LockdownErrorCode, message?: string, options?: ErrorOptions) {
    super(code ?? codeFor(error), message ?? `lockdown ${request}: ${describe(error)}`, options);
    this.error = error;
    this.request = request;
  }
}

/** The device is locked with a passcode (ERR_LOCKDOWN_PASSWORD_PROTECTED). Unlock it, then retry. */
export class PasswordProtectedError extends LockdownError {
  static {
    fixErrorName(this, 'PasswordProtectedError');
  }
}
/** The trust dialog is on screen (ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING). Retry Pair ~every second. */
export class PairingDialogResponsePendingError extends LockdownError {
  static {
    fixErrorName(this, 'PairingDialogResponsePendingError');
  }
}
/** The user tapped "Don't Trust" (ERR_LOCKDOWN_USER_DENIED_PAIRING). */
export class UserDeniedPairingError extends LockdownError {
  static {
    fixErrorName(this, 'UserDeniedPairingError');
  }
}
/** The device does not (or no longer) trust this HostID (ERR_LOCKDOWN_INVALID_HOST_ID / ERR_LOCKDOWN_MISSING_HOST_ID). Re-pair. */
export class InvalidHostIdError extends LockdownError {
  static {
    fixErrorName(this, 'InvalidHostIdError');
  }
}
/** The operation needs a TLS session (ERR_LOCKDOWN_SESSION_INACTIVE and friends). */
export class SessionError extends LockdownError {
  static {
    fixErrorName(this, 'SessionError');
  }
}
/** The value cannot be read/changed (GetProhibited, MissingValue, ...). */
export class ValueError extends LockdownError {
  static {
    fixErrorName(this, 'ValueError');
  }
}
/** StartService failed (InvalidService, ServiceProhibited, ServiceLimit, MissingService). */
export class ServiceError extends LockdownError {
  static {
    fixErrorName(this, 'ServiceError');
  }
}

type LeafClass = new (error: string, request: string, code?: LockdownErrorCode, message?: string) => LockdownError;

interface Entry {
  code: LockdownErrorCode;
  cls: LeafClass;
  hint: string;
}

type LockdownName = LockdownErrorCode extends `ERR_LOCKDOWN_${infer N}` ? N : never;

function e(code: LockdownName, cls: LeafClass, hint: string): Entry {
  return { code: `ERR_LOCKDOWN_${code}` as const, cls, hint };
}

/** Every error string libimobiledevice knows (protocol.md §3), with a code, a class and a user hint. */
const TABLE: Record<string, Entry> = {
  PasswordProtected: e('PASSWORD_PROTECTED', PasswordProtectedError, 'the device is locked with a passcode: unlock it and try again'),
  PairingDialogResponsePending: e(
    'PAIRING_DIALOG_RESPONSE_PENDING',
    PairingDialogResponsePendingError,
    'the "Trust this computer?" dialog is waiting on the device: tap Trust',
  ),
  UserDeniedPairing: e('USER_DENIED_PAIRING', UserDeniedPairingError, 'the user tapped "Don\'t Trust" on the device'),
  InvalidHostID: e('INVALID_HOST_ID', InvalidHostIdError, 'the device no longer trusts this computer: run `iosdevice pair`'),
  MissingHostID: e('MISSING_HOST_ID', InvalidHostIdError, 'the device does not know this computer: run `iosdevice pair`'),
  MCChallengeRequired: e('MC_CHALLENGE_REQUIRED', LockdownError, 'the device is supervised and requires a supervisor challenge'),
  PairingProhibitedOverThisConnection: e(
    'PAIRING_PROHIBITED_OVER_THIS_CONNECTION',
    LockdownError,
    'pairing is not allowed over this connection: connect the device by USB',
  ),
  MissingKey: e('MISSING_KEY', ValueError, 'the request lacks a Key'),
  MissingValue: e('MISSING_VALUE', ValueError, 'the device has no such value'),
  GetProhibited: e('GET_PROHIBITED', ValueError, 'this value cannot be read (without a session)'),
  SetProhibited: e('SET_PROHIBITED', ValueError, 'this value cannot be changed'),
  RemoveProhibited: e('REMOVE_PROHIBITED', ValueError, 'this value cannot be removed'),
  ImmutableValue: e('IMMUTABLE_VALUE', ValueError, 'this value is immutable'),
  InvalidResponse: e('INVALID_RESPONSE', LockdownError, 'the device rejected the request'),
  SessionActive: e('SESSION_ACTIVE', SessionError, 'a session is already active'),
  SessionInactive: e('SESSION_INACTIVE', SessionError, 'this needs a session: pair and start a session first'),
  MissingSessionID: e('MISSING_SESSION_ID', SessionError, 'the request lacks a SessionID'),
  InvalidSessionID: e('INVALID_SESSION_ID', SessionError, 'the session ID is not valid'),
  MissingService: e('MISSING_SERVICE', ServiceError, 'the request lacks a Service'),
  InvalidService: e('INVALID_SERVICE', ServiceError, 'the device does not offer this service'),
  ServiceProhibited: e('SERVICE_PROHIBITED', ServiceError, 'the device does not allow this service now'),
  ServiceLimit: e('SERVICE_LIMIT', ServiceError, 'too many connections to this service'),
  MissingPairRecord: e('MISSING_PAIR_RECORD', LockdownError, 'the request lacks a pair record'),
  InvalidPairRecord: e('INVALID_PAIR_RECORD', LockdownError, 'the device rejected the pair record: run `iosdevice pair`'),
  SavePairRecordFailed: e('SAVE_PAIR_RECORD_FAILED', LockdownError, 'the device could not save the pair record'),
  MissingActivationRecord: e('MISSING_ACTIVATION_RECORD', LockdownError, 'the device is not activated'),
  InvalidActivationRecord: e('INVALID_ACTIVATION_RECORD', LockdownError, 'the device is not activated'),
  EscrowLocked: e('ESCROW_LOCKED', LockdownError, 'the device is locked: unlock it once after reboot'),
  FMiPProtected: e('FMIP_PROTECTED', LockdownError, 'Find My iPhone protects this operation'),
  MCProtected: e('MC_PROTECTED', LockdownError, 'a device management profile protects this operation'),
  InvalidCheckin: e('INVALID_CHECKIN', LockdownError, 'the device rejected the service check-in'),
  MissingObjectDepenency: e('MISSING_OBJECT_DEPENDENCY', LockdownError, 'a dependency is missing'),
};

/** Stable code for a lockdown error string (ERR_LOCKDOWN_UNKNOWN for strings not in the table). */
export function codeFor(error: string): LockdownErrorCode {
  return Object.hasOwn(TABLE, error) ? TABLE[error]!.code : 'ERR_LOCKDOWN_UNKNOWN';
}

function describe(error: string): string {
  return Object.hasOwn(TABLE, error) ? `${error}: ${TABLE[error]!.hint}` : `device error "${error}"`;
}

/** The error strings this module knows (for tests and the virtual device). */
export const KNOWN_LOCKDOWN_ERRORS: readonly string[] = Object.keys(TABLE);

/**
 * Builds the typed error for a reply's `Error` string: a leaf class for known strings (e.g.
 * PasswordProtectedError with code ERR_LOCKDOWN_PASSWORD_PROTECTED), else LockdownError with
 * ERR_LOCKDOWN_UNKNOWN and the raw string preserved in `error`.
 */
export function lockdownErrorFor(error: string, request: string): LockdownError {
  const entry = Object.hasOwn(TABLE, error) ? TABLE[error] : undefined;
  if (!entry) return new LockdownError(error, request);
  return new entry.cls(error, request, entry.code);
}

/**
 * The TLS peer did not present the DeviceCertificate of the pair record (`pinDeviceCertificate`; a local
 * check, not a device error string). Code ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH.
 */
export class DeviceCertificateMismatchError extends IDeviceError {
  static {
    fixErrorName(this, 'DeviceCertificateMismatchError');
  }
  constructor() {
    super('ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH', 'the device did not present the DeviceCertificate of the pair record');
  }
}
