// The layers under the high-level entry: usbmuxd → a stream to lockdownd → requests, step by step.
// Run: node layers.mjs
import { LOCKDOWN_PORT, LockdownClient } from 'iosdevice/lockdown';
import { UsbmuxClient } from 'iosdevice/usbmux';

const mux = await UsbmuxClient.open(); // usbmuxd: list, listen, connect, pair records
const [device] = await mux.listDevices();
mux.close();
if (!device) throw new Error('no device attached');

const conn = await UsbmuxClient.open(); // connect() hands the socket over: one client per connection
const lockdown = new LockdownClient(await conn.connect(device.deviceId, LOCKDOWN_PORT));
try {
  console.log(`${device.udid}: ${await lockdown.queryType()}`); // "com.apple.mobile.lockdown"
  console.log(`ProductVersion: ${await lockdown.getValue('ProductVersion')}`); // readable before a session
} finally {
  lockdown.close();
}
