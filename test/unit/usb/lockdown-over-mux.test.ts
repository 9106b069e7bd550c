import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import { LOCKDOWN_PORT } from '../../../src/lockdown/protocol.ts';
import { DeviceMux } from '../../../src/usb/device-mux.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import { createVirtualUsbPair, USB2_BULK_BYTES_PER_SEC } from '../../../src/usb/virtual-endpoints.ts';
import { VirtualLockdownDevice } from '../../../src/virtual-iphone/lockdown-device.ts';

test('lockdown QueryType and GetValue over the USB mux (usb2-paced virtual cable)', async () => {
  const pair = createVirtualUsbPair({ bytesPerSecond: USB2_BULK_BYTES_PER_SEC });
  const device = new VirtualLockdownDevice({ trust: 'auto' });
  new DeviceMux(pair.device, { services: (port) => (port === LOCKDOWN_PORT ? (s) => void serveLockdown(s, device) : undefined) });
  const mux = await HostMux.open(pair.host, { timeoutMs: 5000 });
  const ld = new LockdownClient(await mux.connect(LOCKDOWN_PORT), { label: 'usb-mux-test' });
  assert.equal(await ld.queryType({ timeoutMs: 5000 }), 'com.apple.mobile.lockdown');
  assert.equal(await ld.getValue('UniqueDeviceID', undefined, { timeoutMs: 5000 }), device.udid);
  ld.close();
  await mux.close();
});
