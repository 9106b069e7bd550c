// A CommonJS consumer: require('iosdevice') and every subpath (Node >= 20.19 / 22.12 load ES modules from require),
// the very module instances that import() gives. Prints one JSON line. Run: node app.cjs
'use strict';
const subpaths = ['iosdevice', 'iosdevice/usbmux', 'iosdevice/lockdown', 'iosdevice/pairing', 'iosdevice/afc', 'iosdevice/plist', 'iosdevice/photos', 'iosdevice/capture', 'iosdevice/usb', 'iosdevice/emulator', 'iosdevice/errors'];

async function main() {
  const out = {};
  for (const name of subpaths) {
    const required = require(name);
    const imported = await import(name);
    const keys = Object.keys(imported).sort();
    out[name] = { keys: Object.keys(required).length, same: keys.length > 0 && keys.every((k) => required[k] === imported[k]) };
  }
  const { listDevices, startEmulator } = { ...require('iosdevice'), ...require('iosdevice/emulator') };
  const emu = await startEmulator({ dcimCount: 1 });
  try {
    const [d] = await listDevices({ socket: emu.address });
    out.listed = d.udid === emu.devices[0].udid;
  } finally {
    await emu.close();
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
