/**
 * The host end's {@link BulkTransport} over npm `usb` 3.x (nusb; WebUSB-like API: `open`, `selectConfiguration`,
 * `claimInterface`, `nativeTransferIn/Out`). Finds Apple mobile devices, walks configurations for the usbmux interface,
 * switches configuration when needed, claims, and keeps a 64 KiB IN transfer queued.
 *
 * Notes on `usb` 3.x: hotplug needs a udev netlink socket (udevd), so listing is done by polling; usb 3.1.0 fails a
 * second transfer submitted on an endpoint that already has one pending ("endpoint not found"), so IN reads are
 * submitted one at a time (usbmuxd keeps 3 × 16 KiB queued) and OUT transfers are serialised by the mux.
 */
import { DetachedError, UsbError } from './errors.ts';
import type { BulkTransport } from './transport.ts';
import {
  APPLE_VID,
  findMuxInterface,
  guessUsbMode,
  isAppleMobilePid,
  locationId,
  serialToUdid,
  speedBps,
} from './usb-device-info.ts';
import type { ConfigDesc, MuxInterfaceChoice } from './usb-device-info.ts';

/** The part of `usb`'s UsbDevice this module uses (kept structural so tests can pass their own). */
export interface NativeUsbDevice {
  vendorId: number;
  productId: number;
  bus: string;
  address: number;
  speed?: string;
  readonly serialNumber: string | null;
  readonly configurations: unknown[];
  readonly configuration: unknown;
  readonly opened: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  selectConfiguration(value: number): Promise<void>;
  claimInterface(n: number): Promise<void>;
  releaseInterface(n: number): Promise<void>;
  detachKernelDriver(n: number): Promise<void>;
  nativeTransferIn(ep: number, timeout: number, length: number): Promise<Uint8Array | null>;
  nativeTransferOut(ep: number, timeout: number, data: Uint8Array): Promise<number>;
  clearHalt(direction: 'in' | 'out', ep: number): Promise<void>;
}

/** An Apple device found on the bus. */
export interface UsbDeviceInfo {
  /** UDID (24-character serials dashed after 8). */
  udid: string;
  /** USB serial string as read from the device. */
  serial: string;
  productId: number;
  /** usbmuxd LocationID (bus << 16 | address). */
  locationId: number;
  /** ConnectionSpeed in bits/s. */
  speed: number;
  busNumber: number;
  address: number;
  device: NativeUsbDevice;
}

/** No wait limit on OUT transfers (the binding needs a number; ~24 days). */
const NO_TIMEOUT = 0x7fffffff;
/**
 * IN reads are resubmitted after this long without data: `usb` 3.x cannot release an interface or close a device while
 * a transfer is pending ("cannot be borrowed mutably"), so a bounded read is the only way to stop. A device completes
 * each mux packet with a short packet or ZLP at once, so a timed-out read holds no partial packet.
 */
const IN_POLL_MS = 1000;
/**
 * IN transfer size. usbmuxd queues 3 × 16 KiB; with one transfer in flight (see above) a 64 KiB transfer is better: every
 * mux packet (≤ 65535 bytes, ended by a short packet or ZLP) completes in one transfer, one JS round trip per packet.
 */
export const IN_TRANSFER_SIZE = 65536;

let usbModule: Promise<{ getDevices(): Promise<NativeUsbDevice[]> }> | undefined;

async function loadUsb(): Promise<{ getDevices(): Promise<NativeUsbDevice[]> }> {
  usbModule ??= import('usb').then((m) => {
    const u = (m as unknown as { usb: { getDevices(): Promise<unknown[]> } }).usb;
    return { getDevices: async () => (await u.getDevices()) as NativeUsbDevice[] };
  });
  return usbModule;
}

/**
 * Lists Apple mobile devices on the USB bus (VID 0x05AC, usbmuxd's PID ranges).
 * @throws ERR_USB_UNAVAILABLE when no USB stack is reachable (no /sys/bus/usb, binding missing).
 */
