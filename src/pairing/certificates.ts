/**
 * Pairing certificates in the libimobiledevice profile (../shared/docs/protocol.md §4), built with our own
 * DER writer because node:crypto can sign but not build certificates. Pure: keys and the clock are injectable.
 *
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * TBSCertificate ::= SEQUENCE {
 *   [0] EXPLICIT version INTEGER 2 (v3), serialNumber INTEGER, signature AlgorithmIdentifier,
 *   issuer Name (empty SEQUENCE), validity SEQUENCE { notBefore, notAfter }, subject Name (empty SEQUENCE),
 *   subjectPublicKeyInfo, [3] EXPLICIT extensions SEQUENCE OF Extension }
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING }
 *
 * Profile: root   basicConstraints critical CA:TRUE
 *          host   basicConstraints critical CA:FALSE, keyUsage critical digitalSignature|keyEncipherment
 *          device basicConstraints critical CA:FALSE, subjectKeyIdentifier, keyUsage critical digitalSignature|keyEncipherment
 * all RSA-2048 e=65537, serial 1, empty names, now → +3650 days, sha256WithRSAEncryption, signed by the root key.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  derBitString,
  derBoolean,
  derExplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derTime,
  derTlv,
  DerTag,
  derChildren,
  readDerExact,
} from './der.ts';
import { PairingError } from './errors.ts';
import { derToPem, loadPrivateKey, loadPublicKey, privateKeyToPem } from './pem.ts';

/** Object identifiers used by the profile. */
export const Oid = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
} as const;

/** Digest for certificate signatures. SHA-1 exists only to emulate old hosts (libimobiledevice 1.3.0 signs with it). */
export type CertificateDigest = 'sha256' | 'sha1';

/** Default lifetime: libimobiledevice and Apple use 10 × 365 days. */
export const DEFAULT_VALIDITY_DAYS = 3650;

/** Options for one certificate. */
export interface CertificateSpec {
  /** The key the certificate certifies. */
  publicKey: KeyObject;
  /** The issuer's private key (the root key for every pairing certificate). */
  signingKey: KeyObject;
  /** true: basicConstraints CA:TRUE (root); false: CA:FALSE + keyUsage digitalSignature|keyEncipherment (host, device). */
  ca: boolean;
  /** Adds a subjectKeyIdentifier (SHA-1 of the public key bits, RFC 5280 method 1). Default false. */
  subjectKeyId?: boolean;
  /** Serial number. Default 1. */
  serial?: number | bigint;
  /** notBefore. Default: now. Milliseconds are dropped. */
  now?: Date;
  /** Lifetime in days. Default {@link DEFAULT_VALIDITY_DAYS}. */
  validityDays?: number;
  /** Signature digest. Default sha256. */
  digest?: CertificateDigest;
}

/** Options for {@link generatePairingCertificates}. */
export interface PairingCertificateOptions {
  /** Root key (RSA private); generated when absent. */
  rootKey?: KeyObject;
  /** Host key (RSA private); generated when absent. Separate from the root key unless the caller passes the same one. */
  hostKey?: KeyObject;
  now?: Date;
  validityDays?: number;
  digest?: CertificateDigest;
  serial?: number | bigint;
}

/** The certificates and private keys of a new pairing, PEM text as Buffers under the pair-record names. */
export interface PairingCertificates {
  RootCertificate: Buffer;
  HostCertificate: Buffer;
  DeviceCertificate: Buffer;
  RootPrivateKey: Buffer;
  HostPrivateKey: Buffer;
}

/** A fresh RSA-2048 (e=65537) key pair. */
export function generateRsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

/** RSAPublicKey bits inside a SubjectPublicKeyInfo = SEQUENCE { AlgorithmIdentifier, BIT STRING } (for the key identifier). */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const top = readDerExact(spki, DerTag.Sequence);
  const bits = derChildren(spki, top)[1];
  if (!bits || bits.tag !== DerTag.BitString) throw new PairingError('ERR_PAIRING_BAD_DER', 'unexpected SubjectPublicKeyInfo layout');
  return spki.subarray(bits.contentStart + 1, bits.end); // skip the unused-bits octet
}

