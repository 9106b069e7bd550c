/**
 * PEM armour (RFC 7468) and RSA key loading for pair records. Pure, no I/O.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { PairingError } from './errors.ts';

/** Largest PEM text we accept for one key or certificate (an RSA-4096 key is ~3.3 KB). */
export const MAX_PEM_BYTES = 64 * 1024;

/** DER → PEM text with 64-column base64 and a trailing newline. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/**
 * The DER inside the first PEM block (optionally with the given label).
 * @throws ERR_PAIRING_BAD_DER when there is no such block or it is over {@link MAX_PEM_BYTES}
 */
export function pemToDer(pem: Buffer | string, label?: string): Buffer {
  const len = typeof pem === 'string' ? pem.length : pem.length;
  if (len > MAX_PEM_BYTES) throw new PairingError('ERR_PAIRING_BAD_DER', `PEM of ${len} bytes exceeds the cap of ${MAX_PEM_BYTES}`);
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/.exec(text);
  if (!m || (label !== undefined && m[1] !== label)) throw new PairingError('ERR_PAIRING_BAD_DER', label ? `no PEM ${label} block found` : 'no PEM block found');
  return Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
}

/** The label of the first PEM block ("CERTIFICATE", "RSA PUBLIC KEY", …), or undefined. */
export function pemLabel(pem: Buffer | string): string | undefined {
  const text = typeof pem === 'string' ? pem.slice(0, 200) : pem.subarray(0, 200).toString('latin1');
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
}

/**
 * Loads an RSA private key from PEM: PKCS#8 `BEGIN PRIVATE KEY` (libimobiledevice, pmd3, Apple) or
 * PKCS#1 `BEGIN RSA PRIVATE KEY` (go-ios). Encrypted keys are rejected.
 * @throws ERR_PAIRING_INVALID_KEY
 */
export function loadPrivateKey(pem: Buffer | string): KeyObject {
  const label = pemLabel(pem);
  if (label !== 'PRIVATE KEY' && label !== 'RSA PRIVATE KEY') {
    throw new PairingError('ERR_PAIRING_INVALID_KEY', `expected a PKCS#8 or PKCS#1 private key PEM, got ${label ?? 'no PEM'}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new PairingError('ERR_PAIRING_INVALID_KEY', 'private key PEM could not be parsed', { cause: e });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new PairingError('ERR_PAIRING_INVALID_KEY', `expected an RSA key, got ${key.asymmetricKeyType}`);
  return key;
}

/**
 * Loads an RSA public key from PEM: PKCS#1 `BEGIN RSA PUBLIC KEY` (what devices send as DevicePublicKey)
 * or SPKI `BEGIN PUBLIC KEY`.
 * @throws ERR_PAIRING_INVALID_KEY
 */
export function loadPublicKey(pem: Buffer | string): KeyObject {
  const label = pemLabel(pem);
  if (label !== 'RSA PUBLIC KEY' && label !== 'PUBLIC KEY') {
    throw new PairingError('ERR_PAIRING_INVALID_KEY', `expected an RSA PUBLIC KEY or PUBLIC KEY PEM, got ${label ?? 'no PEM'}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new PairingError('ERR_PAIRING_INVALID_KEY', 'public key PEM could not be parsed', { cause: e });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new PairingError('ERR_PAIRING_INVALID_KEY', `expected an RSA key, got ${key.asymmetricKeyType}`);
  return key;
}

/** PKCS#8 PEM (`BEGIN PRIVATE KEY`) of a private key, as pair records store it. */
export function privateKeyToPem(key: KeyObject): Buffer {
  return Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }) as string, 'latin1');
}

/** PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`) of an RSA public key, as a device reports DevicePublicKey. */
export function publicKeyToPkcs1Pem(key: KeyObject): Buffer {
  return Buffer.from(key.export({ type: 'pkcs1', format: 'pem' }) as string, 'latin1');
}
