// List the attached iPhones, then print attach/detach events until Ctrl-C.
// Run: node list-and-watch.mjs   (USBMUXD_SOCKET_ADDRESS picks another usbmuxd, e.g. the emulator's)
import { listDevices, watchDevices } from 'iosdevice';

const devices = await listDevices();
console.log(`${devices.length} device(s) attached`);
for (const d of devices) console.log(`  ${d.udid} (${d.connectionType})`);

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
try {
  for await (const change of watchDevices({ signal: stop.signal })) {
    console.log(`${change.type}: ${change.udid}`);
  }
} catch (e) {
  if (e.code !== 'ERR_ABORTED') throw e; // Ctrl-C ends the watch
}
