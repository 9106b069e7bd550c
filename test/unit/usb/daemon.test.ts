import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';
import { UsbmuxServer } from '../../../src/usbmux/server.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { UsbMuxDaemon } from '../../../src/daemon/usb-daemon.ts';
import { DeviceMux, lookupFromConnector } from '../../../src/usb/device-mux.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import type { UsbDeviceInfo } from '../../../src/usb/usb-transport.ts';
import { createVirtualUsbPair } from '../../../src/usb/virtual-endpoints.ts';
import type { VirtualUsbPair } from '../../../src/usb/virtual-endpoints.ts';
import { VirtualIPhone } from '../../../src/virtual-iphone/virtual-iphone.ts';

const SERIAL = '00008030001A2B3C4D5E6F70';

test('daemon: ListDevices, Connect → lockdown, Listen sees Detached on unplug and Attached on replug', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'usbmux-daemon-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const iphone = new VirtualIPhone({ udid: SERIAL, mediaDir: dir, crashDir: dir, trust: 'auto' });
  let onBus = true;
  let pair: VirtualUsbPair | undefined;
  const info = {
    udid: '00008030-001A2B3C4D5E6F70',
    serial: SERIAL,
    productId: 0x12a8,
    locationId: 0x10002,
    speed: 480_000_000,
    busNumber: 1,
    address: 2,
  } as UsbDeviceInfo;
  const daemon = new UsbMuxDaemon({
    recordDir: join(dir, 'lockdown'),
    pollMs: 60_000, // scans are driven by the test
    list: async () => (onBus ? [info] : []),
    open: async () => {
      pair = createVirtualUsbPair();
      new DeviceMux(pair.device, { services: lookupFromConnector((p) => iphone.connect(p)) });
      return HostMux.open(pair.host, { timeoutMs: 5000 });
    },
  });
  const server = new UsbmuxServer(daemon.backend);
  const address = await server.listen(`UNIX:${join(dir, 'mux.sock')}`);
  t.after(async () => {
    await daemon.stop();
    await server.close();
  });
  await daemon.start();

  const c1 = await UsbmuxClient.open({ address });
  const devices = await c1.listDevices({ timeoutMs: 5000 });
  c1.close();
  assert.equal(devices.length, 1);
  assert.equal(devices[0]!.udid, '00008030-001A2B3C4D5E6F70');
  assert.equal(devices[0]!.connectionType, 'USB');
  assert.equal(devices[0]!.deviceId, 1);
  assert.equal(devices[0]!.properties.LocationID, 0x10002);

  const c2 = await UsbmuxClient.open({ address });
  const stream = await c2.connect(1, 62078, { timeoutMs: 5000 });
  const ld = new LockdownClient(stream);
  assert.equal(await ld.queryType({ timeoutMs: 5000 }), 'com.apple.mobile.lockdown');

  const c3 = await UsbmuxClient.open({ address });
  const events = c3.listen({ timeoutMs: 5000 })[Symbol.asyncIterator]();
  assert.equal((await events.next()).value?.type, 'attached');

  // unplug mid-session: the open lockdown stream fails, listeners get Detached
  const streamGone = once(stream, 'close');
  pair!.unplug();
  onBus = false;
  await streamGone;
  const det = (await events.next()).value;
  assert.deepEqual(det, { type: 'detached', deviceId: 1 });
  await daemon.scan();
  assert.equal(daemon.devices.length, 0);

  // replug: a new DeviceID, like usbmuxd after re-enumeration
  onBus = true;
  await daemon.scan();
  const att = (await events.next()).value;
  assert.equal(att?.type, 'attached');
  assert.equal(att?.type === 'attached' && att.device.deviceId, 2);
  await events.return?.();
  ld.close();
});
