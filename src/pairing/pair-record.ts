/**
 * Pair records: the plist dict a host keeps per device after "Trust this computer" (protocol.md §4).
 *
 *   DeviceCertificate, HostCertificate, RootCertificate   <data> PEM certificates
 *   HostPrivateKey, RootPrivateKey                        <data> PEM keys, PKCS#8 (most tools) or PKCS#1 (go-ios)
 *   HostID, SystemBUID                                    <string>
 *   EscrowBag                                             <data>   (optional, from the Pair reply)
 *   WiFiMACAddress                                        <string> (optional)
 *   DevicePublicKey                                       <data>   (optional; idevice stores it)
 *
 * XML and binary serialisations are both read; usbmuxd stores whatever it is given.
 */
import { X509Certificate } from 'node:crypto';
import { encodeBinaryPlist, encodeXmlPlist, parsePlist } from '../plist/index.ts';
import { isPlistDict, type PlistDict, type PlistValue } from '../plist/types.ts';
import { PairingError } from './errors.ts';
import { loadPrivateKey, MAX_PEM_BYTES, pemLabel } from './pem.ts';

/** A pair record. PEM texts are Buffers (plist <data>). */
export interface PairRecord {
  DeviceCertificate: Buffer;
  HostCertificate: Buffer;
  RootCertificate: Buffer;
  HostPrivateKey: Buffer;
  RootPrivateKey: Buffer;
  HostID: string;
  SystemBUID: string;
  EscrowBag?: Buffer;
  WiFiMACAddress?: string;
  DevicePublicKey?: Buffer;
}

/** The part of a record sent in Pair / ValidatePair / Unpair requests: never a private key. */
export interface PublicPairRecord extends PlistDict {
  DeviceCertificate: Buffer;
  HostCertificate: Buffer;
  HostID: string;
  RootCertificate: Buffer;
  SystemBUID: string;
}

/** Caps for parsing a stored record (real records are ~10 KB). */
export const PAIR_RECORD_LIMITS = { maxBytes: 1024 * 1024, maxObjects: 4096, maxDepth: 16 } as const;

const CERT_KEYS = ['DeviceCertificate', 'HostCertificate', 'RootCertificate'] as const;
const KEY_KEYS = ['HostPrivateKey', 'RootPrivateKey'] as const;

function invalid(why: string, cause?: unknown): PairingError {
  return new PairingError('ERR_PAIRING_INVALID_RECORD', `invalid pair record: ${why}`, cause === undefined ? undefined : { cause });
}

function dataField(d: PlistDict, key: string): Buffer {
  const v = d[key];
  // Some writers store PEM as <string>; accept it, keep Buffers internally.
  if (typeof v === 'string') return Buffer.from(v, 'latin1');
  if (!Buffer.isBuffer(v)) throw invalid(v === undefined ? `${key} is missing` : `${key} is not data`);
  return v;
}

function stringField(d: PlistDict, key: string): string {
  const v = d[key];
  if (typeof v !== 'string' || v.length === 0) throw invalid(v === undefined ? `${key} is missing` : `${key} is not a non-empty string`);
  return v;
}

/**
 * Checks a record's fields: certificates parse, keys are RSA PKCS#1/PKCS#8, IDs are non-empty.
 * @throws ERR_PAIRING_INVALID_RECORD (with the underlying error as `cause`)
 */
export function validatePairRecord(r: PairRecord): void {
  for (const k of CERT_KEYS) {
    if (r[k].length > MAX_PEM_BYTES) throw invalid(`${k} is too large`);
    try {
      new X509Certificate(r[k]);
    } catch (e) {
      throw invalid(`${k} is not a certificate`, e);
    }
  }
  for (const k of KEY_KEYS) {
    try {
      loadPrivateKey(r[k]);
    } catch (e) {
      throw invalid(`${k} is not an RSA private key PEM`, e);
    }
  }
  if (!r.HostID || !r.SystemBUID) throw invalid('HostID and SystemBUID must be non-empty');
}

/**
 * A record from a decoded plist value.
 * @throws ERR_PAIRING_INVALID_RECORD
 */
