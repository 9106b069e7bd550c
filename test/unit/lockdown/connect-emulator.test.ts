import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAfc, connectLockdown, openDevice } from '../../../src/connect.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import type { Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { startTestEmulator } from '../../support/emulator.ts';

describe('openDevice / connectLockdown / connectAfc through the emulator\'s usbmuxd', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startTestEmulator({ udid: '00008120-0000000000000C03', dcimCount: 3, dcim: { scale: 0.002 } });
  });
  after(async () => {
    await emu?.close();
  });

  test('the only device, pairing on first use, an AFC client on com.apple.afc', async () => {
    const dev = await openDevice({ socket: emu.address, env: {} });
    assert.equal(dev.udid, '00008120-0000000000000C03');
    assert.equal(dev.pairRecords.kind, 'usbmuxd');
    const afc = await connectAfc(dev, { pairing: { retryIntervalMs: 1 } });
    try {
      const dcim = await afc.readdir('/DCIM');
      assert.ok(dcim.length > 0);
      assert.equal((await afc.stat('/DCIM')).type, 'dir');
    } finally {
      afc.close();
    }
    assert.ok(await emu.records.read(dev.udid), 'record saved through usbmuxd SavePairRecord');
    const lockdown = await connectLockdown(dev);
    assert.equal(await lockdown.getValue('UniqueDeviceID'), dev.udid);
    lockdown.close();
  });

  test('by UDID without the dash; unknown UDID and a detached device → ERR_DEVICE_NOT_FOUND', async () => {
    const dev = await openDevice({ socket: emu.address, udid: '000081200000000000000C03', env: {} });
    assert.equal(dev.udid, '00008120-0000000000000C03');
    await assert.rejects(openDevice({ socket: emu.address, udid: '00008120-00000000000000FF', env: {} }), { code: 'ERR_DEVICE_NOT_FOUND' });
    emu.detach();
    try {
      await assert.rejects(openDevice({ socket: emu.address, env: {} }), { code: 'ERR_DEVICE_NOT_FOUND', name: 'DeviceNotFoundError' });
      // the handle looks its UDID up on each connection: away is "not attached", not a stale DeviceID
      await assert.rejects(dev.connect(62078), { code: 'ERR_DEVICE_NOT_FOUND', name: 'DeviceNotFoundError' });
    } finally {
      emu.attach();
    }
  });

  test('no daemon → ERR_USBMUX_UNREACHABLE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iosdevice-nomux-'));
    try {
      await assert.rejects(openDevice({ socket: `UNIX:${join(dir, 'none.sock')}`, env: {} }), { code: 'ERR_USBMUX_UNREACHABLE' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('usb: openDevice loads the USB provider lazily; no device on this machine gives a typed error', async () => {
  const err = await openDevice({ usb: true, udid: 'ABC' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IDeviceError, `expected an IDeviceError, got ${String(err)}`);
  assert.ok(['ERR_USB_UNAVAILABLE', 'ERR_DEVICE_NOT_FOUND'].includes(err.code), err.code);
});
