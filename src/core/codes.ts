/**
 * Every stable error code this library raises, with a one-line description: {@link ErrorCode} is the union
 * that `IDeviceError.code` is typed with, {@link ERROR_CODES} the table behind it. docs/errors.md says what
 * each means and what to do; test/unit/core/codes.test.ts checks that the union, the table, the generated
 * codes (AFC statuses, lockdown error strings, usbmux results) and the docs agree, and that every `ERR_…`
 * literal in src/ is in the union.
 *
 * Naming: `ERR_<LAYER>_<NAME>`. Device-reported statuses keep the device's own names (AFC `ERR_AFC_<STATUS>`,
 * lockdown `ERR_LOCKDOWN_<ERROR STRING>`, usbmux result names); local errors of a layer never reuse them.
 * Codes are never renamed silently: a rename is a breaking change noted in the changelog of the commit.
 */
export const ERROR_CODES = {
  // generic (core/errors.ts)
  ERR_PROTOCOL: 'the peer sent bytes that cannot be parsed (local decode error, never a device status)',
  ERR_PROTOCOL_TOO_LARGE: 'a length on the wire exceeded its cap; nothing was allocated for it',
  ERR_TIMEOUT: 'an operation did not complete in time',
  ERR_ABORTED: "the caller's AbortSignal fired; `cause` is the signal's reason",
  ERR_CLOSED: 'the connection closed while a reply was awaited',
  ERR_INVALID_ARG: 'bad input from the caller or the user',
  ERR_INTERNAL: 'something that is not an IDeviceError was thrown inside the library (a bug; `cause` holds it)',

  // picking a device (provider.ts)
  ERR_DEVICE_NOT_FOUND: 'no device attached, or none with the requested UDID',
  ERR_DEVICE_AMBIGUOUS: 'several devices attached and no UDID given',
  ERR_DEVICE_NOT_PAIRED: 'this computer has no pair record for the device and pairing was not allowed',

  // usbmux: results the daemon sends (usbmux/errors.ts), wire value in `result`
  ERR_USBMUX_BADCOMMAND: 'usbmuxd result 1: the daemon did not understand the request',
  ERR_USBMUX_BADDEV: 'usbmuxd result 2: no such device (unplugged, or the DeviceID is stale)',
  ERR_USBMUX_CONNREFUSED: 'usbmuxd result 3: the device refused the connection to that port',
  ERR_USBMUX_NOSUCHSERVICE: 'usbmuxd result 4: no such service',
  ERR_USBMUX_BADVERSION: 'usbmuxd result 6: the daemon does not support the protocol version we sent',
  ERR_USBMUX_EINVAL: 'usbmuxd result 22: invalid argument (e.g. unparsable pair-record data)',
  ERR_USBMUX_RESULT: 'usbmuxd answered a result number this library does not know (kept in `result`)',
  // usbmux: local errors
  ERR_USBMUX_HEADER_VERSION: 'a usbmux header carried a protocol version other than 0 or 1 (local decode error)',
  ERR_USBMUX_CONSUMED: 'the usbmux client was handed over by connect()/listen() and cannot be used again',
  ERR_USBMUX_UNREACHABLE: 'nothing listens at the usbmuxd address',
  ERR_USBMUX_LISTEN_FAILED: 'a usbmuxd-style socket (emulator, daemon) could not be bound (EADDRINUSE, EACCES…)',

  // lockdown: error strings the device sends (lockdown/errors.ts), raw string in `error`
  ERR_LOCKDOWN_PASSWORD_PROTECTED: 'PasswordProtected: the device is locked with a passcode',
  ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING: 'PairingDialogResponsePending: the trust dialog is waiting for the user',
  ERR_LOCKDOWN_USER_DENIED_PAIRING: 'UserDeniedPairing: the user tapped "Don\'t Trust"',
  ERR_LOCKDOWN_INVALID_HOST_ID: 'InvalidHostID: the device no longer trusts this computer',
  ERR_LOCKDOWN_MISSING_HOST_ID: 'MissingHostID: the device does not know this computer',
  ERR_LOCKDOWN_MC_CHALLENGE_REQUIRED: 'MCChallengeRequired: a supervised device requires a supervisor challenge',
  ERR_LOCKDOWN_PAIRING_PROHIBITED_OVER_THIS_CONNECTION: 'PairingProhibitedOverThisConnection: pairing is only allowed over USB',
  ERR_LOCKDOWN_MISSING_KEY: 'MissingKey: the request lacked a Key',
  ERR_LOCKDOWN_MISSING_VALUE: 'MissingValue: the device has no such value',
  ERR_LOCKDOWN_GET_PROHIBITED: 'GetProhibited: the value cannot be read (without a session)',
  ERR_LOCKDOWN_SET_PROHIBITED: 'SetProhibited: the value cannot be changed',
  ERR_LOCKDOWN_REMOVE_PROHIBITED: 'RemoveProhibited: the value cannot be removed',
  ERR_LOCKDOWN_IMMUTABLE_VALUE: 'ImmutableValue: the value is immutable',
  ERR_LOCKDOWN_INVALID_RESPONSE: 'InvalidResponse: the device rejected the request',
  ERR_LOCKDOWN_SESSION_ACTIVE: 'SessionActive: a session is already active',
  ERR_LOCKDOWN_SESSION_INACTIVE: 'SessionInactive: the request needs a TLS session',
  ERR_LOCKDOWN_MISSING_SESSION_ID: 'MissingSessionID: the request lacked a SessionID',
  ERR_LOCKDOWN_INVALID_SESSION_ID: 'InvalidSessionID: the session ID is not valid',
  ERR_LOCKDOWN_MISSING_SERVICE: 'MissingService: StartService lacked a Service',
  ERR_LOCKDOWN_INVALID_SERVICE: 'InvalidService: the device does not offer this service',
  ERR_LOCKDOWN_SERVICE_PROHIBITED: 'ServiceProhibited: the device does not allow this service now',
  ERR_LOCKDOWN_SERVICE_LIMIT: 'ServiceLimit: too many connections to this service',
  ERR_LOCKDOWN_MISSING_PAIR_RECORD: 'MissingPairRecord: the request lacked a pair record',
  ERR_LOCKDOWN_INVALID_PAIR_RECORD: 'InvalidPairRecord: the device rejected the pair record',
  ERR_LOCKDOWN_SAVE_PAIR_RECORD_FAILED: 'SavePairRecordFailed: the device could not save the pair record',
  ERR_LOCKDOWN_MISSING_ACTIVATION_RECORD: 'MissingActivationRecord: the device is not activated',
  ERR_LOCKDOWN_INVALID_ACTIVATION_RECORD: 'InvalidActivationRecord: the device is not activated',
  ERR_LOCKDOWN_ESCROW_LOCKED: 'EscrowLocked: the device has not been unlocked since it booted',
  ERR_LOCKDOWN_FMIP_PROTECTED: 'FMiPProtected: Find My iPhone protects this operation',
  ERR_LOCKDOWN_MC_PROTECTED: 'MCProtected: a device-management profile protects this operation',
  ERR_LOCKDOWN_INVALID_CHECKIN: 'InvalidCheckin: the device rejected the service check-in',
  ERR_LOCKDOWN_MISSING_OBJECT_DEPENDENCY: 'MissingObjectDepenency: a dependency is missing on the device',
  ERR_LOCKDOWN_UNKNOWN: 'an error string this library does not know (kept verbatim in `error`)',
  // lockdown: local errors
  ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH: 'the TLS peer did not present the DeviceCertificate of the pair record',

  // pairing (pairing/errors.ts)
  ERR_PAIRING_BAD_DER: 'a certificate or key is not well-formed DER (or uses a form this library does not read)',
  ERR_PAIRING_INVALID_KEY: 'a PEM key could not be loaded (not RSA, not PKCS#1 / PKCS#8 / SPKI)',
  ERR_PAIRING_INVALID_RECORD: 'a pair record is not a plist dict with the required, well-typed fields',
  ERR_PAIRING_BAD_DEVICE_KEY: "the device's DevicePublicKey is missing or not an RSA public key",
  ERR_PAIRING_NOT_LOCKDOWN: 'QueryType answered something other than com.apple.mobile.lockdown',
  ERR_PAIRING_DENIED: 'the user tapped "Don\'t Trust" during pairing',
  ERR_PAIRING_STORE: 'a pair-record store could not be read or written',

  // AFC: statuses the device sends (afc/errors.ts), wire value in `status`
  ERR_AFC_UNKNOWN_ERROR: 'AFC status 1 (also what RemovePath answers for a folder that is not empty)',
  ERR_AFC_OP_HEADER_INVALID: 'AFC status 2: the device found the request header invalid',
  ERR_AFC_NO_RESOURCES: 'AFC status 3: the device is out of resources',
  ERR_AFC_READ_ERROR: 'AFC status 4: the device could not read',
  ERR_AFC_WRITE_ERROR: 'AFC status 5: the device could not write',
  ERR_AFC_UNKNOWN_PACKET_TYPE: 'AFC status 6: the device does not know the operation',
  ERR_AFC_INVALID_ARG: 'AFC status 7: the device rejected an argument',
  ERR_AFC_OBJECT_NOT_FOUND: 'AFC status 8: no such file or folder',
  ERR_AFC_OBJECT_IS_DIR: 'AFC status 9: the path is a folder',
  ERR_AFC_PERM_DENIED: 'AFC status 10: permission denied',
  ERR_AFC_SERVICE_NOT_CONNECTED: 'AFC status 11: the service is not connected',
  ERR_AFC_OP_TIMEOUT: 'AFC status 12: the operation timed out on the device',
  ERR_AFC_TOO_MUCH_DATA: 'AFC status 13: too much data',
  ERR_AFC_END_OF_DATA: 'AFC status 14: end of data',
  ERR_AFC_OP_NOT_SUPPORTED: 'AFC status 15: the operation is not supported',
  ERR_AFC_OBJECT_EXISTS: 'AFC status 16: the file or folder already exists',
  ERR_AFC_OBJECT_BUSY: 'AFC status 17: the file is busy',
  ERR_AFC_NO_SPACE_LEFT: 'AFC status 18: no space left on the device',
  ERR_AFC_OP_WOULD_BLOCK: 'AFC status 19: the operation would block (e.g. a lock held elsewhere)',
  ERR_AFC_IO_ERROR: 'AFC status 20: input/output error on the device',
  ERR_AFC_OP_INTERRUPTED: 'AFC status 21: the operation was interrupted',
  ERR_AFC_OP_IN_PROGRESS: 'AFC status 22: the operation is in progress',
  ERR_AFC_INTERNAL_ERROR: 'AFC status 23: internal error on the device',
  ERR_AFC_UNRECOGNISED_STATUS: 'an AFC status number this library does not know (kept in `status`)',
  // AFC: local errors about one reply (afc/errors.ts); the connection stays usable
  ERR_AFC_BAD_REPLY: 'a well-framed AFC reply whose content is unusable (e.g. st_size -1); only that request fails',
  ERR_AFC_TOO_MANY_ENTRIES: 'a directory listing holds more names than the caller allows (readdir maxEntries)',
  ERR_AFC_DIR_NOT_EMPTY: '`afc rm` without -r on a folder that is not empty (the device answered status 1)',

  // our USB mux (usb/errors.ts)
  ERR_USB_MUX_REFUSED: 'the device answered our SYN with RST (no service on that port)',
  ERR_USB_MUX_RESET: 'the peer reset an open stream',
  ERR_USB_MUX_OVERFLOW: 'the peer sent beyond the window we advertised',
  ERR_USB_MUX_VERSION: 'the device answered VERSION with a major version we do not speak',
  ERR_USB_MUX_CLOSED: 'the mux was closed locally; its open streams are destroyed with it',
  ERR_USB_DETACHED: 'the USB device went away (unplug, transfer error)',
  ERR_USB_NO_DEVICE: 'no Apple device with that UDID on the USB bus',
  ERR_USB_NO_MUX_INTERFACE: 'the device has no usbmux interface (USB mode without it)',
  ERR_USB_BUSY: 'the usbmux interface is claimed by another process (a running usbmuxd)',
  ERR_USB_TRANSFER: 'a bulk transfer or mux frame failed for another reason',
  ERR_USB_UNAVAILABLE: 'no USB stack reachable (no /sys/bus/usb, the native `usb` module missing)',

  // plist (plist/errors.ts)
  ERR_PLIST_FORMAT: 'the bytes are neither an XML plist nor a bplist00 binary plist',
  ERR_PLIST_SYNTAX: 'malformed XML or binary plist structure',
  ERR_PLIST_TOO_LARGE: 'plist input, object count or nesting depth over its cap',
  ERR_PLIST_CYCLE: 'a binary plist container references itself',
  ERR_PLIST_UNSUPPORTED: 'a well-formed plist outside the PlistValue model (null, bplist1x, > 64-bit integers…)',
  ERR_PLIST_INVALID_VALUE: 'the encoder was given something that is not a plist value',

  // capture (capture/errors.ts)
  ERR_CAPTURE_FORMAT: 'not a pcapng file, or a malformed block or packet',
  ERR_CAPTURE_TRUNCATED: 'the capture ends inside a block (strict mode)',
  ERR_CAPTURE_TOO_LARGE: 'a capture block, secret or reassembly backlog over its cap',
  ERR_CAPTURE_UNSUPPORTED: 'a link type or secrets type this reader does not handle',
  ERR_CAPTURE_REPLAY_MISMATCH: 'the live client deviated from the recording (`diff` says where)',
  ERR_CAPTURE_WRITE: 'the recording proxy could not write the capture file',

  // photo backup (photos/errors.ts)
  ERR_PHOTOS_UNSAFE_PATH: 'a device name or destination path would leave DEST or pass through a symlink',
  ERR_PHOTOS_VERIFY: 'the bytes received do not match the size the device reported',
  ERR_PHOTOS_MANIFEST: 'the backup manifest cannot be read or written',
  ERR_PHOTOS_BUSY: 'another backup holds the lock on DEST',
  ERR_PHOTOS_DISCONNECTED: 'the device went away and could not be reconnected',
  ERR_PHOTOS_LIBRARY: 'the copy of Photos.sqlite cannot be opened or read (the backup falls back to the file-only inventory)',
  ERR_PHOTOS_MEDIA: 'a media file is malformed or a length in it is over a cap (MakerNote, QuickTime metadata, HEIF boxes)',
  ERR_PHOTOS_LIMIT: 'a resource cap of the backup was reached (entries walked, per folder, folders, manifest entries)',
  ERR_PHOTOS_CONVERT: '--convert-heic could not make a JPEG of a HEIC (not decodable, too large); the HEIC itself is backed up and kept',
  ERR_PHOTOS_REPAIR: 'a damaged copy in DEST could not be restored from the device; nothing was changed',
  ERR_PHOTOS_DEST_READONLY: 'DEST is on a read-only file system',
  ERR_PHOTOS_DEST_NOT_DIR: 'DEST, or a folder on its path, is a file, not a folder',
  ERR_PHOTOS_DEST_DENIED: 'no permission to write to DEST',
  ERR_PHOTOS_DEST_FULL: 'no space left in DEST (disk full or quota used up)',

  // thumbnails (thumbs/)
  ERR_THUMB_DECODE: 'an image or video frame could not be decoded into a thumbnail (unsupported or corrupt)',
  ERR_UI_NOT_FOUND: 'no such page, endpoint or photo',
  ERR_UI_NOT_READY: 'the photos of this device are not listed yet',
  ERR_UI_STALE: 'the photo list changed since the page loaded it',
  ERR_UI_THUMB: 'a thumbnail could not be made',
  ERR_UI_NO_THUMB: 'this file has no thumbnail',
  ERR_UI_BUSY: 'an import is running',
  ERR_UI_NOT_TRUSTED: 'the device is not ready (not trusted) or no longer connected',
  ERR_UI_NO_IMPORT: 'there is no finished import to answer the keep-or-remove question for',
  ERR_UI_REMOVE: 'removing imported photos from the device failed',
  ERR_UI_PHOTOS_LIBRARY: 'not removed: the device keeps a Photos library',
  ERR_UI_ALREADY: 'these photos were already removed',
  ERR_UI_DEST: 'the destination cannot be written',

  // the virtual iPhone (virtual-iphone/)
  ERR_EMULATOR_DETACHED: 'the virtual iPhone was detached; its open streams end with this',
} as const satisfies Record<`ERR_${string}`, string>;

/** Every stable code an {@link IDeviceError} of this library can carry. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `c` is one of this library's codes (not a Node code such as ECONNRESET). */
export function isErrorCode(c: unknown): c is ErrorCode {
  return typeof c === 'string' && Object.hasOwn(ERROR_CODES, c);
}
