/** The emulator's usbmuxd restart control (stopSocket / startSocket), used by the `photos watch` e2e test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listDevices } from '../../../src/devices.ts';
import { errorCode } from '../../../src/core/errors.ts';
import { startEmulator } from '../../../src/virtual-iphone/emulator.ts';

test('stopSocket: the address stops answering, the device stays plugged in; startSocket: the same address lists it again', async () => {
  await using emu = await startEmulator({ dcimCount: 1, dcim: { scale: 0.01 } });
  assert.equal((await listDevices({ socket: emu.address })).length, 1);
  await emu.stopSocket();
  await emu.stopSocket(); // idempotent
  await assert.rejects(listDevices({ socket: emu.address, timeoutMs: 2000 }), (e: unknown) => errorCode(e) === 'ERR_USBMUX_UNREACHABLE');
  assert.equal(emu.devices[0]!.attached, true);
  await emu.startSocket();
  const again = await listDevices({ socket: emu.address });
  assert.deepEqual(again.map((d) => d.udid), [emu.devices[0]!.udid]);
});
