import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDeviceError } from '../../../src/core/errors.ts';
import { encodeBinaryPlist, encodeXmlPlist, parsePlist } from '../../../src/plist/index.ts';
import { generatePairingCertificates, generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import { pairRecordToPlist, type PairRecord } from '../../../src/pairing/pair-record.ts';
import { publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { chooseStore, UsbmuxdRecordStore, type UsbmuxRecordClient } from '../../../src/providers/usbmuxd-records.ts';
import { defaultUserStoreDir, UserRecordStore } from '../../../src/pairing/user-store.ts';

const UDID = '00008020-001134490E50003A';
const record: PairRecord = {
  ...generatePairingCertificates(publicKeyToPkcs1Pem(generateRsaKeyPair().publicKey)),
  HostID: '5B1B7C44-2D1D-4C5E-9B7A-3E2F1D0C9B8A',
  SystemBUID: 'C0FFEE00-1111-4222-8333-444455556666',
  EscrowBag: Buffer.alloc(32, 1),
  WiFiMACAddress: 'aa:bb:cc:dd:ee:ff',
};

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iosdevice-store-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const mode = (p: string): number => statSync(p).mode & 0o777;
const codeIs = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

test(
  'user store: save creates dir 0700 and <UDID>.plist 0600 (XML), reads back, no temp files left',
  withTempDir(async (tmp) => {
    const dir = join(tmp, 'a', 'b', 'lockdown');
    const store = new UserRecordStore(dir);
    assert.equal(store.kind, 'user');
    assert.equal(await store.read(UDID), undefined);
    await store.save(UDID, record);
    assert.equal(mode(dir), 0o700);
    const file = join(dir, `${UDID}.plist`);
    assert.equal(mode(file), 0o600);
    assert.match(readFileSync(file, 'latin1').slice(0, 10), /^<\?xml/);
    assert.deepEqual(await store.read(UDID), record);
    assert.deepEqual(readdirSync(dir), [`${UDID}.plist`]);
    assert.deepEqual(await store.list(), [UDID]);
    // replace
    const updated = { ...record, WiFiMACAddress: '11:22:33:44:55:66' };
    await store.save(UDID, updated);
    assert.deepEqual(await store.read(UDID), updated);
    assert.deepEqual(readdirSync(dir), [`${UDID}.plist`]);
  }),
);

test(
  'user store: binary records written by other tools are read',
  withTempDir(async (dir) => {
    writeFileSync(join(dir, `${UDID}.plist`), encodeBinaryPlist(pairRecordToPlist(record)), { mode: 0o600 });
    assert.deepEqual(await new UserRecordStore(dir).read(UDID), record);
  }),
);

test(
  'user store: an existing 0755 directory is tightened to 0700',
  withTempDir(async (tmp) => {
    const dir = join(tmp, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await new UserRecordStore(dir).save(UDID, record);
    assert.equal(mode(dir), 0o700);
  }),
);

test(
  'user store: nothing half-written — an invalid record or a failed rename leaves the old state and no temp file',
  withTempDir(async (dir) => {
    const store = new UserRecordStore(dir);
    await store.save(UDID, record);
    const before = readFileSync(join(dir, `${UDID}.plist`));
    await assert.rejects(store.save(UDID, { ...record, HostPrivateKey: Buffer.from('broken') }), codeIs('ERR_PAIRING_INVALID_RECORD'));
    assert.deepEqual(readFileSync(join(dir, `${UDID}.plist`)), before);
    // a directory in the way of the target: the rename fails
    const other = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    mkdirSync(join(dir, `${other}.plist`));
    writeFileSync(join(dir, `${other}.plist`, 'x'), 'x');
    await assert.rejects(store.save(other, record), (e: unknown) => e instanceof PairingError && e.code === 'ERR_PAIRING_STORE');
    assert.deepEqual(readdirSync(dir).sort(), [`${other}.plist`, `${UDID}.plist`].sort());
  }),
);

test(
  'user store: delete is idempotent; bad UDIDs are rejected; corrupt records are typed errors',
  withTempDir(async (dir) => {
    const store = new UserRecordStore(dir);
    await store.save(UDID, record);
    await store.delete(UDID);
    assert.equal(existsSync(join(dir, `${UDID}.plist`)), false);
    await store.delete(UDID);
    for (const bad of ['../etc/passwd', '', 'a/b', '.hidden', 'x'.repeat(200)]) {
      await assert.rejects(store.read(bad), codeIs('ERR_INVALID_ARG'), bad);
      await assert.rejects(store.save(bad, record), codeIs('ERR_INVALID_ARG'), bad);
    }
    writeFileSync(join(dir, `${UDID}.plist`), 'garbage');
    await assert.rejects(store.read(UDID), codeIs('ERR_PAIRING_INVALID_RECORD'));
    writeFileSync(join(dir, `${UDID}.plist`), Buffer.alloc(2 * 1024 * 1024, 0x20));
    await assert.rejects(store.read(UDID), codeIs('ERR_PAIRING_INVALID_RECORD'));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(store.read(UDID, { signal: ac.signal }), codeIs('ERR_ABORTED'));
  }),
);

test(
  'user store: SystemBUID is an uppercase UUID, created once (0600), stable across instances and concurrent first calls',
  withTempDir(async (tmp) => {
    const dir = join(tmp, 'lockdown');
    const results = await Promise.all(Array.from({ length: 8 }, () => new UserRecordStore(dir).systemBuid()));
    const buid = results[0]!;
    assert.match(buid, /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    assert.ok(results.every((r) => r === buid), 'all concurrent callers agree');
    const file = join(dir, 'SystemConfiguration.plist');
    assert.equal(mode(file), 0o600);
    assert.deepEqual(parsePlist(readFileSync(file)), { SystemBUID: buid });
    assert.equal(await new UserRecordStore(dir).systemBuid(), buid);
    assert.deepEqual(readdirSync(dir), ['SystemConfiguration.plist']);
    assert.deepEqual(await new UserRecordStore(dir).list(), []);
  }),
);

test(
  'user store: an existing usbmuxd-style SystemConfiguration.plist is used; a corrupt one is reported, not overwritten',
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'SystemConfiguration.plist'), encodeXmlPlist({ SystemBUID: '97A08585-B8BC-4001-8D34-D692E9B8EBE0' }));
    assert.equal(await new UserRecordStore(dir).systemBuid(), '97A08585-B8BC-4001-8D34-D692E9B8EBE0');
    writeFileSync(join(dir, 'SystemConfiguration.plist'), 'not a plist');
    await assert.rejects(new UserRecordStore(dir).systemBuid(), codeIs('ERR_PAIRING_STORE'));
    writeFileSync(join(dir, 'SystemConfiguration.plist'), encodeXmlPlist({ SystemBUID: 42 }));
    await assert.rejects(new UserRecordStore(dir).systemBuid(), codeIs('ERR_PAIRING_STORE'));
    assert.deepEqual(parsePlist(readFileSync(join(dir, 'SystemConfiguration.plist'))), { SystemBUID: 42 });
  }),
);

