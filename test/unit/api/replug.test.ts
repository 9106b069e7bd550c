/**
 * A device handle outlives unplug/replug: `openDevice()` over usbmuxd looks the device up by UDID on every
 * connection (a replugged device gets a new DeviceID), and `waitForDevice(udid)` resolves when it is back, or
 * rejects with ERR_TIMEOUT / ERR_ABORTED. Imported by package name, against the virtual iPhone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAfc, IDeviceError, openDevice, waitForDevice } from 'iosdevice';
import { startEmulator } from 'iosdevice/emulator';

const code = (c: string) => (e: unknown): boolean => e instanceof IDeviceError && e.code === c;

test('openDevice handle: connectAfc works after detach + reattach (new DeviceID), fails typed while the device is away', async () => {
  const emu = await startEmulator({ dcimCount: 2, trust: 'auto' });
  try {
    const dev = await openDevice({ socket: emu.address });
    const before = dev.deviceId;
    const afc = await connectAfc(dev);
    assert.ok((await afc.readdir('/')).includes('DCIM'));
    afc.close();

    emu.detach();
    // away: the lookup by UDID says so (exit 3 in the CLI), not a stale-DeviceID usbmux error
    await assert.rejects(connectAfc(dev, { timeoutMs: 5000 }), code('ERR_DEVICE_NOT_FOUND'));
    emu.attach();
    const again = await connectAfc(dev, { timeoutMs: 5000 });
    try {
      assert.ok((await again.readdir('/')).includes('DCIM'));
    } finally {
      again.close();
    }
    assert.notEqual(dev.deviceId, before, 'the handle follows the new DeviceID');
    assert.equal(dev.udid, emu.devices[0]!.udid);
  } finally {
    await emu.close();
  }
});

test('waitForDevice: resolves at once when attached, on Attached after a replug, with the dash-less UDID too', async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  try {
    const udid = emu.devices[0]!.udid;
    const now = await waitForDevice(udid, { socket: emu.address, timeoutMs: 5000 });
    assert.equal(now.udid, udid);
    emu.detach();
    let settled = false;
    const back = waitForDevice(udid.replace(/-/g, '').toLowerCase(), { socket: emu.address, timeoutMs: 10_000 }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, 'still waiting while the device is away');
    emu.attach();
    const d = await back;
    assert.equal(d.udid, udid);
    assert.notEqual(d.deviceId, now.deviceId);
  } finally {
    await emu.close();
  }
});

test('waitForDevice: ERR_TIMEOUT after timeoutMs, ERR_ABORTED on abort (cause: the reason), ERR_INVALID_ARG for no UDID, ERR_USBMUX_UNREACHABLE', async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  try {
    const t0 = performance.now();
    await assert.rejects(waitForDevice('00008120-0000000000000000', { socket: emu.address, timeoutMs: 150 }), (e: unknown) => {
      assert.ok(code('ERR_TIMEOUT')(e), String(e));
      assert.match((e as Error).message, /waiting for device 00008120-0000000000000000 timed out after 150 ms/);
      return true;
    });
    assert.ok(performance.now() - t0 >= 140);

    const ac = new AbortController();
    const reason = new Error('user gave up');
    setTimeout(() => ac.abort(reason), 50);
    await assert.rejects(waitForDevice('nope', { socket: emu.address, signal: ac.signal }), (e: unknown) => code('ERR_ABORTED')(e) && (e as Error).cause === reason);
    // already aborted: rejects without waiting
    await assert.rejects(waitForDevice('nope', { socket: emu.address, signal: AbortSignal.abort() }), code('ERR_ABORTED'));
    await assert.rejects(waitForDevice('', { socket: emu.address }), code('ERR_INVALID_ARG'));
  } finally {
    await emu.close();
  }
  await assert.rejects(waitForDevice('x', { socket: '/nonexistent/usbmuxd', timeoutMs: 2000 }), code('ERR_USBMUX_UNREACHABLE'));
});
