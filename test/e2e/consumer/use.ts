// A TypeScript consumer of the installed package: type-checked against the shipped declarations (dist/**/*.d.ts)
// with `tsc --strict` under "module": "nodenext" and under "moduleResolution": "bundler" by
// test/e2e/consumer-package.test.ts. Never run; every line is there for its types.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  backupPhotos,
  connectAfc,
  connectLockdown,
  errorCode,
  isErrorCode,
  listDevices,
  openDevice,
  pair,
  watchDevices,
  type AfcClient,
  type BackupEvent,
  type BackupSummary,
  type DeviceChange,
  type DeviceProvider,
  type ErrorCode,
  type PairRecord,
  type TrustEvent,
  type UsbmuxDevice,
} from 'iosdevice';
import { AfcClient as AfcClientClass, AfcError } from 'iosdevice/afc';
import { decodeCapture } from 'iosdevice/capture';
import { startEmulator, type Emulator, type EmulatorOptions } from 'iosdevice/emulator';
import { ERROR_CODES, TimeoutError } from 'iosdevice/errors';
import { LOCKDOWN_PORT, LockdownClient } from 'iosdevice/lockdown';
import { UserRecordStore } from 'iosdevice/pairing';
import { runBackup, type PhotoDevice } from 'iosdevice/photos';
import { encodeXmlPlist, parsePlist, type PlistDict } from 'iosdevice/plist';
import { listUsbDevices } from 'iosdevice/usb';
import { UsbmuxClient } from 'iosdevice/usbmux';

export async function tool(signal: AbortSignal): Promise<BackupSummary> {
  const opts: EmulatorOptions = { dcimCount: 2, name: 'Typed iPhone', trust: 'auto' };
  const emu: Emulator = await startEmulator(opts);
  try {
    const devices: UsbmuxDevice[] = await listDevices({ socket: emu.address, signal });
    const first: string | undefined = devices[0]?.udid;
    const device: DeviceProvider = await openDevice({ socket: emu.address, udid: first });
    const record: PairRecord = await pair(device, { signal, onTrustEvent: (e: TrustEvent) => void e.type });
    const hostId: string = record.HostID;

    const lockdown: LockdownClient = await connectLockdown(device, { timeoutMs: 5000 });
    const name = await lockdown.getValue('DeviceName');
    lockdown.close();

    const afc: AfcClient = await connectAfc(device);
    for await (const { path, info } of afc.walk('/DCIM', { signal })) {
      const size: number = info.size;
      if (info.type === 'file' && size > 0) await pipeline(afc.createReadStream(path), createWriteStream(`/tmp/${hostId}-${String(name)}`));
    }
    afc.close();

    for await (const change of watchDevices({ socket: emu.address, signal })) {
      const c: DeviceChange = change;
      if (c.type === 'attached') break;
    }
    const summary = await backupPhotos(device, { dest: '/tmp/photos', onEvent: (e: BackupEvent) => void (e.type === 'progress' && e.bytesDone) });
    const status: 'complete' | 'partial' | 'interrupted' | 'device-lost' = summary.status;
    void status;
    return summary;
  } catch (e) {
    if (errorCode(e) === 'ERR_TIMEOUT') throw new TimeoutError('the tool', 5000);
    if (e instanceof AfcError) throw e;
    throw e;
  } finally {
    await emu.close();
  }
}

export async function layers(engineDevice: PhotoDevice): Promise<void> {
  const mux = await UsbmuxClient.open();
  const [d] = await mux.listDevices();
  mux.close();
  if (d) {
    const conn = await UsbmuxClient.open();
    const lockdown = new LockdownClient(await conn.connect(d.deviceId, LOCKDOWN_PORT));
    const t: string = await lockdown.queryType();
    void t;
    lockdown.close();
  }
  const dict: PlistDict = { Key: 'value', n: 1 };
  const back = parsePlist(encodeXmlPlist(dict));
  void back;
  const code: ErrorCode = 'ERR_TIMEOUT';
  const known: boolean = isErrorCode(code) && code in ERROR_CODES;
  void known;
  void [AfcClientClass, decodeCapture, UserRecordStore, listUsbDevices];
  const summary = await runBackup({ dest: '/tmp/engine', device: engineDevice });
  void summary.copied;
}
