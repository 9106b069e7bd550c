import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { encodeLockdownFrame, LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import { generatePairingCertificates } from '../../../src/pairing/certificates.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { connectPair, makeDevice, makeRecord, pairRequest, testKeys } from './helpers.ts';

async function paired(opts: Parameters<typeof makeDevice>[0] = {}) {
  const device = makeDevice(opts);
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
  return { device, record, client, server };
}

test('QueryType, pre-session values, GetProhibited and MissingValue as a real device answers', async () => {
  const device = makeDevice({ deviceName: 'Test Phone' });
  const { client, server } = connectPair(device);
  try {
    const r = await client.request({ Request: 'GetValue', Key: 'DeviceName' });
    assert.deepEqual(r, { Key: 'DeviceName', Request: 'GetValue', Value: 'Test Phone' });
    assert.equal(await client.getValue('ProductVersion'), '17.5.1');
    assert.equal(client.productVersion, '17.5.1');
    assert.equal(await client.getValue('MobileDeviceMinimumVersion'), '1351');
    const pk = (await client.getValue('DevicePublicKey')) as Buffer;
    assert.match(pk.toString('latin1'), /^-----BEGIN RSA PUBLIC KEY-----\n/);
    assert.equal(typeof (await client.getValue('WiFiAddress')), 'string');
    const all = (await client.getValue()) as PlistDict;
    assert.equal(all.UniqueDeviceID, device.udid);
    assert.equal(all.SerialNumber, undefined, 'not readable before a session');
    await assert.rejects(client.getValue('SerialNumber'), { code: 'ERR_LOCKDOWN_GET_PROHIBITED' });
    await assert.rejects(client.getValue('NoSuchKey'), { code: 'ERR_LOCKDOWN_MISSING_VALUE' });
    await assert.rejects(client.getValue(undefined, 'com.apple.mobile.battery'), { code: 'ERR_LOCKDOWN_GET_PROHIBITED' });
    await assert.rejects(client.setValue('DeviceName', 'x'), { code: 'ERR_LOCKDOWN_SET_PROHIBITED' });
    await assert.rejects(client.startService('com.apple.afc'), { code: 'ERR_LOCKDOWN_SESSION_INACTIVE' });
    await assert.rejects(client.request({ Request: 'NoSuchRequest' }), { code: 'ERR_LOCKDOWN_UNKNOWN', error: 'InvalidRequest' });
    await assert.rejects(client.request({ Request: 'StopSession', SessionID: 'x' }), { code: 'ERR_LOCKDOWN_SESSION_INACTIVE' });
  } finally {
    client.close();
    server.close();
  }
});

test('inside a session: domains, SetValue/RemoveValue, StartService through the services hook', async () => {
  const calls: string[] = [];
  const { record, client, server } = await paired({
    startService: (name, o) => {
      calls.push(`${name}:${o.escrowBag?.length ?? 0}`);
      return name === 'com.apple.afc' ? { port: 49152, enableServiceSSL: false } : undefined;
    },
  });
  try {
    await client.startSession(record);
    assert.equal(await client.getValue('TotalDiskCapacity', 'com.apple.disk_usage'), 128_000_000_000);
    const battery = (await client.getValue(undefined, 'com.apple.mobile.battery')) as PlistDict;
    assert.equal(battery.BatteryIsCharging, true);
    await client.setValue('DeviceName', 'Renamed');
    assert.equal(await client.getValue('DeviceName'), 'Renamed');
    await assert.rejects(client.setValue('ProductVersion', '1.0'), { code: 'ERR_LOCKDOWN_SET_PROHIBITED' });
    await client.setValue('Custom', 7, 'com.example.test');
    assert.equal(await client.getValue('Custom', 'com.example.test'), 7);
    await client.removeValue('Custom', 'com.example.test');
    await assert.rejects(client.getValue('Custom', 'com.example.test'), { code: 'ERR_LOCKDOWN_MISSING_VALUE' });
    assert.deepEqual(await client.startService('com.apple.afc', { escrowBag: Buffer.alloc(32) }), { port: 49152, enableServiceSSL: false });
    await assert.rejects(client.startService('com.apple.nope'), { code: 'ERR_LOCKDOWN_INVALID_SERVICE', name: 'ServiceError' });
    assert.deepEqual(calls, ['com.apple.afc:32', 'com.apple.nope:0']);
    await assert.rejects(client.startSession(record), { code: 'ERR_LOCKDOWN_SESSION_ACTIVE' });
  } finally {
    client.close();
    server.close();
  }
});

test('trust dialog: pending until the virtual user taps Trust, then paired with an EscrowBag', async () => {
  const device = makeDevice({ trust: 'prompt' });
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    const dialog = once(device, 'dialog');
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), {
      code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING',
      name: 'PairingDialogResponsePendingError',
    });
    assert.deepEqual(await dialog, [record.HostID]);
    assert.equal(device.pendingDialog, record.HostID);
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(device.tapTrust(), true);
    const r = await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    assert.equal((r.EscrowBag as Buffer).length, 32);
    assert.deepEqual(device.trustedHostIds(), [record.HostID]);
    await client.request({ Request: 'ValidatePair', PairRecord: pairRequest(record) });
  } finally {
    client.close();
    server.close();
  }
});

