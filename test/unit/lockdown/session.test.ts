import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectPair, makeDevice, makeRecord, pairRequest } from './helpers.ts';

test('Pair, StartSession (TLS), GetValue inside TLS, StopSession, plaintext GetValue on the same stream', async () => {
  const device = makeDevice();
  const record = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    assert.equal(await client.queryType(), 'com.apple.mobile.lockdown');
    const reply = await client.request({ Request: 'Pair', PairRecord: pairRequest(record), PairingOptions: { ExtendedPairingErrors: true } });
    assert.ok(Buffer.isBuffer(reply.EscrowBag));
    const { sessionId } = await client.startSession(record);
    assert.match(sessionId, /^[0-9A-F-]{36}$/);
    assert.ok(client.tlsSocket);
    assert.equal(client.tlsSocket.getPeerX509Certificate()?.raw.equals(new (await import('node:crypto')).X509Certificate(record.DeviceCertificate).raw), true);
    assert.equal(await client.getValue('SerialNumber'), 'F2LZK0ABCDEF');
    assert.equal(await client.getValue('BatteryCurrentCapacity', 'com.apple.mobile.battery'), 87);
    await client.stopSession();
    assert.equal(client.tlsSocket, undefined);
    assert.equal(await client.getValue('ProductVersion'), '17.5.1');
    await assert.rejects(client.getValue('SerialNumber'), { code: 'ERR_LOCKDOWN_GET_PROHIBITED' });
    // and a second session on the same stream
    await client.startSession(record);
    assert.equal(await client.getValue('SerialNumber'), 'F2LZK0ABCDEF');
    await client.stopSession();
    await client.goodbye();
  } finally {
    client.close();
    server.close();
  }
});

test('pinDeviceCertificate: the device must present the record\'s DeviceCertificate', async () => {
  const device = makeDevice();
  const record = makeRecord(device);
  const other = makeRecord(device, 'sha1'); // a different certificate over the same key
  const { client, server } = connectPair(device);
  try {
    await client.request({ Request: 'Pair', PairRecord: pairRequest(record) });
    await client.startSession(record, { pinDeviceCertificate: true });
    await client.stopSession();
    // a record whose DeviceCertificate is not what the device presents (the device trusts record.HostID)
    await assert.rejects(client.startSession({ ...record, DeviceCertificate: other.DeviceCertificate }, { pinDeviceCertificate: true }), {
      code: 'ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH',
    });
    assert.equal(client.closed, true);
  } finally {
    client.close();
    server.close();
  }
});
