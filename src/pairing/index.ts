/**
 * Pairing: certificates, pair records, record stores, TLS options and the "Trust this computer" flow.
 * See the individual modules for thrown codes (./errors.ts lists the ERR_PAIRING_* codes).
 */
export { PairingError } from './errors.ts';
export { derToPem, pemToDer, loadPrivateKey, loadPublicKey, privateKeyToPem, publicKeyToPkcs1Pem } from './pem.ts';
export {
  createCertificate,
  generatePairingCertificates,
  generateRsaKeyPair,
  DEFAULT_VALIDITY_DAYS,
  type CertificateDigest,
  type CertificateSpec,
  type PairingCertificateOptions,
  type PairingCertificates,
} from './certificates.ts';
export { inspectCertificate, type CertificateInfo } from './certificate-info.ts';
export {
  encodePairRecord,
  pairRecordFromPlist,
  pairRecordToPlist,
  parsePairRecord,
  validatePairRecord,
  withoutPrivateKeys,
  type PairRecord,
  type PublicPairRecord,
} from './pair-record.ts';
export type { PairRecordStore } from './record-store.ts';
export { defaultUserStoreDir, UserRecordStore } from './user-store.ts';
export { attachKeylog, tlsClientOptions, tlsServerOptions, type KeylogHandle, type TlsProfileOptions } from './tls.ts';
export { pairAndSave, pairDevice, unpairDevice, validatePair, type PairDeviceOptions, type PairingLockdown, type TrustEvent } from './trust.ts';
