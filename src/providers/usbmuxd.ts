/**
 * The {@link DeviceProvider} over a usbmuxd daemon (the default transport): the device is looked up with
 * ListDevices once, each `connect(port)` opens a fresh usbmuxd connection and hands it over with Connect,
 * and pair records go through the daemon (./usbmuxd-records.ts).
 */
import type { Duplex } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import { selectDevice, type DeviceProvider, type DeviceSelector } from '../provider.ts';
import { UsbmuxClient } from '../usbmux/client.ts';
import type { UsbmuxDevice } from '../usbmux/device.ts';
import { UsbmuxdRecordStore } from './usbmuxd-records.ts';

/**
 * Finds a device on usbmuxd (`sel.socket`, else USBMUXD_SOCKET_ADDRESS, else /var/run/usbmuxd).
 * @throws DeviceNotFoundError ERR_DEVICE_NOT_FOUND, AmbiguousDeviceError ERR_DEVICE_AMBIGUOUS,
 *   ERR_USBMUX_UNREACHABLE (no daemon), ERR_TIMEOUT, ERR_ABORTED
 */
export async function openUsbmuxdDevice(sel: DeviceSelector = {}, o?: CallOpts): Promise<DeviceProvider> {
  const env = sel.env ?? process.env;
  const mux = await UsbmuxClient.open({ address: sel.socket, env, signal: o?.signal, timeoutMs: o?.timeoutMs });
  let devices: UsbmuxDevice[];
  try {
    devices = await mux.listDevices(o);
  } finally {
    mux.close();
  }
  const dev = selectDevice(devices, sel.udid);
  const pairRecords = new UsbmuxdRecordStore({ address: sel.socket, env });
  return {
    udid: dev.udid,
    deviceId: dev.deviceId,
    connectionType: dev.connectionType,
    pairRecords,
    env,
    async connect(port: number, co?: CallOpts): Promise<Duplex> {
      const c = await UsbmuxClient.open({ address: sel.socket, env, signal: co?.signal, timeoutMs: co?.timeoutMs });
      return c.connect(dev.deviceId, port, co); // consumes (and on failure closes) the client
    },
  };
}
