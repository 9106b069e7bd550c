/**
 * `iosdevice`: the high-level entry and the composition point.
 *
 * - Devices: {@link listDevices}, {@link watchDevices} (attach/detach as an AsyncIterable), {@link waitForDevice}
 *   (until a UDID is attached), {@link openDevice} (a {@link DeviceProvider} for one device, over usbmuxd or our own
 *   USB transport; over usbmuxd it survives unplug/replug: each connection looks the device up by UDID).
 * - Trust: {@link pair} (the "Trust this computer" dialog, TrustEvent callbacks, AbortSignal).
 * - Services: {@link connectLockdown}, {@link openLockdownSession}, {@link connectService}, {@link connectAfc}
 *   (an AFC client in one call: walk /DCIM, stream or pull files with progress).
 * - Photos: {@link backupPhotos} (pairs on first use, progress events, a summary) and {@link photoDevice} (the
 *   engine's source seam; the engine itself is `iosdevice/photos`).
 * - Errors: every class and the {@link ErrorCode} union (also `iosdevice/errors`).
 *
 * Each layer has its own entry: iosdevice/usbmux, /lockdown, /pairing, /afc, /plist, /photos, /capture, /usb,
 * /emulator, /errors. Anything not exported from an entry is internal and may change without notice.
 */
export {
  connectAfc,
  connectLockdown,
  connectService,
  openDevice,
  openLockdownSession,
  type ConnectLockdownOptions,
  type ConnectServiceOptions,
  type LockdownSession,
} from './connect.ts';
export { selectDevice, type DeviceProvider, type DeviceSelector, type PortConnectOptions, type SelectableDevice, type SelectWording } from './provider.ts';
export {
  listDevices,
  waitForDevice,
  watchDevices,
  type DeviceChange,
  type DeviceSource,
  type ListDevicesOptions,
  type WaitForDeviceOptions,
  type WatchDevicesOptions,
} from './devices.ts';
export { pair, type PairOptions } from './pair.ts';
export { backupPhotos, photoDevice, type BackupPhotosOptions } from './photo-backup.ts';
export type { CallOpts } from './core/abort.ts';
// the types these functions hand out (their full APIs live in the layer entries)
export type { AfcClient, AfcClientOptions } from './afc/client.ts';
export type { AfcFileInfo } from './afc/file-info.ts';
export type { TransferOptions, TransferProgress, TransferResult } from './afc/transfer.ts';
export type { LockdownClient } from './lockdown/client.ts';
export type { PairRecord } from './pairing/pair-record.ts';
export type { PairRecordStore } from './pairing/record-store.ts';
export type { TrustEvent } from './pairing/trust.ts';
export type { BackupEvent, BackupSummary } from './photos/backup.ts';
export type { PhotoDevice } from './photos/source.ts';
export type { DeviceEvent, UsbmuxDevice } from './usbmux/device.ts';
export type { PlistDict, PlistValue } from './plist/types.ts';
export * from './errors.ts';