export async function listUsbDevices(): Promise<UsbDeviceInfo[]> {
  let devices: NativeUsbDevice[];
  try {
    devices = await (await loadUsb()).getDevices();
  } catch (e) {
    throw new UsbError('ERR_USB_UNAVAILABLE', `usb: cannot enumerate devices: ${(e as Error).message}`, { cause: e });
  }
  const out: UsbDeviceInfo[] = [];
  for (const d of devices) {
    if (d.vendorId !== APPLE_VID || !isAppleMobilePid(d.productId)) continue;
    const serial = d.serialNumber ?? '';
    if (!serial) continue;
    const busNumber = Number.parseInt(String(d.bus).split(/[-.]/)[0] ?? '0', 10) || 0;
    out.push({
      udid: serialToUdid(serial),
      serial,
      productId: d.productId,
      locationId: locationId(busNumber, d.address),
      speed: speedBps(d.speed),
      busNumber,
      address: d.address,
      device: d,
    });
  }
  return out;
}

function configsOf(d: NativeUsbDevice): ConfigDesc[] {
  return (d.configurations as ConfigDesc[]).map((c) => ({
    configurationValue: c.configurationValue,
    interfaces: c.interfaces.map((i) => ({ interfaceNumber: i.interfaceNumber, alternates: i.alternates })),
  }));
}

function currentConfigValue(d: NativeUsbDevice): number {
  try {
    const c = d.configuration as { configurationValue?: number } | null | undefined;
    return c?.configurationValue ?? 0;
  } catch {
    return 0; // unconfigured (udev's usbmuxd rule sets configuration 0)
  }
}

function mapError(e: unknown, what: string): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (/disconnected|no such device|not found/i.test(msg)) return new DetachedError(what, { cause: e });
  if (/busy/i.test(msg)) {
    return new UsbError('ERR_USB_BUSY', `${what}: the usbmux interface is claimed by another process (is usbmuxd running?)`, { cause: e });
  }
  return new UsbError('ERR_USB_TRANSFER', `${what}: ${msg}`, { cause: e });
}

/** Host-side bulk transport over one claimed usbmux interface. */
export class UsbBulkTransport implements BulkTransport {
  readonly maxPacketSize: number;
  readonly inTransferSize = IN_TRANSFER_SIZE;
  readonly info: UsbDeviceInfo;
  readonly #dev: NativeUsbDevice;
  readonly #choice: MuxInterfaceChoice;
  readonly #inTransfers: number;
  #dataCb: ((b: Buffer) => void) | undefined;
  #closeCbs: ((e?: Error) => void)[] = [];
  #closed = false;
  #polling = 0;
  #inflight = 0;
  #idle: (() => void)[] = [];
  #released: Promise<void> | undefined;

  private constructor(info: UsbDeviceInfo, choice: MuxInterfaceChoice, inTransfers: number) {
    this.info = info;
    this.#dev = info.device;
    this.#choice = choice;
    this.maxPacketSize = choice.outPacketSize;
    this.#inTransfers = inTransfers;
  }

  /**
   * Opens the device, selects the configuration holding the usbmux interface (from bNumConfigurations down), detaches
   * kernel drivers when switching, claims the interface and starts the IN reads.
   * @throws ERR_USB_NO_MUX_INTERFACE (no usbmux interface: USB mode 5), ERR_USB_BUSY (claimed elsewhere, e.g. by
   *   usbmuxd), ERR_USB_DETACHED, ERR_USB_TRANSFER.
   */
  static async open(info: UsbDeviceInfo, opts: { inTransfers?: number } = {}): Promise<UsbBulkTransport> {
    // inTransfers: IN reads kept queued. Default 1: usb 3.1.0 fails a second transfer submitted on an endpoint that has
    // one pending ("transferIn error: endpoint not found", seen in the VM tier), so usbmuxd's 3 × 16 KiB is not possible.
    const d = info.device;
    // a transport of this process still releasing the same device would undo our claim: wait for it
    await releasing.get(deviceKey(info));
    const configs = configsOf(d);
    const choice = findMuxInterface(configs);
    if (!choice) {
      const mode = guessUsbMode(configs);
      throw new UsbError(
        'ERR_USB_NO_MUX_INTERFACE',
        `usb: ${info.udid} has no usbmux interface (USB mode ${mode}${mode === 5 ? ': CDC-NCM only, iOS 17+' : ''})`,
      );
    }
    try {
      if (!d.opened) await d.open();
      const current = currentConfigValue(d);
      if (current !== choice.configurationValue) {
        if (current !== 0) {
          const cur = configs.find((c) => c.configurationValue === current);
          for (const itf of cur?.interfaces ?? []) await d.detachKernelDriver(itf.interfaceNumber).catch(() => undefined);
        }
        await d.selectConfiguration(choice.configurationValue);
      }
      await d.detachKernelDriver(choice.interfaceNumber).catch(() => undefined);
      await d.claimInterface(choice.interfaceNumber);
    } catch (e) {
      await safely(() => d.close());
      throw mapError(e, `usb: opening ${info.udid}`);
    }
    const t = new UsbBulkTransport(info, choice, Math.max(1, Math.min(8, opts.inTransfers ?? 1)));
    return t;
  }