/**
 * Builds and signs one certificate of the pairing profile.
 * @returns the certificate as DER
 * @throws ERR_INVALID_ARG when a key is not RSA or the signing key is not private
 */
export function createCertificate(spec: CertificateSpec): Buffer {
  if (spec.publicKey.asymmetricKeyType !== 'rsa' || spec.signingKey.asymmetricKeyType !== 'rsa' || spec.signingKey.type !== 'private') {
    throw new PairingError('ERR_PAIRING_INVALID_KEY', 'pairing certificates need RSA keys and a private signing key');
  }
  const digest = spec.digest ?? 'sha256';
  const sigAlg = derSequence(derOid(digest === 'sha1' ? Oid.sha1WithRSAEncryption : Oid.sha256WithRSAEncryption), derNull());
  const notBefore = new Date(Math.floor((spec.now ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + (spec.validityDays ?? DEFAULT_VALIDITY_DAYS) * 86_400_000);
  const publicKey = spec.publicKey.type === 'private' ? createPublicKey(spec.publicKey) : spec.publicKey;
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const emptyName = derSequence();

  const exts: Buffer[] = [];
  if (spec.ca) {
    exts.push(extension(Oid.basicConstraints, true, derSequence(derBoolean(true))));
  } else {
    exts.push(extension(Oid.basicConstraints, true, derSequence())); // CA:FALSE is the DEFAULT, hence empty in DER
  }
  if (spec.subjectKeyId) {
    const keyId = createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
    exts.push(extension(Oid.subjectKeyIdentifier, false, derOctetString(keyId)));
  }
  if (!spec.ca) {
    // KeyUsage BIT STRING: digitalSignature (bit 0) | keyEncipherment (bit 2) = 0b1010_0000, 5 unused bits
    exts.push(extension(Oid.keyUsage, true, derTlv(DerTag.BitString, Buffer.from([0x05, 0xa0]))));
  }

  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(spec.serial ?? 1),
    sigAlg,
    emptyName,
    derSequence(derTime(notBefore), derTime(notAfter)),
    emptyName,
    spki,
    derExplicit(3, derSequence(...exts)),
  );
  const signature = sign(digest, tbs, spec.signingKey);
  return derSequence(tbs, sigAlg, derBitString(signature));
}

/**
 * Root, host and device certificates for a new pairing, following protocol.md §4 step 3.
 * @param devicePublicKeyPem the device's `DevicePublicKey` value: PKCS#1 `BEGIN RSA PUBLIC KEY` (SPKI also accepted)
 * @throws ERR_PAIRING_INVALID_KEY when the device key (or an injected key) is not a usable RSA key
 */
export function generatePairingCertificates(devicePublicKeyPem: Buffer | string, opts: PairingCertificateOptions = {}): PairingCertificates {
  const deviceKey = loadPublicKey(devicePublicKeyPem);
  const rootKey = opts.rootKey ?? generateRsaKeyPair().privateKey;
  const hostKey = opts.hostKey ?? generateRsaKeyPair().privateKey;
  const now = opts.now ?? new Date();
  const common = { signingKey: rootKey, now, validityDays: opts.validityDays, digest: opts.digest, serial: opts.serial };
  const root = createCertificate({ ...common, publicKey: rootKey, ca: true });
  const host = createCertificate({ ...common, publicKey: hostKey, ca: false });
  const device = createCertificate({ ...common, publicKey: deviceKey, ca: false, subjectKeyId: true });
  return {
    RootCertificate: Buffer.from(derToPem(root, 'CERTIFICATE'), 'latin1'),
    HostCertificate: Buffer.from(derToPem(host, 'CERTIFICATE'), 'latin1'),
    DeviceCertificate: Buffer.from(derToPem(device, 'CERTIFICATE'), 'latin1'),
    RootPrivateKey: privateKeyToPem(rootKey),
    HostPrivateKey: privateKeyToPem(hostKey),
  };
}

/** Re-export for callers that hold PEM keys (PKCS#1 or PKCS#8). */
export { loadPrivateKey, loadPublicKey };
