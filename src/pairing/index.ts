/**
 * `iosdevice/pairing`: "Trust this computer" ({@link pairDevice}, {@link pairAndSave}, {@link validatePair},
 * {@link unpairDevice}, TrustEvent), pair records (parse, encode, validate), where they are kept
 * ({@link PairRecordStore}: usbmuxd's via {@link UsbmuxdRecordStore}, a per-user folder via {@link UserRecordStore},
 * {@link chooseStore} picks), the pairing certificates and the TLS options of a session.
 */
export { PairingError, type PairingErrorCode } from './errors.ts';
export {
  generatePairingCertificates,
  DEFAULT_VALIDITY_DAYS,
  type CertificateDigest,
  type PairingCertificateOptions,
  type PairingCertificates,
} from './certificates.ts';
export { inspectCertificate, type CertificateExtension, type CertificateInfo } from './certificate-info.ts';
export { encodePairRecord, parsePairRecord, validatePairRecord, withoutPrivateKeys, type PairRecord, type PublicPairRecord } from './pair-record.ts';
export type { PairRecordStore } from './record-store.ts';
export { defaultUserStoreDir, UserRecordStore } from './user-store.ts';
export { chooseStore, UsbmuxdRecordStore, type ChooseStoreOptions, type UsbmuxdStoreOptions, type UsbmuxRecordClient } from '../providers/usbmuxd-records.ts';
export { attachKeylog, tlsClientOptions, tlsServerOptions, type KeylogHandle, type TlsProfileOptions } from './tls.ts';
export { pairAndSave, pairDevice, unpairDevice, validatePair, type PairDeviceOptions, type PairingLockdown, type SavingStore, type TrustEvent } from './trust.ts';
