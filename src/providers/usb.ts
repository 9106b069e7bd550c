/**
 * The direct-USB {@link DeviceProvider} for `openDevice({ usb: true })` (src/connect.ts loads this module lazily):
 * finds the device on the bus, claims its usbmux interface and runs a {@link HostMux}; `connect(port)` opens mux
 * streams. Pair records live in the per-user store (no usbmuxd is involved, and none may run on the same device).
 *
 * The mux is opened on the first connect and released 1 s after the last stream closed (so a CLI process can exit:
 * pending USB reads would keep it alive), and reopened on demand; `close()` releases it at once.
 */
import type { Duplex } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import { withCallOpts } from '../core/abort.ts';
import { UserRecordStore, defaultUserStoreDir } from '../pairing/user-store.ts';
import { selectDevice, type DeviceProvider, type DeviceSelector } from '../provider.ts';
import { HostMux } from '../usb/host-mux.ts';
import { listUsbDevices, UsbBulkTransport } from '../usb/usb-transport.ts';
import type { UsbDeviceInfo } from '../usb/usb-transport.ts';

export { listUsbDevices };
export type { UsbDeviceInfo };

/** A provider that can also be closed explicitly. */
export interface UsbDeviceProvider extends DeviceProvider {
  readonly info: UsbDeviceInfo;
  /** Releases the USB interface now (open streams are reset). */
  close(): Promise<void>;
}

/**
 * Picks the device (by UDID with or without the dash, else the only one) from the bus.
 * @throws ERR_DEVICE_NOT_FOUND, ERR_DEVICE_AMBIGUOUS, ERR_USB_UNAVAILABLE
 */
export async function findUsbDevice(udid?: string): Promise<UsbDeviceInfo> {
  return selectDevice(await listUsbDevices(), udid, { where: 'on the USB bus', none: 'no Apple device on the USB bus' });
}

/**
 * `openDevice({ usb: true })`: a provider over our own USB transport.
 * @throws ERR_DEVICE_NOT_FOUND, ERR_DEVICE_AMBIGUOUS, ERR_USB_UNAVAILABLE; connect() adds ERR_USB_NO_MUX_INTERFACE,
 *   ERR_USB_BUSY (usbmuxd holds the device), ERR_USB_MUX_REFUSED, ERR_USB_DETACHED, ERR_TIMEOUT, ERR_ABORTED
 */
export async function openUsbDevice(sel: DeviceSelector = {}, o?: CallOpts): Promise<UsbDeviceProvider> {
  const info = await withCallOpts('usb device lookup', findUsbDevice(sel.udid), o);
  const env = sel.env ?? process.env;
  let mux: Promise<HostMux> | undefined;
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const release = async (): Promise<void> => {
    const m = mux;
    mux = undefined;
    if (m) await (await m.catch(() => undefined))?.close();
  };
  const getMux = (co?: CallOpts): Promise<HostMux> => {
    if (!mux) {
      const p = (async () => {
        const fresh = (await findUsbDevice(info.udid).catch(() => info)) ?? info;
        const m = await HostMux.open(await UsbBulkTransport.open(fresh), { timeoutMs: co?.timeoutMs ?? 10000, signal: co?.signal });
        m.once('close', () => {
          if (mux === p) mux = undefined;
        });
        return m;
      })();
      mux = p;
      p.catch(() => {
        if (mux === p) mux = undefined;
      });
    }
    return mux;
  };
  return {
    udid: info.udid,
    connectionType: 'USB',
    info,
    env,
    pairRecords: new UserRecordStore(defaultUserStoreDir(env)),
    async connect(port: number, co?: CallOpts): Promise<Duplex> {
      if (idle) clearTimeout(idle);
      idle = undefined;
      open++;
      try {
        const s = await (await getMux(co)).connect(port, co);
        s.once('close', () => {
          if (--open === 0) idle = setTimeout(() => void release(), 1000);
        });
        return s;
      } catch (e) {
        if (--open === 0) idle = setTimeout(() => void release(), 1000);
        throw e;
      }
    },
    async close(): Promise<void> {
      if (idle) clearTimeout(idle);
      idle = undefined;
      await release();
    },
  };
}
