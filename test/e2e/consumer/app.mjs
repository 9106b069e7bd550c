// A plain-Node consumer of the installed package (no TypeScript, no loader): every subpath by package name, then the
// virtual iPhone in-process: list, pair, DeviceName / ProductVersion, walk /DCIM, stream one photo to disk.
// Prints one JSON line for test/e2e/consumer-package.test.ts. Run: node app.mjs OUT_DIR
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as root from 'iosdevice';
import * as afc from 'iosdevice/afc';
import * as capture from 'iosdevice/capture';
import * as emulator from 'iosdevice/emulator';
import * as errors from 'iosdevice/errors';
import * as lockdown from 'iosdevice/lockdown';
import * as pairing from 'iosdevice/pairing';
import * as photos from 'iosdevice/photos';
import * as plist from 'iosdevice/plist';
import * as usb from 'iosdevice/usb';
import * as usbmux from 'iosdevice/usbmux';

const outDir = process.argv[2];
const modules = { iosdevice: root, 'iosdevice/usbmux': usbmux, 'iosdevice/lockdown': lockdown, 'iosdevice/pairing': pairing, 'iosdevice/afc': afc, 'iosdevice/plist': plist, 'iosdevice/photos': photos, 'iosdevice/capture': capture, 'iosdevice/usb': usb, 'iosdevice/emulator': emulator, 'iosdevice/errors': errors };
const exportsOf = Object.fromEntries(Object.entries(modules).map(([name, m]) => [name, Object.keys(m).sort()]));

const emu = await emulator.startEmulator({ dcimCount: 4, name: 'Consumer iPhone', iosVersion: '17.4', trust: 'auto' });
try {
  const listed = await root.listDevices({ socket: emu.address });
  const device = await root.openDevice({ socket: emu.address });
  const trustEvents = [];
  const record = await root.pair(device, { onTrustEvent: (e) => trustEvents.push(e.type) });

  const ld = await root.connectLockdown(device);
  const deviceName = await ld.getValue('DeviceName');
  const productVersion = await ld.getValue('ProductVersion');
  ld.close();

  const client = await root.connectAfc(device);
  const files = [];
  for await (const { path, info } of client.walk('/DCIM')) if (info.type === 'file') files.push({ path, size: info.size });
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const photo = files.find((f) => /\.(HEIC|JPG)$/i.test(f.path));
  const local = join(outDir, 'photo.bin');
  await pipeline(client.createReadStream(photo.path), createWriteStream(local));
  client.close();

  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const source = join(emu.devices[0].mediaDir, photo.path.replace(/^\//, ''));
  console.log(
    JSON.stringify({
      exports: exportsOf,
      udid: emu.devices[0].udid,
      listed: listed.map((d) => d.udid),
      paired: { hostId: typeof record.HostID === 'string' && record.HostID.length > 0, trustEvents },
      deviceName,
      productVersion,
      files: files.map((f) => f.path),
      manifest: emu.devices[0].manifest.files.map((f) => `/${f.path}`).sort(),
      photo: photo.path,
      sizes: { remote: photo.size, source: (await readFile(source)).length, local: (await readFile(local)).length },
      sha256: { manifest: emu.devices[0].manifest.files.find((f) => `/${f.path}` === photo.path).sha256, source: sha(await readFile(source)), local: sha(await readFile(local)) },
    }),
  );
} finally {
  await emu.close();
}