test('defaultUserStoreDir: XDG_CONFIG_HOME, else ~/.config', () => {
  assert.equal(defaultUserStoreDir({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }), '/x/cfg/iosdevice/lockdown');
  assert.equal(defaultUserStoreDir({ HOME: '/home/u' }), '/home/u/.config/iosdevice/lockdown');
  assert.equal(defaultUserStoreDir({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' }), '/home/u/.config/iosdevice/lockdown');
});

// ---------------------------------------------------------------- usbmuxd store over a scripted client

class ScriptedClient implements UsbmuxRecordClient {
  static opened = 0;
  static closed = 0;
  static records = new Map<string, Buffer>();
  static saved: { udid: string; data: Buffer; deviceId?: number }[] = [];
  static deleteError: IDeviceError | undefined;
  constructor() {
    ScriptedClient.opened++;
  }
  async readBuid(): Promise<string> {
    return 'F638DDCA-DB83-4496-A0AB-F0DD88F4B25C';
  }
  async readPairRecord(udid: string): Promise<Buffer | undefined> {
    return ScriptedClient.records.get(udid);
  }
  async savePairRecord(udid: string, data: Buffer, deviceId?: number): Promise<void> {
    ScriptedClient.saved.push({ udid, data, deviceId });
    ScriptedClient.records.set(udid, data);
  }
  async deletePairRecord(udid: string): Promise<void> {
    if (ScriptedClient.deleteError) throw ScriptedClient.deleteError;
    if (!ScriptedClient.records.delete(udid)) throw new IDeviceError('ERR_USBMUX_BADDEV', 'no record');
  }
  close(): void {
    ScriptedClient.closed++;
  }
}

test('usbmuxd store: one fresh connection per call, binary plist sent, delete tolerates "no record" only', async () => {
  const store = new UsbmuxdRecordStore({ open: async () => new ScriptedClient() });
  assert.equal(store.kind, 'usbmuxd');
  assert.equal(await store.read(UDID), undefined);
  await store.save(UDID, record, 7);
  assert.equal(ScriptedClient.saved[0]!.deviceId, 7);
  assert.equal(ScriptedClient.saved[0]!.data.subarray(0, 8).toString('latin1'), 'bplist00');
  assert.deepEqual(await store.read(UDID), record);
  assert.equal(await store.systemBuid(), 'F638DDCA-DB83-4496-A0AB-F0DD88F4B25C');
  await store.delete(UDID);
  await store.delete(UDID); // BADDEV swallowed
  ScriptedClient.deleteError = new IDeviceError('ERR_USBMUX_EINVAL', 'x');
  await assert.rejects(store.delete(UDID), codeIs('ERR_USBMUX_EINVAL'));
  ScriptedClient.deleteError = undefined;
  await assert.rejects(store.save(UDID, { ...record, HostID: '' }), codeIs('ERR_PAIRING_INVALID_RECORD'));
  ScriptedClient.records.set(UDID, Buffer.from('junk'));
  await assert.rejects(store.read(UDID), codeIs('ERR_PAIRING_INVALID_RECORD'));
  assert.equal(ScriptedClient.opened, 8); // the invalid save never opened a connection
  assert.equal(ScriptedClient.closed, ScriptedClient.opened);
});

test(
  'chooseStore: usbmuxd when it answers ReadBUID, the user store when nothing listens',
  withTempDir(async (dir) => {
    const viaMux = await chooseStore({ open: async () => new ScriptedClient(), dir });
    assert.equal(viaMux.kind, 'usbmuxd');
    const none = await chooseStore({ address: `UNIX:${join(dir, 'no-such.sock')}`, dir });
    assert.equal(none.kind, 'user');
    assert.equal((none as UserRecordStore).dir, dir);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(chooseStore({ address: `UNIX:${join(dir, 'no-such.sock')}`, dir, signal: ac.signal }), codeIs('ERR_ABORTED'));
  }),
);
