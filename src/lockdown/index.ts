/**
 * `iosdevice/lockdown`: lockdownd. {@link LockdownClient} (QueryType, Get/Set/RemoveValue, StartSession with TLS
 * in place, StartService), the error classes for the device's error strings, and the device side
 * ({@link serveLockdown} over a {@link LockdownDevice}) for tools that play the phone.
 */
export { LockdownClient, type SessionCredentials, type StartSessionOptions } from './client.ts';
export { LOCKDOWN_PORT, LOCKDOWN_SERVICE_TYPE, LockdownRequest } from './protocol.ts';
export {
  DeviceCertificateMismatchError,
  InvalidHostIdError,
  KNOWN_LOCKDOWN_ERRORS,
  LockdownError,
  PairingDialogResponsePendingError,
  PasswordProtectedError,
  ServiceError,
  SessionError,
  UserDeniedPairingError,
  ValueError,
  type LockdownErrorCode,
} from './errors.ts';
export { serveLockdown, type LockdownContext, type LockdownDevice, type LockdownServerConnection, type SessionIdentity } from './server.ts';
