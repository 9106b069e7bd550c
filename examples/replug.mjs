// Keep one device handle across unplug/replug: count /DCIM, wait for the phone to come back, count again.
// Run: node replug.mjs   (then unplug the iPhone and plug it back in; with the emulator: x, then a, on its stdin)
import { connectAfc, openDevice, waitForDevice, watchDevices } from 'iosdevice';

const device = await openDevice();
async function countDcim() {
  const afc = await connectAfc(device); // looks the device up by UDID: a replugged phone is found again
  try {
    let n = 0;
    for await (const { info } of afc.walk('/DCIM')) if (info.type === 'file') n++;
    return n;
  } finally {
    afc.close();
  }
}
console.log(`${await countDcim()} files in /DCIM`);

for await (const change of watchDevices()) {
  if (change.udid !== device.udid) continue;
  if (change.type === 'attached') console.log('unplug it now…'); // the watch is running
  if (change.type === 'detached') break;
}
console.log('unplugged: plug it back in (within 60 s)');
await waitForDevice(device.udid, { timeoutMs: 60_000 }); // ERR_TIMEOUT if it does not come back
console.log(`back: ${await countDcim()} files in /DCIM`);
