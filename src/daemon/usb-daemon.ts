/**
 * Our own usbmuxd over the direct USB transport: finds Apple devices on the bus (polling, since libusb hotplug (`usb` 2.x) needs
 * udevd), claims each one's usbmux interface, runs a {@link HostMux} per device and publishes it through a
 * {@link RecordStoreBackend} (pair records in the usbmuxd layout, XML). Plug it into `UsbmuxServer` to serve real
 * libimobiledevice clients. DeviceIDs count from 1 and change on re-enumeration, like usbmuxd's.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { IDeviceError } from '../core/errors.ts';
import { DirectoryRecordStore } from '../usbmux/record-store.ts';
import { RecordStoreBackend } from '../usbmux/store-backend.ts';
import { UsbmuxError } from '../usbmux/errors.ts';
import { ResultCode } from '../usbmux/protocol.ts';
import { HostMux } from '../usb/host-mux.ts';
import { listUsbDevices, UsbBulkTransport } from '../usb/usb-transport.ts';
import type { UsbDeviceInfo } from '../usb/usb-transport.ts';

export interface UsbDaemonOptions {
  /** Pair record directory (default /var/lib/lockdown, usbmuxd's). */
  recordDir?: string;
  /** Bus scan interval, ms (default 1000). */
  pollMs?: number;
  /** Handshake timeout per device, ms (default 10000). */
  handshakeTimeoutMs?: number;
  /** Replaces the bus scan (tests). */
  list?: () => Promise<UsbDeviceInfo[]>;
  /** Replaces opening a device (tests). */
  open?: (info: UsbDeviceInfo) => Promise<HostMux>;
}

interface Attached {
  deviceId: number;
  key: string;
  info: UsbDeviceInfo;
  mux: HostMux;
}

/**
 * Events: 'log' (string), 'attached' (deviceId, udid), 'detached' (deviceId, udid), 'error' is never emitted: failures
 * to open a device are logged and retried on a later scan.
 */
export class UsbMuxDaemon extends EventEmitter {
  readonly backend: RecordStoreBackend;
  readonly #opts: UsbDaemonOptions;
  readonly #devices = new Map<string, Attached>();
  readonly #opening = new Set<string>();
  readonly #failed = new Map<string, { count: number; skip: number }>();
  #nextId = 1;
  #timer: NodeJS.Timeout | undefined;
  #scanning = false;
  #stopped = false;

  constructor(opts: UsbDaemonOptions = {}) {
    super();
    this.#opts = opts;
    this.backend = new RecordStoreBackend({
      store: new DirectoryRecordStore(opts.recordDir ?? '/var/lib/lockdown'),
      connect: (deviceId, port) => this.#connect(deviceId, port),
    });
  }

  /** Devices currently served. */
  get devices(): { deviceId: number; udid: string }[] {
    return [...this.#devices.values()].map((d) => ({ deviceId: d.deviceId, udid: d.info.udid }));
  }

  /** Scans once now, then every `pollMs`. */
  async start(): Promise<void> {
    await this.scan();
    const tick = (): void => {
      this.#timer = setTimeout(() => {
        void this.scan().finally(() => {
          if (!this.#stopped) tick();
        });
      }, this.#opts.pollMs ?? 1000);
    };
    if (!this.#stopped) tick();
  }

  /** One bus scan: opens new devices, drops vanished ones. */
  async scan(): Promise<void> {
    if (this.#scanning || this.#stopped) return;
    this.#scanning = true;
    try {
      let found: UsbDeviceInfo[];
      try {
        found = await (this.#opts.list ?? listUsbDevices)();
      } catch (e) {
        this.emit('log', `bus scan failed: ${(e as Error).message}`);
        return;
      }
      const keys = new Set(found.map(keyOf));
      for (const [k, d] of this.#devices) if (!keys.has(k)) this.#drop(d, 'gone from the bus');
      for (const k of this.#failed.keys()) if (!keys.has(k)) this.#failed.delete(k);
      await Promise.all(found.filter((i) => !this.#devices.has(keyOf(i)) && !this.#opening.has(keyOf(i))).map((i) => this.#open(i)));
    } finally {
      this.#scanning = false;
    }
  }

  async #open(info: UsbDeviceInfo): Promise<void> {
    const k = keyOf(info);
    const f = this.#failed.get(k);
    if (f && f.skip > 0) {
      // back off after failures: skip 1, 2, 4 … 32 scans
      f.skip--;
      return;
    }
    this.#opening.add(k);
    try {
      const mux = this.#opts.open
        ? await this.#opts.open(info)
        : await HostMux.open(await UsbBulkTransport.open(info), { timeoutMs: this.#opts.handshakeTimeoutMs ?? 10000 });
      if (this.#stopped) {
        await mux.close();
        return;
      }
      this.#failed.delete(k);
      const d: Attached = { deviceId: this.#nextId++, key: k, info, mux };
      this.#devices.set(k, d);
      mux.on('log', (m: { level: string; text: string }) => this.emit('log', `${info.udid} ${m.level}: ${m.text}`));
      mux.once('close', (err?: Error) => this.#drop(d, err ? err.message : 'closed'));
      this.emit('log', `attached ${info.udid} as device ${d.deviceId} (mux v${mux.version}, location 0x${info.locationId.toString(16)})`);
      this.backend.attach({ deviceId: d.deviceId, properties: propertiesOf(d.deviceId, info) });
      this.emit('attached', d.deviceId, info.udid);
    } catch (e) {
      if (!f) this.emit('log', `cannot open ${info.udid}: ${e instanceof IDeviceError ? `[${e.code}] ` : ''}${(e as Error).message}`);
      const count = (f?.count ?? 0) + 1;
      this.#failed.set(k, { count, skip: Math.min(32, 2 ** (count - 1)) });
    } finally {
      this.#opening.delete(k);
    }
  }

  #drop(d: Attached, why: string): void {
    if (this.#devices.get(d.key) !== d) return;
    this.#devices.delete(d.key);
    this.emit('log', `detached device ${d.deviceId} (${d.info.udid}): ${why}`);
    this.backend.detach(d.deviceId);
    void d.mux.close();
    this.emit('detached', d.deviceId, d.info.udid);
  }

  async #connect(deviceId: number, port: number): Promise<Duplex> {
    const d = [...this.#devices.values()].find((x) => x.deviceId === deviceId);
    if (!d) throw new UsbmuxError(ResultCode.BadDevice, 'Connect');
    try {
      return await d.mux.connect(port, { timeoutMs: 10000 });
    } catch (e) {
      if (e instanceof IDeviceError && e.code === 'ERR_USB_MUX_REFUSED') throw new UsbmuxError(ResultCode.ConnRefused, 'Connect');
      throw new UsbmuxError(ResultCode.BadDevice, 'Connect');
    }
  }

  /** Stops scanning and closes every device (listeners get Detached). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const d of [...this.#devices.values()]) this.#drop(d, 'daemon stopped');
  }
}

function keyOf(i: UsbDeviceInfo): string {
  return `${i.busNumber}:${i.address}:${i.serial}`;
}

/** The Properties usbmuxd publishes for a USB device (protocol.md §1). */
export function propertiesOf(deviceId: number, info: UsbDeviceInfo): Record<string, string | number> {
  return {
    ConnectionSpeed: info.speed,
    ConnectionType: 'USB',
    DeviceID: deviceId,
    LocationID: info.locationId,
    ProductID: info.productId,
    SerialNumber: info.udid,
    USBSerialNumber: info.serial.replace(/-/g, ''),
    UDID: info.udid,
  };
}
