/**
 * `iosdevice/usbmux`: the usbmuxd protocol. Client side: {@link UsbmuxClient} (list, listen, connect, pair records,
 * BUID). Server side, for tools that publish devices of their own: {@link UsbmuxServer} over a
 * {@link UsbmuxBackend} ({@link RecordStoreBackend} + {@link DirectoryRecordStore} give usbmuxd's record layout).
 */
export { UsbmuxClient, type UsbmuxOpenOptions } from './client.ts';
export type { DeviceEvent, NetworkAddress, UsbmuxDevice, UsbmuxDeviceRecord } from './device.ts';
export { DEFAULT_TCP, DEFAULT_UNIX_PATH, defaultMuxAddress, formatMuxAddress, parseMuxAddress, resolveUsbmuxAddress, type MuxAddress } from './address.ts';
export { ResultCode } from './protocol.ts';
export {
  codeForResult,
  UsbmuxConsumedError,
  UsbmuxError,
  UsbmuxHeaderVersionError,
  UsbmuxListenError,
  UsbmuxResultError,
  UsbmuxUnreachableError,
  type UsbmuxResultCode,
} from './errors.ts';
export { UsbmuxServer } from './server.ts';
export type { UsbmuxBackend, UsbmuxServerOptions } from './backend.ts';
export { RecordStoreBackend, type ConnectHandler } from './store-backend.ts';
export { DirectoryRecordStore } from './record-store.ts';
