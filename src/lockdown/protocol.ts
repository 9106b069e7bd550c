/**
 * Lockdown (lockdownd, TCP port 62078 on the device) wire facts.
 *
 * ```
 * frame:  u32 BE body_length | body (body_length bytes)
 * body:   a plist dict, XML ("<?xml" exactly at byte 0) or binary ("bplist00" exactly at byte 0).
 *         We always send XML; we accept both (Apple clients sometimes send bplist).
 * request:  { Request: "<name>", Label: "<tool>", [ProtocolVersion: "2"], ...parameters }
 * reply:    { Request: "<name>" (echoed), ...results }  |  { Request, Error: "<ErrorString>" }
 *           iOS < 5 also sends Result: "Success" | "Failure".
 * ```
 * After a StartSession reply with EnableSessionSSL the same byte stream carries TLS; lockdown frames
 * continue inside it. After StopSession and a close_notify the stream is plaintext again.
 */

/** lockdownd's port on the device (0xF27E; usbmuxd's PortNumber carries it byte-swapped as 32498). */
export const LOCKDOWN_PORT = 62078;

/** Largest lockdown body we buffer (bytes). Real frames are < 16 KiB; pair records with certificates ~10 KiB. */
export const LOCKDOWN_MAX_FRAME = 16 * 1024 * 1024;

/** `Type` answered to QueryType by a normal (not restore-mode) device. */
export const LOCKDOWN_SERVICE_TYPE = 'com.apple.mobile.lockdown';

/** Default `Label` on our requests. */
export const DEFAULT_LABEL = 'iosdevice';

/** Request names (Apple's strings). */
export const LockdownRequest = {
  QueryType: 'QueryType',
  GetValue: 'GetValue',
  SetValue: 'SetValue',
  RemoveValue: 'RemoveValue',
  StartSession: 'StartSession',
  StopSession: 'StopSession',
  StartService: 'StartService',
  Pair: 'Pair',
  ValidatePair: 'ValidatePair',
  Unpair: 'Unpair',
  EnterRecovery: 'EnterRecovery',
  Goodbye: 'Goodbye',
} as const;

/**
 * Keys a device answers before a session (real iOS 15 traffic, the two pairing needs, and what `ideviceinfo -s`
 * shows on recent devices). Everything else in the global domain answers GetProhibited until a TLS session is up.
 */
export const PRE_SESSION_KEYS: readonly string[] = [
  'DeviceName',
  'HardwareModel',
  'ProductType',
  'ProductVersion',
  'ProductName',
  'BuildVersion',
  'DeviceClass',
  'DeviceColor',
  'DeviceEnclosureColor',
  'IDAMCapable',
  'UniqueChipID',
  'UniqueDeviceID',
  'ChipID',
  'BoardId',
  'MobileDeviceMinimumVersion',
  'DevicePublicKey',
  'WiFiAddress',
  'CPUArchitecture',
  'BasebandVersion',
  'ProtocolVersion',
];
