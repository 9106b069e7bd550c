// Test your own tool against the virtual iPhone, in your CI: no phone, no usbmuxd, no root.
// Run: node --test emulator.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAfc, listDevices, openDevice } from 'iosdevice';
import { startEmulator } from 'iosdevice/emulator';

test('my tool sees the photos of a virtual iPhone', async () => {
  const emu = await startEmulator({ dcimCount: 5, name: 'CI iPhone', trust: 'auto' });
  try {
    const [listed] = await listDevices({ socket: emu.address });
    assert.equal(listed.udid, emu.devices[0].udid);

    const device = await openDevice({ socket: emu.address }); // or set USBMUXD_SOCKET_ADDRESS=emu.address
    const afc = await connectAfc(device); // pairs: the virtual user taps Trust
    const names = [];
    for await (const { path, info } of afc.walk('/DCIM')) if (info.type === 'file') names.push(path);
    afc.close();
    assert.equal(names.length, emu.devices[0].manifest.files.length);
  } finally {
    await emu.close();
  }
});

test('my tool reports an unplug', async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  try {
    const device = await openDevice({ socket: emu.address });
    emu.detach();
    // gone: ERR_USBMUX_BADDEV (usbmuxd no longer knows the device) or ERR_DEVICE_NOT_FOUND (looked up again by UDID)
    await assert.rejects(connectAfc(device), (e) => ['ERR_USBMUX_BADDEV', 'ERR_DEVICE_NOT_FOUND'].includes(e.code));
  } finally {
    await emu.close();
  }
});
