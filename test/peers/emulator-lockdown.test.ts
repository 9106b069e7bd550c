/**
 * The REAL libimobiledevice tools (Debian 1.3.0 / libusbmuxd 2.0.2) against the virtual iPhone: device listing,
 * plain and TLS lockdown, and the whole "Trust this computer" flow incl. the Pending, denied and locked paths.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlist } from '../../src/plist/index.ts';
import { isPlistDict, type PlistDict } from '../../src/plist/types.ts';
import type { Emulator } from '../../src/virtual-iphone/emulator.ts';
import { skipUnlessTools } from '../support/peers.ts';
import { runTool, startTestEmulator, waitFor } from '../support/emulator.ts';

const skip = skipUnlessTools('idevice_id', 'ideviceinfo', 'idevicepair');

function plistDict(xml: string): PlistDict {
  const v = parsePlist(Buffer.from(xml, 'utf8'));
  assert.ok(isPlistDict(v));
  return v;
}

describe('libimobiledevice tools against the emulator (trust on prompt)', { skip }, () => {
  let emu: Emulator;
  let udid: string;
  before(async () => {
    emu = await startTestEmulator({ trust: 'prompt', name: 'Peer Test iPhone', iosVersion: '17.5', udid: '00008120001A2B3C4D5E6F70' });
    udid = emu.devices[0]!.udid;
  });
  after(async () => {
    await emu?.close();
  });

  test('idevice_id -l lists the dashed UDID; idevice_id UDID prints the DeviceName', async () => {
    assert.equal(udid, '00008120-001A2B3C4D5E6F70');
    const l = await runTool(emu.address, 'idevice_id', ['-l']);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout.trim(), udid);
    const n = await runTool(emu.address, 'idevice_id', [udid]);
    assert.equal(n.code, 0, n.stderr);
    assert.equal(n.stdout.trim(), 'Peer Test iPhone');
  });

  test('ideviceinfo -s -x: pre-session values as an XML plist our codec parses', async () => {
    const r = await runTool(emu.address, 'ideviceinfo', ['-s', '-x']);
    assert.equal(r.code, 0, r.stderr);
    const v = plistDict(r.stdout);
    assert.equal(v.UniqueDeviceID, udid);
    assert.equal(v.DeviceName, 'Peer Test iPhone');
    assert.equal(v.ProductVersion, '17.5');
    assert.equal(v.DeviceClass, 'iPhone');
    assert.equal(typeof v.ProductType, 'string');
    assert.ok(Buffer.isBuffer(v.DevicePublicKey) && v.DevicePublicKey.toString('latin1').includes('BEGIN RSA PUBLIC KEY'));
    const one = await runTool(emu.address, 'ideviceinfo', ['-s', '-k', 'ProductVersion']);
    assert.equal(one.stdout.trim(), '17.5');
  });

  test('pairing: Pending while the dialog is up, success after the virtual user taps Trust, then validate, TLS info, unpair', async () => {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    const pending = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.notEqual(pending.code, 0);
    assert.match(pending.stdout + pending.stderr, /Please accept the trust dialog/);
    assert.ok(lockdown.pendingDialog, 'the trust dialog is on screen');
    assert.equal(await emu.records.read(udid), undefined, 'nothing saved while pending');

    assert.equal(lockdown.tapTrust(), true);
    const paired = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.equal(paired.code, 0, paired.stdout + paired.stderr);
    assert.match(paired.stdout, new RegExp(`SUCCESS: Paired with device ${udid}`));
    const record = await emu.records.read(udid);
    assert.ok(record, 'SavePairRecord stored the record');
    const rec = plistDict(record.toString('utf8'));
    assert.deepEqual(lockdown.trustedHostIds(), [rec.HostID]);

    const validate = await runTool(emu.address, 'idevicepair', ['validate']);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /SUCCESS: Validated pairing/);

    const full = await runTool(emu.address, 'ideviceinfo', ['-x']);
    assert.equal(full.code, 0, full.stderr);
    const info = plistDict(full.stdout);
    assert.equal(info.UniqueDeviceID, udid);
    assert.equal(info.ActivationState, 'Activated');
    const disk = await runTool(emu.address, 'ideviceinfo', ['-q', 'com.apple.disk_usage', '-k', 'TotalDiskCapacity']);
    assert.equal(disk.code, 0, disk.stderr);
    assert.match(disk.stdout.trim(), /^\d+$/);

    const unpair = await runTool(emu.address, 'idevicepair', ['unpair']);
    assert.equal(unpair.code, 0, unpair.stdout + unpair.stderr);
    assert.match(unpair.stdout, /SUCCESS: Unpaired/);
    assert.equal(await emu.records.read(udid), undefined, 'DeletePairRecord removed it');
    assert.deepEqual(lockdown.trustedHostIds(), []);
  });

  test('a stale record (device forgot the host) gives "not paired with this host"', async () => {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    lockdown.trust = 'auto';
    const paired = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.equal(paired.code, 0, paired.stdout + paired.stderr);
    lockdown.forgetAllHosts();
    const v = await runTool(emu.address, 'idevicepair', ['validate']);
    assert.notEqual(v.code, 0);
    assert.match(v.stdout + v.stderr, /not paired with this host/);
    lockdown.trust = 'prompt';
  });
});

describe('trust denied and passcode-locked devices', { skip }, () => {
  let emu: Emulator;
  before(async () => {
    emu = await startTestEmulator({
      devices: [
        { udid: '00008120-0000000000000D01', trust: 'deny', dcimCount: 1, dcim: { scale: 0.001 } },
        { udid: '00008120-0000000000000D02', trust: 'auto', locked: true, dcimCount: 1, dcim: { scale: 0.001 } },
      ],
    });
  });
  after(async () => {
    await emu?.close();
  });

  test('two devices are listed with DeviceIDs 1 and 2', async () => {
    const l = await runTool(emu.address, 'idevice_id', ['-l']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(l.stdout.trim().split('\n').sort(), ['00008120-0000000000000D01', '00008120-0000000000000D02']);
    assert.deepEqual(
      emu.devices.map((d) => d.deviceId),
      [1, 2],
    );
  });

  test('"Don\'t Trust" → the tool reports the user denied the trust dialog', async () => {
    const r = await runTool(emu.address, 'idevicepair', ['-u', '00008120-0000000000000D01', 'pair']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /denied the trust dialog/);
  });

  test('locked with a passcode → "a passcode is set"; after unlock pairing succeeds', async () => {
    const dev = emu.devices[1]!;
    const r = await runTool(emu.address, 'idevicepair', ['-u', dev.udid, 'pair']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /passcode is set/);
    dev.iphone.lockdown.unlock();
    const ok = await runTool(emu.address, 'idevicepair', ['-u', dev.udid, 'pair']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });
});

test('the emulator on TCP (host:port): idevice_id and ideviceinfo reach it', { skip }, async () => {
  const emu = await startTestEmulator({ socket: '127.0.0.1:0', dcimCount: 0 });
  try {
    assert.match(emu.address, /^127\.0\.0\.1:\d+$/);
    const l = await runTool(emu.address, 'idevice_id', ['-l']);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout.trim(), emu.devices[0]!.udid);
    const i = await runTool(emu.address, 'ideviceinfo', ['-k', 'ProductVersion']);
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout.trim(), '17.5');
  } finally {
    await emu.close();
  }
});

test('8 real ideviceinfo TLS sessions at once, next to idevice_id listings, all succeed', { skip }, async () => {
  const emu = await startTestEmulator({ dcimCount: 0, link: 'usb2' });
  try {
    const paired = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.equal(paired.code, 0, paired.stdout + paired.stderr);
    const runs = await Promise.all([
      ...Array.from({ length: 8 }, () => runTool(emu.address, 'ideviceinfo', ['-k', 'UniqueDeviceID'], { timeoutMs: 30_000 })),
      ...Array.from({ length: 4 }, () => runTool(emu.address, 'idevice_id', ['-l'], { timeoutMs: 30_000 })),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), emu.devices[0]!.udid);
    }
    // the tools have exited; their sockets' EOF reaches the emulator's event loop shortly after
    await waitFor('all device connections to close', () => emu.devices[0]!.iphone.openConnections === 0, 5000);
  } finally {
    await emu.close();
  }
});

test('trust auto with a delay: the first idevicepair sees Pending, the retry after the virtual tap succeeds', { skip }, async () => {
  const emu = await startTestEmulator({ dcimCount: 0, trust: 'auto', trustDelayMs: 300 });
  try {
    const lockdown = emu.devices[0]!.iphone.lockdown;
    const first = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.notEqual(first.code, 0);
    assert.match(first.stdout + first.stderr, /Please accept the trust dialog/);
    await waitFor('the virtual user to tap Trust', () => lockdown.pendingDialog === undefined, 5000);
    const second = await runTool(emu.address, 'idevicepair', ['pair']);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(lockdown.trustedHostIds().length, 1);
  } finally {
    await emu.close();
  }
});
