import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallOpts } from '../../../src/core/abort.ts';
import { AbortError, ClosedError, IDeviceError, TimeoutError } from '../../../src/core/errors.ts';
import { lockdownErrorFor } from '../../../src/lockdown/errors.ts';
import { encodeXmlPlist } from '../../../src/plist/index.ts';
import { isPlistDict, type PlistDict, type PlistValue } from '../../../src/plist/types.ts';
import { generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import { encodePairRecord, type PairRecord } from '../../../src/pairing/pair-record.ts';
import { publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { pairAndSave, pairDevice, unpairDevice, validatePair, type PairingLockdown, type TrustEvent } from '../../../src/pairing/trust.ts';
import { UserRecordStore } from '../../../src/pairing/user-store.ts';

const device = generateRsaKeyPair();
const keys = { rootKey: generateRsaKeyPair().privateKey, hostKey: generateRsaKeyPair().privateKey };
const SYSTEM_BUID = '97A08585-B8BC-4001-8D34-D692E9B8EBE0';
const ESCROW = Buffer.alloc(32, 0xe5);

type Step = 'pending' | 'locked' | 'denied' | 'ok' | 'hang' | 'prohibited';

/** A scripted stand-in for LockdownClient: Pair replies follow `script` (the last step repeats). */
class ScriptedLockdown implements PairingLockdown {
  readonly calls: string[] = [];
  readonly requests: PlistDict[] = [];
  constructor(
    private readonly script: Step[],
    private readonly opts: { type?: string; devicePublicKey?: PlistValue; wifi?: string | Error } = {},
  ) {}
  async queryType(_o?: CallOpts): Promise<string> {
    this.calls.push('QueryType');
    return this.opts.type ?? 'com.apple.mobile.lockdown';
  }
  async getValue(key?: string, _domain?: string, _o?: CallOpts): Promise<PlistValue> {
    this.calls.push(`GetValue ${key}`);
    if (key === 'DevicePublicKey') return this.opts.devicePublicKey ?? publicKeyToPkcs1Pem(device.publicKey);
    if (key === 'WiFiAddress') {
      const w = this.opts.wifi ?? '38:53:9c:b4:0f:17';
      if (w instanceof Error) throw w;
      return w;
    }
    throw lockdownErrorFor('MissingValue', 'GetValue');
  }
  request(req: PlistDict, _o?: CallOpts): Promise<PlistDict> {
    this.calls.push(String(req.Request));
    this.requests.push(req);
    if (req.Request !== 'Pair') return Promise.resolve({ Request: req.Request! });
    const step = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
    switch (step) {
      case 'pending':
        return Promise.reject(lockdownErrorFor('PairingDialogResponsePending', 'Pair'));
      case 'locked':
        return Promise.reject(lockdownErrorFor('PasswordProtected', 'Pair'));
      case 'denied':
        return Promise.reject(lockdownErrorFor('UserDeniedPairing', 'Pair'));
      case 'prohibited':
        return Promise.reject(lockdownErrorFor('PairingProhibitedOverThisConnection', 'Pair'));
      case 'hang':
        return new Promise(() => {}); // a device that never answers (ignores the signal, as a broken client might)
      case 'ok':
        return Promise.resolve({ Request: 'Pair', EscrowBag: ESCROW });
    }
  }
}

function recorder(): { events: TrustEvent[]; onEvent: (e: TrustEvent) => void } {
  const events: TrustEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

const base = { systemBuid: SYSTEM_BUID, retryIntervalMs: 0, certificates: keys };
const codeIs = (code: string, cls?: new (...a: never[]) => Error) => (e: unknown) => e instanceof IDeviceError && e.code === code && (!cls || e instanceof cls);

/** Every string and data value in a plist value, recursively. */
function leaves(v: PlistValue): (string | Buffer)[] {
  if (typeof v === 'string' || Buffer.isBuffer(v)) return [v];
  if (Array.isArray(v)) return v.flatMap(leaves);
  if (isPlistDict(v)) return Object.entries(v).flatMap(([k, x]) => [k, ...leaves(x)]);
  return [];
}

function assertNoPrivateKey(req: PlistDict, record: PairRecord): void {
  for (const leaf of leaves(req)) {
    const s = leaf.toString();
    assert.doesNotMatch(s, /PRIVATE KEY|PrivateKey/);
    for (const k of [record.HostPrivateKey, record.RootPrivateKey]) {
      const body = k.toString().split('\n')[5]!; // a line from the middle of the key's base64
      assert.ok(!s.includes(body), 'private key material in the request');
    }
  }
  const wire = encodeXmlPlist(req).toString();
  for (const k of [record.HostPrivateKey, record.RootPrivateKey]) assert.ok(!wire.includes(k.toString('base64').slice(40, 80)));
}

test('pending ×3 then accepted: one waiting event, then paired; §4 order; full record', async () => {
  const ld = new ScriptedLockdown(['pending', 'pending', 'pending', 'ok']);
  const { events, onEvent } = recorder();
  const record = await pairDevice(ld, { ...base, onEvent });
  assert.deepEqual(ld.calls, ['QueryType', 'GetValue DevicePublicKey', 'GetValue WiFiAddress', 'Pair', 'Pair', 'Pair', 'Pair']);
  assert.deepEqual(events, [
    { type: 'waiting-for-trust', attempt: 1 },
    { type: 'paired', hostId: record.HostID },
  ]);
  assert.match(record.HostID, /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  assert.equal(record.SystemBUID, SYSTEM_BUID);
  assert.deepEqual(record.EscrowBag, ESCROW);
  assert.equal(record.WiFiMACAddress, '38:53:9c:b4:0f:17');
  const root = new X509Certificate(record.RootCertificate);
  const dev = new X509Certificate(record.DeviceCertificate);
  assert.ok(dev.verify(root.publicKey) && new X509Certificate(record.HostCertificate).verify(root.publicKey));
  assert.equal(dev.publicKey.export({ type: 'pkcs1', format: 'pem' }), publicKeyToPkcs1Pem(device.publicKey).toString());
  encodePairRecord(record); // valid, storable
  // every Pair request: the §4 step 5 shape, never a private key
  for (const req of ld.requests) {
    assert.deepEqual(Object.keys(req).sort(), ['PairRecord', 'PairingOptions', 'ProtocolVersion', 'Request']);
    assert.equal(req.ProtocolVersion, '2');
    assert.deepEqual(req.PairingOptions, { ExtendedPairingErrors: true });
    const pr = req.PairRecord as PlistDict;
    assert.deepEqual(Object.keys(pr).sort(), ['DeviceCertificate', 'HostCertificate', 'HostID', 'RootCertificate', 'SystemBUID']);
    assert.deepEqual(pr.DeviceCertificate, record.DeviceCertificate);
    assert.equal(pr.HostID, record.HostID);
    assertNoPrivateKey(req, record);
  }
});

test('locked, then unlocked (dialog), then accepted: device-locked → waiting-for-trust → paired', async () => {
  const ld = new ScriptedLockdown(['locked', 'locked', 'pending', 'pending', 'ok']);
  const { events, onEvent } = recorder();
  const record = await pairDevice(ld, { ...base, onEvent, hostId: 'FIXED-HOST-ID' });
  assert.deepEqual(events, [
    { type: 'device-locked', attempt: 1 },
    { type: 'waiting-for-trust', attempt: 3 },
    { type: 'paired', hostId: 'FIXED-HOST-ID' },
  ]);
  assert.equal(ld.calls.filter((c) => c === 'Pair').length, 5);
  assert.equal(record.HostID, 'FIXED-HOST-ID');
});

test('denied: typed ERR_PAIRING_DENIED with the lockdown error as cause; no more Pair attempts', async () => {
  const ld = new ScriptedLockdown(['pending', 'denied', 'ok']);
  const { events, onEvent } = recorder();
  const err = await pairDevice(ld, { ...base, onEvent }).then(
    () => assert.fail('should not pair'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PairingError);
  assert.equal(err.code, 'ERR_PAIRING_DENIED');
  assert.ok(codeIs('ERR_LOCKDOWN_USER_DENIED_PAIRING')(err.cause));
  assert.deepEqual(events, [{ type: 'waiting-for-trust', attempt: 1 }, { type: 'denied' }]);
  assert.equal(ld.calls.filter((c) => c === 'Pair').length, 2);
});

test('timeout while the dialog stays pending: ERR_TIMEOUT and a timeout event', async () => {
  const ld = new ScriptedLockdown(['pending']);
  const { events, onEvent } = recorder();
  await assert.rejects(pairDevice(ld, { ...base, retryIntervalMs: 5, timeoutMs: 60, onEvent }), codeIs('ERR_TIMEOUT', TimeoutError));
  assert.deepEqual(events[0], { type: 'waiting-for-trust', attempt: 1 });
  assert.deepEqual(events.at(-1), { type: 'timeout' });
  assert.equal(events.length, 2);
});

test('timeout while a Pair request never gets an answer', async () => {
  const ld = new ScriptedLockdown(['hang']);
  const { events, onEvent } = recorder();
  await assert.rejects(pairDevice(ld, { ...base, timeoutMs: 30, onEvent }), codeIs('ERR_TIMEOUT', TimeoutError));
  assert.deepEqual(events, [{ type: 'timeout' }]);
});

test('abort from the UI while waiting: ERR_ABORTED, an aborted event, no further Pair', async () => {
  const ld = new ScriptedLockdown(['pending']);
  const ac = new AbortController();
  const events: TrustEvent[] = [];
  const p = pairDevice(ld, {
    ...base,
    retryIntervalMs: 60_000, // the abort must cut the wait short
    signal: ac.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'waiting-for-trust') ac.abort();
    },
  });
  await assert.rejects(p, codeIs('ERR_ABORTED', AbortError));
  assert.deepEqual(events, [{ type: 'waiting-for-trust', attempt: 1 }, { type: 'aborted' }]);
  assert.equal(ld.calls.filter((c) => c === 'Pair').length, 1);
});

test('an already-aborted signal: ERR_ABORTED before anything is sent', async () => {
  const ld = new ScriptedLockdown(['ok']);
  const ac = new AbortController();
  ac.abort();
  const { events, onEvent } = recorder();
  await assert.rejects(pairDevice(ld, { ...base, signal: ac.signal, onEvent }), codeIs('ERR_ABORTED'));
  assert.deepEqual(ld.calls, []);
  assert.deepEqual(events, [{ type: 'aborted' }]);
});

test('other lockdown errors propagate unchanged (e.g. PairingProhibitedOverThisConnection)', async () => {
  const ld = new ScriptedLockdown(['prohibited']);
  await assert.rejects(pairDevice(ld, base), (e: unknown) => deviceError(e) === 'PairingProhibitedOverThisConnection');
});
function deviceError(e: unknown): string | undefined {
  return (e as { error?: string }).error;
}

test('not a lockdown service, or a bad DevicePublicKey: typed errors, nothing sent to Pair', async () => {
  const restore = new ScriptedLockdown(['ok'], { type: 'com.apple.mobile.restored' });
  await assert.rejects(pairDevice(restore, base), codeIs('ERR_PAIRING_NOT_LOCKDOWN'));
  for (const devicePublicKey of [Buffer.from('junk'), 42, Buffer.from('-----BEGIN RSA PUBLIC KEY-----\nAA==\n-----END RSA PUBLIC KEY-----\n')]) {
    const ld = new ScriptedLockdown(['ok'], { devicePublicKey });
    await assert.rejects(pairDevice(ld, base), codeIs('ERR_PAIRING_BAD_DEVICE_KEY'));
    assert.ok(!ld.calls.includes('Pair'));
  }
  await assert.rejects(pairDevice(new ScriptedLockdown(['ok']), { ...base, systemBuid: '' }), codeIs('ERR_INVALID_ARG'));
});

test('WiFiAddress refused by the device is not fatal; a closed connection is', async () => {
  const refused = await pairDevice(new ScriptedLockdown(['ok'], { wifi: lockdownErrorFor('MissingValue', 'GetValue') }), base);
  assert.equal(refused.WiFiMACAddress, undefined);
  await assert.rejects(pairDevice(new ScriptedLockdown(['ok'], { wifi: new ClosedError('lockdown GetValue') }), base), codeIs('ERR_CLOSED'));
});

test('keys are generated (asynchronously) when not injected: separate root and host keys', async () => {
  const record = await pairDevice(new ScriptedLockdown(['ok']), { systemBuid: SYSTEM_BUID, retryIntervalMs: 0 });
  assert.ok(!record.RootPrivateKey.equals(record.HostPrivateKey));
  encodePairRecord(record);
});

test('validatePair and unpairDevice send the record without private keys', async () => {
  const record = await pairDevice(new ScriptedLockdown(['ok']), base);
  const ld = new ScriptedLockdown(['ok']);
  await validatePair(ld, record);
  await unpairDevice(ld, record);
  assert.deepEqual(ld.calls, ['ValidatePair', 'Unpair']);
  for (const req of ld.requests) {
    assert.equal(req.ProtocolVersion, '2');
    assert.deepEqual(Object.keys(req.PairRecord as PlistDict).sort(), ['DeviceCertificate', 'HostCertificate', 'HostID', 'RootCertificate', 'SystemBUID']);
    assertNoPrivateKey(req, record);
  }
});

test('pairAndSave: the store SystemBUID is used and the record saved; a denied pairing leaves no file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-trust-'));
  try {
    const store = new UserRecordStore(dir);
    const udid = '00008020-001134490E50003A';
    await assert.rejects(pairAndSave(new ScriptedLockdown(['denied']), store, udid, { retryIntervalMs: 0, certificates: keys }), codeIs('ERR_PAIRING_DENIED'));
    assert.deepEqual(readdirSync(dir), ['SystemConfiguration.plist']);
    const record = await pairAndSave(new ScriptedLockdown(['pending', 'ok']), store, udid, { retryIntervalMs: 0, certificates: keys });
    assert.equal(record.SystemBUID, await store.systemBuid());
    assert.deepEqual(await store.read(udid), record);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
