/**
 * Cross-implementation pairing through the emulator's usbmuxd: a record saved by OUR `iosdevice pair` must
 * open a TLS session for the REAL libimobiledevice tools, and a record saved by the REAL `idevicepair pair`
 * (SHA-1 certificates, binary plist, RootCertificate as its client certificate) must open one for us.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parsePlist } from '../../src/plist/index.ts';
import { isPlistDict, type PlistDict } from '../../src/plist/types.ts';
import { parsePairRecord } from '../../src/pairing/pair-record.ts';
import { inspectCertificate } from '../../src/pairing/certificate-info.ts';
import type { Emulator } from '../../src/virtual-iphone/emulator.ts';
import { skipUnlessTools } from '../support/peers.ts';
import { runTool, startTestEmulator, type ToolResult } from '../support/emulator.ts';

const skip = skipUnlessTools('ideviceinfo', 'idevicepair');
const BIN = fileURLToPath(new URL('../../bin/iosdevice.mjs', import.meta.url));

function iosdevice(address: string, args: string[]): Promise<ToolResult> {
  return runTool(address, process.execPath, [BIN, ...args], { timeoutMs: 30_000 });
}

function plistDict(xml: string): PlistDict {
  const v = parsePlist(Buffer.from(xml, 'utf8'));
  assert.ok(isPlistDict(v));
  return v;
}

describe('pairing across implementations', { skip }, () => {
  let emu: Emulator;
  let udid: string;
  before(async () => {
    emu = await startTestEmulator({ trust: 'auto', udid: '00008120-00C0FFEE00C0FFEE', dcimCount: 1, dcim: { scale: 0.001 } });
    udid = emu.devices[0]!.udid;
  });
  after(async () => {
    await emu?.close();
  });

  test('(1) `iosdevice pair` saves a record the REAL ideviceinfo and idevicepair validate use for a TLS session', async () => {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    const pair = await iosdevice(emu.address, ['pair']);
    assert.equal(pair.code, 0, pair.stderr);
    assert.equal(pair.stdout, `SUCCESS: Paired with device ${udid}\n`);
    const raw = await emu.records.read(udid);
    assert.ok(raw, 'our record went through SavePairRecord');
    const record = parsePairRecord(raw);
    assert.deepEqual(lockdown.trustedHostIds(), [record.HostID]);
    assert.equal(record.EscrowBag?.length, 32);

    // SerialNumber is readable only inside a TLS session: the tool completed StartSession + TLS with our record.
    const serial = await runTool(emu.address, 'ideviceinfo', ['-k', 'SerialNumber']);
    assert.equal(serial.code, 0, serial.stdout + serial.stderr);
    assert.equal(serial.stdout.trim(), 'F2LZK0ABCDEF');
    const full = await runTool(emu.address, 'ideviceinfo', ['-x']);
    assert.equal(full.code, 0, full.stderr);
    assert.equal(plistDict(full.stdout).UniqueDeviceID, udid);
    const validate = await runTool(emu.address, 'idevicepair', ['validate']);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /SUCCESS: Validated pairing/);
    assert.deepEqual(lockdown.trustedHostIds(), [record.HostID], 'the tools did not re-pair');

    const unpair = await iosdevice(emu.address, ['unpair']);
    assert.equal(unpair.code, 0, unpair.stderr);
    assert.equal(await emu.records.read(udid), undefined);
    assert.deepEqual(lockdown.trustedHostIds(), []);
  });

  test('(2) the REAL `idevicepair pair` saves a record `iosdevice info` and `iosdevice validate` use for a TLS session', async () => {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    const pair = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.equal(pair.code, 0, pair.stdout + pair.stderr);
    const raw = await emu.records.read(udid);
    assert.ok(raw);
    const record = parsePairRecord(raw);
    assert.equal(inspectCertificate(record.HostCertificate).digest, 'sha1', 'libimobiledevice 1.3.0 signs with SHA-1');

    const serial = await iosdevice(emu.address, ['info', '-k', 'SerialNumber']);
    assert.equal(serial.code, 0, serial.stderr);
    assert.equal(serial.stdout, 'F2LZK0ABCDEF\n');
    const battery = await iosdevice(emu.address, ['info', '-q', 'com.apple.mobile.battery', '--json']);
    assert.equal(battery.code, 0, battery.stderr);
    assert.equal((JSON.parse(battery.stdout) as Record<string, unknown>).BatteryCurrentCapacity, 87);
    const validate = await iosdevice(emu.address, ['validate']);
    assert.equal(validate.code, 0, validate.stderr);
    assert.equal(validate.stdout, `SUCCESS: Validated pairing with device ${udid}\n`);
    assert.deepEqual(lockdown.trustedHostIds(), [record.HostID], 'we used their record, no re-pair');

    // the device forgets the host: a typed error that tells the user what to do, exit code 1
    lockdown.forgetAllHosts();
    const stale = await iosdevice(emu.address, ['validate']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /ERR_LOCKDOWN_INVALID_HOST_ID/);
  });

  test('`iosdevice pair` against a prompting device: waits for the tap; "Don\'t Trust" exits non-zero with nothing saved', async () => {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    lockdown.trust = 'prompt';
    try {
      const onDialog = (): void => void lockdown.tapTrust();
      lockdown.once('dialog', onDialog);
      const ok = await iosdevice(emu.address, ['pair']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /Tap "Trust"/);
      assert.ok(await emu.records.read(udid));

      lockdown.forgetAllHosts();
      await emu.records.delete(udid);
      lockdown.once('dialog', () => void lockdown.deny());
      const denied = await iosdevice(emu.address, ['pair']);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /ERR_PAIRING_DENIED/);
      assert.equal(await emu.records.read(udid), undefined);
      assert.deepEqual(lockdown.trustedHostIds(), []);
    } finally {
      lockdown.trust = 'auto';
    }
  });
});
