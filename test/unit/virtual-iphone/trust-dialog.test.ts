import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { connectPair, makeDevice, makeRecord, pairRequest } from '../lockdown/helpers.ts';

const newHostId = (): string => randomUUID().toUpperCase();

test('trust dialog is per host computer: the retry after Trust carries a new HostID (idevicepair before it saved a record) and is accepted', async () => {
  const device = makeDevice({ trust: 'prompt' });
  const first = makeRecord(device);
  const retry = { ...first, HostID: newHostId() };
  const { client, server } = connectPair(device);
  try {
    const dialog = once(device, 'dialog');
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(first) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.deepEqual(await dialog, [first.HostID]);
    let dialogs = 0;
    device.on('dialog', () => dialogs++);
    // same computer, new HostID, dialog still undecided: still pending, no second dialog
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(retry) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(dialogs, 0);
    assert.equal(device.pendingDialog, retry.HostID);
    assert.equal(device.tapTrust(), true);
    const third = { ...first, HostID: newHostId() };
    const r = await client.request({ Request: 'Pair', PairRecord: pairRequest(third) });
    assert.equal((r.EscrowBag as Buffer).length, 32);
    assert.deepEqual(device.trustedHostIds(), [third.HostID]);
    // the answer was used up: another new HostID from that computer asks again
    const fourth = { ...first, HostID: newHostId() };
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(fourth) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(dialogs, 1);
    await client.startSession(third);
    await client.stopSession();
    assert.equal(device.forgetHost(third.HostID), true);
    await assert.rejects(client.startSession(third), { code: 'ERR_LOCKDOWN_INVALID_HOST_ID', name: 'InvalidHostIdError' });
  } finally {
    client.close();
    server.close();
  }
});

test('trust dialog: "Don\'t Trust" answers the computer, not one HostID; another computer gets its own dialog', async () => {
  const device = makeDevice({ trust: 'prompt' });
  const a = makeRecord(device);
  const b = makeRecord(device);
  const { client, server } = connectPair(device);
  try {
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(a) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    const denied = once(device, 'denied');
    assert.equal(device.deny(), true);
    assert.deepEqual(await denied, [a.HostID]);
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest({ ...a, HostID: newHostId() }) }), {
      code: 'ERR_LOCKDOWN_USER_DENIED_PAIRING',
      name: 'UserDeniedPairingError',
    });
    const dialog = once(device, 'dialog');
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(b) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.deepEqual(await dialog, [b.HostID]);
    // a's computer comes back while b's dialog is up: b's dialog is replaced, a is asked afresh
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(a) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(device.pendingDialog, a.HostID);
    assert.equal(device.tapTrust(), true);
    const aRetry = { ...a, HostID: newHostId() };
    await client.request({ Request: 'Pair', PairRecord: pairRequest(aRetry) });
    assert.deepEqual(device.trustedHostIds(), [aRetry.HostID]);
  } finally {
    client.close();
    server.close();
  }
});

test('trust dialog falls back to the HostID when the record has an empty SystemBUID', async () => {
  const device = makeDevice({ trust: 'prompt' });
  const rec = { ...makeRecord(device), SystemBUID: '' };
  const { client, server } = connectPair(device);
  try {
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(rec) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.equal(device.tapTrust(), true);
    const other = { ...rec, HostID: newHostId() };
    const dialog = once(device, 'dialog');
    await assert.rejects(client.request({ Request: 'Pair', PairRecord: pairRequest(other) }), { code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' });
    assert.deepEqual(await dialog, [other.HostID]);
    assert.deepEqual(device.trustedHostIds(), []);
  } finally {
    client.close();
    server.close();
  }
});
