// The first minute: the attached iPhone, its name, and what is in its camera roll.
// Run: node quick-start.mjs
import { connectAfc, connectLockdown, listDevices, openDevice } from 'iosdevice';

console.log(await listDevices()); // [{ udid, connectionType: 'USB', … }]
const device = await openDevice(); // the only attached device (or openDevice({ udid }))

const lockdown = await connectLockdown(device); // pairs on first use: tap Trust on the phone
console.log(`${await lockdown.getValue('DeviceName')}, iOS ${await lockdown.getValue('ProductVersion')}`);
lockdown.close();

const afc = await connectAfc(device);
let photos = 0;
for await (const { info } of afc.walk('/DCIM')) if (info.type === 'file') photos++;
console.log(`${photos} files in /DCIM`);
afc.close();