  /** The configuration and interface in use. */
  get choice(): MuxInterfaceChoice {
    return this.#choice;
  }

  async write(buf: Buffer): Promise<void> {
    if (this.#closed) throw new DetachedError('usb write');
    this.#inflight++;
    try {
      const n = await this.#dev.nativeTransferOut(this.#choice.outEndpoint, NO_TIMEOUT, buf);
      if (n < 0) throw new UsbError('ERR_USB_TRANSFER', 'usb: OUT endpoint stalled');
    } catch (e) {
      const err = e instanceof UsbError ? e : mapError(e, 'usb write');
      this.#fail(err);
      throw err;
    } finally {
      this.#settled();
    }
  }

  onData(cb: (chunk: Buffer) => void): void {
    this.#dataCb = cb;
    while (this.#polling < this.#inTransfers) {
      this.#polling++;
      void this.#readLoop();
    }
  }

  onClose(cb: (err?: Error) => void): void {
    this.#closeCbs.push(cb);
  }

  async #readLoop(): Promise<void> {
    let stalls = 0;
    while (!this.#closed) {
      let data: Uint8Array | null;
      this.#inflight++;
      try {
        data = await this.#dev.nativeTransferIn(this.#choice.inEndpoint, IN_POLL_MS, IN_TRANSFER_SIZE);
      } catch (e) {
        if (this.#closed) return;
        // a bounded read that saw no data ends as "Cancelled" (or "timed out"): submit the next one
        if (/timed out|cancel/i.test(e instanceof Error ? e.message : String(e))) continue;
        this.#fail(mapError(e, 'usb read'));
        return;
      } finally {
        this.#settled();
      }
      if (this.#closed) return;
      if (data === null) {
        // stall: clear the halt once, then give up
        if (++stalls > 2) return this.#fail(new UsbError('ERR_USB_TRANSFER', 'usb: IN endpoint keeps stalling'));
        await this.#dev.clearHalt('in', this.#choice.inEndpoint).catch(() => undefined);
        continue;
      }
      stalls = 0;
      if (data.length > 0) this.#dataCb?.(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
  }

  #settled(): void {
    if (--this.#inflight === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cb of this.#closeCbs) cb(err);
    void this.#release();
  }

  /** Releases the interface and closes the device once no transfer is pending (at most one IN poll period). */
  #release(): Promise<void> {
    if (this.#released) return this.#released;
    const key = deviceKey(this.info);
    this.#released = (async () => {
      if (this.#inflight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((r) => this.#idle.push(r)),
          new Promise<void>((r) => (timer = setTimeout(r, IN_POLL_MS * 3))),
        ]);
        clearTimeout(timer);
      }
      await safely(() => this.#dev.releaseInterface(this.#choice.interfaceNumber));
      await safely(() => this.#dev.close());
    })();
    const p = this.#released;
    releasing.set(key, p);
    void p.then(() => {
      if (releasing.get(key) === p) releasing.delete(key);
    });
    return p;
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const cb of this.#closeCbs) cb(undefined);
    }
    await this.#release();
  }
}

/** Releases in progress, per device: a new open of the same device waits for them. */
const releasing = new Map<string, Promise<void>>();

function deviceKey(i: UsbDeviceInfo): string {
  return `${i.busNumber}:${i.address}`;
}

/** Runs a binding call that may throw synchronously or reject; ignores both (best-effort cleanup). */
async function safely(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch {
    /* already released, device gone, or still borrowed */
  }
}