test('locked: PasswordProtected until unlocked; deny: UserDeniedPairing; policy deny', async () => {
  const device = makeDevice({ trust: 'prompt', locked: true });
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), {
      code: 'ERR_LOCKDOWN_PASSWORD_PROTECTED',
      name: 'PasswordProtectedError',
    });
    assert.equal(device.pendingDialog, undefined, 'no dialog while locked');
    device.unlock();
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(device.deny(), true);
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), {
      code: 'ERR_LOCKDOWN_USER_DENIED_PAIRING',
      name: 'UserDeniedPairingError',
    });
    assert.deepEqual(device.trustedHostIds(), []);
    device.trust = 'deny';
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), { code: 'ERR_LOCKDOWN_USER_DENIED_PAIRING' });
  } finally {
    client.close();
    server.close();
  }
});

test('auto trust with a delay: the dialog is answered by itself', async () => {
  const device = makeDevice({ trust: 'auto', trustDelayMs: 5 });
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(record) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    // wait for the virtual user's tap (the timer) deterministically: poll the state via the event loop, no sleeps
    while (device.pendingDialog) await new Promise((r) => setImmediate(r));
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    assert.deepEqual(device.trustedHostIds(), [record.HostID]);
  } finally {
    client.close();
    server.close();
  }
});

test('InvalidHostID for unknown hosts and after the device forgets the host; Unpair', async () => {
  const { device, record, client, server } = await paired();
  try {
    await assert.rejects(client.startSession({ ...record, HostID: randomUUID().toUpperCase() }), {
      code: 'ERR_LOCKDOWN_INVALID_HOST_ID',
      name: 'InvalidHostIdError',
    });
    await client.startSession(record);
    await client.stopSession();
    assert.equal(device.forgetHost(record.HostID), true);
    await assert.rejects(client.startSession(record), { code: 'ERR_LOCKDOWN_INVALID_HOST_ID' });
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    await client.request({ Request: 'Unpair', PairRecord: pairRequest(record) });
    await assert.rejects(client.request({ Request: 'ValidatePair', PairRecord: pairRequest(record) }), { code: 'ERR_LOCKDOWN_INVALID_HOST_ID' });
  } finally {
    client.close();
    server.close();
  }
});

test('Pair rejects a record whose DeviceCertificate is not for this device, or lacks fields', async () => {
  const device = makeDevice();
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'pkcs1', format: 'pem' });
  const k = testKeys();
  const wrong = generatePairingCertificates(other, { rootKey: k.root, hostKey: k.host });
  const { client, server } = connectPair(device);
  try {
    const pr = { ...wrong, HostID: randomUUID().toUpperCase(), SystemBUID: randomUUID().toUpperCase() };
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(pr) }), { code: 'ERR_LOCKDOWN_INVALID_PAIR_RECORD' });
    await assert.rejects(client.request({ Request: 'Pair' }), { code: 'ERR_LOCKDOWN_MISSING_PAIR_RECORD' });
    const noHost: Record<string, unknown> = pairRequest(makeRecord(device));
    delete noHost.HostID;
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: noHost as PlistDict }), { code: 'ERR_LOCKDOWN_MISSING_HOST_ID' });
  } finally {
    client.close();
    server.close();
  }
});

test('SHA-1 certificates (idevicepair 1.3.0 profile) and the RootCertificate as client certificate are accepted', async () => {
  const device = makeDevice();
  const record = makeRecord(device, 'sha1');
  const { client, server } = connectPair(device);
  try {
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    await client.startSession(record, { useRootCertificate: true });
    assert.equal(await client.getValue('SerialNumber'), 'F2LZK0ABCDEF');
  } finally {
    client.close();
    server.close();
  }
});

test('a client certificate the device does not know gets the connection closed', async () => {
  const { device, record, client, server } = await paired();
  // certificates from other keys, never registered with the device
  const gen = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const stranger = generatePairingCertificates(device.devicePublicKey, { rootKey: gen(), hostKey: gen() });
  try {
    await client.startSession({ ...record, HostCertificate: stranger.HostCertificate, HostPrivateKey: stranger.HostPrivateKey }).catch(() => undefined);
    // the device closes right after the handshake
    const err = await server.closed;
    assert.equal(err, undefined);
    await assert.rejects(client.getValue('SerialNumber'), { code: 'ERR_CLOSED' });
  } finally {
    client.close();
    server.close();
  }
});

test('garbage closes the connection only; a reply always echoes Request', async () => {
  const device = makeDevice();
  const [a, b] = duplexPair();
  const server = serveLockdown(b, device);
  const d = new LockdownFrameDecoder();
  a.on('data', (c: Buffer) => d.push(c));
  const [h, body] = encodeLockdownFrame({ Request: 'QueryType', Label: 'raw' });
  a.write(Buffer.concat([h, body]));
  await once(a, 'data');
  assert.deepEqual(d.next(), { Request: 'QueryType', Type: 'com.apple.mobile.lockdown' });
  a.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  const err = await server.closed;
  assert.equal(err?.code, 'ERR_PROTOCOL_TOO_LARGE');
  assert.equal(b.destroyed, true);
});

test('StopSession with close_notify then plaintext, and a client that just closes after StopSession', async () => {
  const { record, client, server } = await paired();
  await client.startSession(record);
  await client.stopSession();
  assert.equal(await client.queryType(), 'com.apple.mobile.lockdown');
  client.close();
  assert.equal(await server.closed, undefined, 'a close after StopSession is clean');

  const second = await paired();
  await second.client.startSession(second.record);
  await second.client.request({ Request: 'StopSession', SessionID: second.client.sessionId! });
  second.client.close(); // no close_notify at all
  assert.equal(await second.server.closed, undefined);
});

test('Goodbye: the device answers, then closes', async () => {
  const device = makeDevice();
  const [a, b] = duplexPair();
  const server = serveLockdown(b, device);
  const client = new LockdownClient(a, { env: {} });
  await client.goodbye();
  assert.equal(await server.closed, undefined);
  client.close();
});
