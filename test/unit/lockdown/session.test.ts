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
