// The trust flow end to end in process: our LockdownClient ⇄ serveLockdown ⇄ the virtual iPhone's lockdown
// device, over an in-memory duplex pair. The virtual user reacts to our TrustEvents (unlock, tap Trust / Don't Trust).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import { generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import { encodePairRecord, parsePairRecord } from '../../../src/pairing/pair-record.ts';
import { pairDevice, unpairDevice, type TrustEvent } from '../../../src/pairing/trust.ts';
import { VirtualLockdownDevice } from '../../../src/virtual-iphone/lockdown-device.ts';

const deviceKey = generateRsaKeyPair().privateKey;
const keys = { rootKey: generateRsaKeyPair().privateKey, hostKey: generateRsaKeyPair().privateKey };
const SYSTEM_BUID = 'F638DDCA-DB83-4496-A0AB-F0DD88F4B25C';

function connect(device: VirtualLockdownDevice): { client: LockdownClient; close(): void } {
  const [host, dev] = duplexPair();
  const served = serveLockdown(dev, device);
  const client = new LockdownClient(host, { label: 'iosdevice-test' });
  return {
    client,
    close: () => {
      client.close();
      served.close();
    },
  };
}

const codeIs = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

test('locked device, then the trust dialog: the virtual user unlocks and taps Trust; the record opens a TLS session', async () => {
  const device = new VirtualLockdownDevice({ trust: 'prompt', locked: true, privateKey: deviceKey });
  const c = connect(device);
  try {
    const events: TrustEvent[] = [];
    const record = await pairDevice(c.client, {
      systemBuid: SYSTEM_BUID,
      retryIntervalMs: 1,
      certificates: keys,
      timeoutMs: 20_000,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'device-locked') device.unlock();
        if (e.type === 'waiting-for-trust') device.tapTrust();
      },
    });
    assert.deepEqual(
      events.map((e) => e.type),
      ['device-locked', 'waiting-for-trust', 'paired'],
    );
    assert.deepEqual(device.trustedHostIds(), [record.HostID]);
    // the device registered exactly our certificates, and got no private key
    const host = device.trustedHost(record.HostID)!;
    assert.deepEqual(host.deviceCertificate, record.DeviceCertificate);
    assert.deepEqual(host.rootCertificate, record.RootCertificate);
    assert.deepEqual(record.EscrowBag, host.escrowBag);
    assert.equal(record.WiFiMACAddress, device.value('WiFiAddress'));
    assert.equal(new X509Certificate(record.DeviceCertificate).publicKey.export({ type: 'pkcs1', format: 'pem' }), device.devicePublicKey.toString());
    // the stored form round-trips and starts a TLS session with the device
    const stored = parsePairRecord(encodePairRecord(record, 'binary'));
    await c.client.startSession(stored, { timeoutMs: 10_000 });
    assert.equal(typeof (await c.client.getValue('ProductVersion', undefined, { timeoutMs: 10_000 })), 'string');
    await c.client.stopSession({ timeoutMs: 10_000 });
    // Unpair: the device forgets us; a new session is refused with InvalidHostID
    await unpairDevice(c.client, stored, { timeoutMs: 10_000 });
    assert.deepEqual(device.trustedHostIds(), []);
    await assert.rejects(c.client.startSession(stored, { timeoutMs: 10_000 }), codeIs('ERR_LOCKDOWN_INVALID_HOST_ID'));
  } finally {
    c.close();
  }
});

test("the virtual user taps Don't Trust: ERR_PAIRING_DENIED and the device trusts nobody", async () => {
  const device = new VirtualLockdownDevice({ trust: 'prompt', privateKey: deviceKey });
  const c = connect(device);
  try {
    const events: TrustEvent[] = [];
    await assert.rejects(
      pairDevice(c.client, {
        systemBuid: SYSTEM_BUID,
        retryIntervalMs: 1,
        certificates: keys,
        timeoutMs: 20_000,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'waiting-for-trust') device.deny();
        },
      }),
      codeIs('ERR_PAIRING_DENIED'),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['waiting-for-trust', 'denied'],
    );
    assert.deepEqual(device.trustedHostIds(), []);
  } finally {
    c.close();
  }
});

test('nobody answers the dialog: the overall timeout ends pairing with ERR_TIMEOUT', async () => {
  const device = new VirtualLockdownDevice({ trust: 'prompt', privateKey: deviceKey });
  const c = connect(device);
  try {
    const events: TrustEvent[] = [];
    await assert.rejects(
      pairDevice(c.client, { systemBuid: SYSTEM_BUID, retryIntervalMs: 5, certificates: keys, timeoutMs: 300, onEvent: (e) => events.push(e) }),
      codeIs('ERR_TIMEOUT'),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['waiting-for-trust', 'timeout'],
    );
  } finally {
    c.close();
  }
});
