/**
 * Reads the profile fields of an X.509 certificate (serial, signature algorithm, names, validity, extensions
 * with their criticality), which crypto.X509Certificate does not expose. Pure; every length is bounds-checked
 * by the DER reader.
 */
import { X509Certificate } from 'node:crypto';
import { decodeInteger, decodeOid, decodeTime, derChildren, derContent, derRaw, DerTag, readDer, readDerExact, type DerNode } from './der.ts';
import { PairingError } from './errors.ts';
import { pemLabel, pemToDer } from './pem.ts';

/** Largest certificate we read (pairing certificates are ~700 bytes of DER). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

/** One extension as encoded. */
export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING content (a view). */
  value: Buffer;
}

/** The fields that define the pairing certificate profile. */
export interface CertificateInfo {
  /** X.509 version number as encoded (2 = v3). */
  version: number;
  serial: bigint;
  /** signatureAlgorithm OID of the outer certificate (e.g. 1.2.840.113549.1.1.11). */
  signatureOid: string;
  /** 'sha256' / 'sha1' for the RSA PKCS#1 v1.5 OIDs, else undefined. */
  digest: 'sha256' | 'sha1' | undefined;
  /** Encoded issuer / subject Name (30 00 when empty). */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Buffer;
  extensions: CertificateExtension[];
  /** basicConstraints cA, when the extension is present. */
  ca: boolean | undefined;
  /** keyUsage bits (bit 0 = digitalSignature → 0x80 of the first byte, as in the BIT STRING), when present. */
  keyUsage: number | undefined;
  /** subjectKeyIdentifier bytes, when present. */
  subjectKeyId: Buffer | undefined;
}

/**
 * Certificate as DER from PEM or DER input.
 * @throws ERR_PAIRING_BAD_DER
 */
export function certificateDer(cert: Buffer | string): Buffer {
  if (typeof cert === 'string' || pemLabel(cert) !== undefined) return pemToDer(cert, 'CERTIFICATE');
  return cert;
}

function child(buf: Buffer, nodes: DerNode[], i: number, tag?: number): DerNode {
  const n = nodes[i];
  if (!n) throw new PairingError('ERR_PAIRING_BAD_DER', `certificate: missing element ${i}`);
  if (tag !== undefined && n.tag !== tag) {
    throw new PairingError('ERR_PAIRING_BAD_DER', `certificate: element ${i} has tag 0x${n.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  return n;
}

/**
 * Parses a certificate's profile fields.
 * @throws ERR_PAIRING_BAD_DER for malformed or oversized input
 */
export function inspectCertificate(cert: Buffer | string): CertificateInfo {
  const der = certificateDer(cert);
  if (der.length > MAX_CERTIFICATE_BYTES) throw new PairingError('ERR_PAIRING_BAD_DER', `certificate of ${der.length} bytes exceeds the cap`);
  const top = derChildren(der, readDerExact(der, DerTag.Sequence));
  const tbs = derChildren(der, child(der, top, 0, DerTag.Sequence));
  const sigAlg = derChildren(der, child(der, top, 1, DerTag.Sequence));
  const signatureOid = decodeOid(derContent(der, child(der, sigAlg, 0, DerTag.ObjectIdentifier)));

  let i = 0;
  let version = 0; // v1 when [0] is absent
  if (tbs[0]?.tag === 0xa0) {
    const v = readDer(der, tbs[0].contentStart, tbs[0].end);
    if (v.tag !== DerTag.Integer) throw new PairingError('ERR_PAIRING_BAD_DER', 'certificate: bad version');
    version = Number(decodeInteger(derContent(der, v)));
    i = 1;
  }
  const serial = decodeInteger(derContent(der, child(der, tbs, i, DerTag.Integer)));
  const issuer = derRaw(der, child(der, tbs, i + 2, DerTag.Sequence));
  const validity = derChildren(der, child(der, tbs, i + 3, DerTag.Sequence));
  const nb = child(der, validity, 0);
  const na = child(der, validity, 1);
  const subject = derRaw(der, child(der, tbs, i + 4, DerTag.Sequence));
  const spki = derRaw(der, child(der, tbs, i + 5, DerTag.Sequence));

  const extensions: CertificateExtension[] = [];
  const extWrap = tbs.slice(i + 6).find((n) => n.tag === 0xa3);
  if (extWrap) {
    const list = readDer(der, extWrap.contentStart, extWrap.end);
    for (const e of derChildren(der, list)) {
      const parts = derChildren(der, e);
      const oid = decodeOid(derContent(der, child(der, parts, 0, DerTag.ObjectIdentifier)));
      const critical = parts.length === 3 && derContent(der, child(der, parts, 1, DerTag.Boolean))[0] === 0xff;
      const value = derContent(der, child(der, parts, parts.length - 1, DerTag.OctetString));
      extensions.push({ oid, critical, value });
    }
  }

  let ca: boolean | undefined;
  let keyUsage: number | undefined;
  let subjectKeyId: Buffer | undefined;
  for (const e of extensions) {
    if (e.oid === '2.5.29.19') {
      const seq = derChildren(e.value, readDerExact(e.value, DerTag.Sequence));
      ca = seq[0]?.tag === DerTag.Boolean && e.value[seq[0].contentStart] === 0xff;
    } else if (e.oid === '2.5.29.15') {
      const bits = readDerExact(e.value, DerTag.BitString);
      keyUsage = bits.end - bits.contentStart >= 2 ? e.value[bits.contentStart + 1]! : 0;
    } else if (e.oid === '2.5.29.14') {
      subjectKeyId = derContent(e.value, readDerExact(e.value, DerTag.OctetString));
    }
  }

  return {
    version,
    serial,
    signatureOid,
    digest: signatureOid === '1.2.840.113549.1.1.11' ? 'sha256' : signatureOid === '1.2.840.113549.1.1.5' ? 'sha1' : undefined,
    issuer,
    subject,
    notBefore: decodeTime(nb.tag, derContent(der, nb)),
    notAfter: decodeTime(na.tag, derContent(der, na)),
    spki,
    extensions,
    ca,
    keyUsage,
    subjectKeyId,
  };
}

/**
 * Parses a certificate with node:crypto.
 * @throws ERR_PAIRING_BAD_DER when OpenSSL rejects it
 */
export function loadCertificate(cert: Buffer | string): X509Certificate {
  try {
    return new X509Certificate(cert);
  } catch (e) {
    throw new PairingError('ERR_PAIRING_BAD_DER', 'certificate could not be parsed', { cause: e });
  }
}
