import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownClient, type SessionCredentials } from '../../../src/lockdown/client.ts';
import { serveLockdown, type LockdownServerConnection } from '../../../src/lockdown/server.ts';
import { generatePairingCertificates } from '../../../src/pairing/certificates.ts';
import { VirtualLockdownDevice, type VirtualLockdownDeviceOptions } from '../../../src/virtual-iphone/lockdown-device.ts';

// RSA key generation is the slow part: share keys across tests in one file.
let keys: { device: KeyObject; root: KeyObject; host: KeyObject } | undefined;
export function testKeys(): { device: KeyObject; root: KeyObject; host: KeyObject } {
  const gen = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  keys ??= { device: gen(), root: gen(), host: gen() };
  return keys;
}

export function makeDevice(opts: VirtualLockdownDeviceOptions = {}): VirtualLockdownDevice {
  return new VirtualLockdownDevice({ udid: '00008120-001A2B3C4D5E6F70', privateKey: testKeys().device, ...opts });
}

/** A full pair record for `device` (certificates from our pairing code). */
export function makeRecord(device: VirtualLockdownDevice, digest: 'sha1' | 'sha256' = 'sha256'): SessionCredentials & {
  DeviceCertificate: Buffer;
  RootCertificate: Buffer;
  RootPrivateKey: Buffer;
} {
  const k = testKeys();
  const certs = generatePairingCertificates(device.devicePublicKey, { rootKey: k.root, hostKey: k.host, digest });
  return { ...certs, HostID: randomUUID().toUpperCase(), SystemBUID: randomUUID().toUpperCase() };
}

/** Client and virtual lockdownd joined by an in-memory duplex pair. */
export function connectPair(device: VirtualLockdownDevice, label = 'test'): { client: LockdownClient; server: LockdownServerConnection } {
  const [a, b] = duplexPair();
  const server = serveLockdown(b, device);
  const client = new LockdownClient(a, { label, env: {} });
  return { client, server };
}

/** The Pair request body as the trust flow sends it (no private keys). */
export function pairRequest(r: ReturnType<typeof makeRecord>): Record<string, string | Buffer> {
  return {
    DeviceCertificate: r.DeviceCertificate,
    HostCertificate: r.HostCertificate,
    RootCertificate: r.RootCertificate,
    HostID: r.HostID,
    SystemBUID: r.SystemBUID,
  };
}