export function pairRecordFromPlist(v: PlistValue): PairRecord {
  if (!isPlistDict(v)) throw invalid('not a dict');
  const r: PairRecord = {
    DeviceCertificate: dataField(v, 'DeviceCertificate'),
    HostCertificate: dataField(v, 'HostCertificate'),
    RootCertificate: dataField(v, 'RootCertificate'),
    HostPrivateKey: dataField(v, 'HostPrivateKey'),
    RootPrivateKey: dataField(v, 'RootPrivateKey'),
    HostID: stringField(v, 'HostID'),
    SystemBUID: stringField(v, 'SystemBUID'),
  };
  if (v.EscrowBag !== undefined) r.EscrowBag = dataField(v, 'EscrowBag');
  if (v.WiFiMACAddress !== undefined) {
    if (typeof v.WiFiMACAddress !== 'string') throw invalid('WiFiMACAddress is not a string');
    r.WiFiMACAddress = v.WiFiMACAddress;
  }
  if (v.DevicePublicKey !== undefined) r.DevicePublicKey = dataField(v, 'DevicePublicKey');
  validatePairRecord(r);
  return r;
}

/**
 * Parses a pair record from XML or binary plist bytes.
 * @throws ERR_PAIRING_INVALID_RECORD (a plist error is kept as `cause`)
 */
export function parsePairRecord(buf: Buffer): PairRecord {
  if (buf.length > PAIR_RECORD_LIMITS.maxBytes) throw invalid(`${buf.length} bytes exceeds the cap of ${PAIR_RECORD_LIMITS.maxBytes}`);
  let v: PlistValue;
  try {
    v = parsePlist(buf, PAIR_RECORD_LIMITS);
  } catch (e) {
    throw invalid('not a plist', e);
  }
  return pairRecordFromPlist(v);
}

/** The record as a plist dict, in libimobiledevice's key order. */
export function pairRecordToPlist(r: PairRecord): PlistDict {
  const d: PlistDict = {
    DeviceCertificate: r.DeviceCertificate,
    HostPrivateKey: r.HostPrivateKey,
    HostCertificate: r.HostCertificate,
    RootPrivateKey: r.RootPrivateKey,
    RootCertificate: r.RootCertificate,
    SystemBUID: r.SystemBUID,
    HostID: r.HostID,
  };
  if (r.EscrowBag) d.EscrowBag = r.EscrowBag;
  if (r.WiFiMACAddress !== undefined) d.WiFiMACAddress = r.WiFiMACAddress;
  if (r.DevicePublicKey) d.DevicePublicKey = r.DevicePublicKey;
  return d;
}

/**
 * Serialises a record (validated first, so a broken record is never written).
 * @param format 'xml' (default; the per-user store) or 'binary' (what libimobiledevice hands usbmuxd)
 * @throws ERR_PAIRING_INVALID_RECORD
 */
export function encodePairRecord(r: PairRecord, format: 'xml' | 'binary' = 'xml'): Buffer {
  validatePairRecord(r);
  const d = pairRecordToPlist(r);
  return format === 'binary' ? encodeBinaryPlist(d) : encodeXmlPlist(d);
}

/**
 * The request form of a record for Pair / ValidatePair / Unpair: the three certificates, HostID and
 * SystemBUID. Both private keys (and EscrowBag) are left out.
 */
export function withoutPrivateKeys(r: Pick<PairRecord, 'DeviceCertificate' | 'HostCertificate' | 'RootCertificate' | 'HostID' | 'SystemBUID'>): PublicPairRecord {
  return {
    DeviceCertificate: r.DeviceCertificate,
    HostCertificate: r.HostCertificate,
    HostID: r.HostID,
    RootCertificate: r.RootCertificate,
    SystemBUID: r.SystemBUID,
  };
}

/** True when the buffer holds PEM text for a private key (used to assert nothing private leaks). */
export function isPrivateKeyPem(b: Buffer | string): boolean {
  return /PRIVATE KEY/.test(pemLabel(b) ?? '');
}
