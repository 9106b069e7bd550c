/**
 * The {@link DeviceProvider} over a usbmuxd daemon (the default transport): the device is picked with ListDevices,
 * and each `connect(port)` opens a fresh usbmuxd connection, looks the device up by UDID again (ListDevices on
 * that connection) and hands it over with Connect to the DeviceID it has *now*: usbmuxd gives a replugged device
 * a new DeviceID, so a provider outlives unplug/replug (as appium-ios-device and pymobiledevice3 look devices up
 * per connection). Pair records go through the daemon (./usbmuxd-records.ts).
 */
import type { Duplex } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import { sameUdid } from '../core/udid.ts';
import { DeviceNotFoundError, selectDevice, type DeviceProvider, type DeviceSelector, type PortConnectOptions } from '../provider.ts';
import { UsbmuxClient } from '../usbmux/client.ts';
import type { UsbmuxDevice } from '../usbmux/device.ts';
import { UsbmuxdRecordStore } from './usbmuxd-records.ts';

/**
 * Finds a device on usbmuxd (`sel.socket`, else USBMUXD_SOCKET_ADDRESS, else /var/run/usbmuxd).
 * `connect()` throws ERR_DEVICE_NOT_FOUND while the device is not attached (unplugged, not yet back).
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
  let dev = selectDevice(devices, sel.udid);
  const udid = dev.udid;
  const pairRecords = new UsbmuxdRecordStore({ address: sel.socket, env });
  /** The device's entry now: the same connection type as before if it is there, else USB, else any. */
  const lookup = (list: UsbmuxDevice[]): UsbmuxDevice | undefined => {
    const hits = list.filter((d) => sameUdid(d.udid, udid));
    return hits.find((d) => d.connectionType === dev.connectionType) ?? hits.find((d) => d.connectionType === 'USB') ?? hits[0];
  };
  return {
    udid,
    /** The DeviceID of the last lookup (it changes when the device is replugged). */
    get deviceId(): number {
      return dev.deviceId;
    },
    get connectionType(): string {
      return dev.connectionType;
    },
    pairRecords,
    env,
    async connect(port: number, co?: PortConnectOptions): Promise<Duplex> {
      const c = await UsbmuxClient.open({ address: sel.socket, env, signal: co?.signal, timeoutMs: co?.timeoutMs, recycleReads: co?.recycleReads === true });
      let now: UsbmuxDevice | undefined;
      try {
        now = lookup(await c.listDevices(co));
      } catch (e) {
        c.close();
        throw e;
      }
      if (!now) {
        c.close();
        throw new DeviceNotFoundError(`device ${udid} is not attached (unplugged?)`);
      }
      dev = now;
      return c.connect(now.deviceId, port, co); // consumes (and on failure closes) the client
    },
  };
}
