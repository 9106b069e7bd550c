import type { ErrorCode } from '../core/codes.ts';
import { fixErrorName, IDeviceError } from '../core/errors.ts';

/** The codes of {@link PairingError}. */
export type PairingErrorCode = Extract<ErrorCode, `ERR_PAIRING_${string}`>;

/**
 * Errors of the pairing layer (certificates, pair records, stores, the trust flow). Stable codes:
 *
 * - ERR_PAIRING_BAD_DER          a certificate or key is not well-formed DER (or uses a form we do not read)
 * - ERR_PAIRING_INVALID_KEY      a PEM key could not be loaded (not RSA, not PKCS#1 / PKCS#8 / SPKI)
 * - ERR_PAIRING_INVALID_RECORD   a pair record is not a plist dict with the required, well-typed fields
 * - ERR_PAIRING_BAD_DEVICE_KEY   the device's DevicePublicKey value is missing or not an RSA public key PEM
 * - ERR_PAIRING_NOT_LOCKDOWN     QueryType answered something other than com.apple.mobile.lockdown
 * - ERR_PAIRING_DENIED           the user tapped "Don't Trust" (lockdown UserDeniedPairing); `cause` is the lockdown error
 * - ERR_PAIRING_STORE            a pair-record store could not read or write (file-system error as `cause`)
 */
export class PairingError extends IDeviceError {
  static {
    fixErrorName(this, 'PairingError');
  }
  declare readonly code: PairingErrorCode;
  constructor(code: PairingErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
