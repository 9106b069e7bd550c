/**
 * The host end's {@link BulkTransport} over npm `usb` 2.x (libusb; legacy API: `getDeviceList`, `device.open`,
 * `setConfiguration`, `interface.claim`, `InEndpoint.startPoll`, `OutEndpoint.transfer`). Finds Apple mobile devices,
 * walks configurations for the usbmux interface, switches configuration when needed, claims, and keeps usbmuxd's
 * 3 × 16 KiB bulk IN transfers queued (the mux reassembles packets split across completions by the header length).
 *
 * Notes on `usb` 2.x: libusb's Linux backend learns about plugs and unplugs from udevd's netlink group, so a
 * long-lived process sees re-enumeration only where udevd runs (every desktop; the VM tier starts one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dashedUdid } from '../core/udid.ts';
import { DetachedError, UsbError } from './errors.ts';
import type { BulkTransport } from './transport.ts';
import {
  APPLE_VID,
  configsFromDescriptors,
  findMuxInterface,
  guessUsbMode,
  isAppleMobilePid,
  locationId,
  speedBpsFromMbps,
} from './usb-device-info.ts';
import type { ConfigDesc, MuxInterfaceChoice, RawConfigDescriptor } from './usb-device-info.ts';

type Cb<T = void> = (err: Error | undefined, value?: T) => void;

/** The part of `usb` 2.x's InEndpoint this module uses. */
export interface NativeInEndpoint {
  readonly direction: 'in';
  startPoll(nTransfers: number, transferSize: number): unknown;
  stopPoll(callback?: () => void): void;
  readonly pollActive: boolean;
  on(ev: 'data', fn: (b: Buffer) => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  on(ev: 'end', fn: () => void): unknown;
  once(ev: 'end', fn: () => void): unknown;
  removeAllListeners(ev?: string): unknown;
}
/** The part of `usb` 2.x's OutEndpoint this module uses. */
export interface NativeOutEndpoint {
  readonly direction: 'out';
  timeout: number;
  transfer(buf: Buffer, cb: (err: Error | undefined, actual: number) => void): unknown;
}
/** The part of `usb` 2.x's Interface this module uses. */
export interface NativeInterface {
  readonly interfaceNumber: number;
  claim(): void;
  release(closeEndpoints: boolean, cb: (err?: Error) => void): void;
  isKernelDriverActive(): boolean;
  detachKernelDriver(): void;
  endpoint(address: number): NativeInEndpoint | NativeOutEndpoint | undefined;
}
/** The part of `usb` 2.x's Device this module uses (kept structural so tests can pass their own). */
export interface NativeUsbDevice {
  readonly busNumber: number;
  readonly deviceAddress: number;
  readonly portNumbers: number[];
  readonly deviceDescriptor: { idVendor: number; idProduct: number; iSerialNumber: number; bcdUSB: number };
  readonly allConfigDescriptors: RawConfigDescriptor[];
  /** Active configuration; undefined when unconfigured (configuration 0). */
  readonly configDescriptor: RawConfigDescriptor | undefined;
  /** Set while the device is open (the library's own open marker). */
  interfaces: NativeInterface[] | undefined;
  open(defaultConfig?: boolean): void;
  close(): void;
  setConfiguration(value: number, cb: (err?: Error) => void): void;
  interface(n: number): NativeInterface;
  getStringDescriptor(index: number, cb: (err?: Error, value?: string) => void): void;
  controlTransfer(bmRequestType: number, bRequest: number, wValue: number, wIndex: number, length: number, cb: (err?: Error, data?: unknown) => void): unknown;
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

/** IN transfer size: usbmuxd's 16 KiB; a longer mux packet spans full-size completions and a short one. */
export const IN_TRANSFER_SIZE = 16384;
/** IN transfers kept queued (usbmuxd keeps 3). */
export const IN_TRANSFERS = 3;
/** How long a release waits for cancelled IN transfers to come back before closing anyway. */
const END_WAIT_MS = 3000;

let usbModule: Promise<{ getDeviceList(): NativeUsbDevice[] }> | undefined;

async function loadUsb(): Promise<{ getDeviceList(): NativeUsbDevice[] }> {
  usbModule ??= import('usb').then((m) => {
    const u = ((m as { default?: unknown }).default ?? m) as { getDeviceList(): unknown[] };
    return { getDeviceList: () => u.getDeviceList() as NativeUsbDevice[] };
  });
  return usbModule;
}

const sysfsPath = (d: NativeUsbDevice): string => `/sys/bus/usb/devices/${d.busNumber}-${d.portNumbers.join('.')}`;

function readSysfs(d: NativeUsbDevice, attr: string): string | undefined {
  if (process.platform !== 'linux' || d.portNumbers.length === 0) return undefined;
  try {
    return readFileSync(`${sysfsPath(d)}/${attr}`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The serial string: sysfs on Linux (no open needed), else a string descriptor read (opening only if not open). */
async function serialOf(d: NativeUsbDevice): Promise<string> {
  const s = readSysfs(d, 'serial');
  if (s) return s;
  const idx = d.deviceDescriptor.iSerialNumber;
  if (!idx) return '';
  const wasOpen = d.interfaces !== undefined;
  try {
    if (!wasOpen) d.open(false);
    return await new Promise<string>((resolve, reject) => d.getStringDescriptor(idx, (e, v) => (e ? reject(e) : resolve(v ?? ''))));
  } catch {
    return ''; // no permission or gone: not listed
  } finally {
    if (!wasOpen) safelySync(() => d.close());
  }
}

/**
 * Lists Apple mobile devices on the USB bus (VID 0x05AC, usbmuxd's PID ranges).
 * @throws ERR_USB_UNAVAILABLE when no USB stack is reachable (no /sys/bus/usb on Linux, binding missing, libusb cannot
 *   initialise).
 */
export async function listUsbDevices(): Promise<UsbDeviceInfo[]> {
  // libusb lists nothing (rather than failing) on a Linux kernel without USB support: say so
  if (process.platform === 'linux' && !existsSync('/sys/bus/usb/devices')) {
    throw new UsbError('ERR_USB_UNAVAILABLE', 'usb: this Linux kernel has no USB support (/sys/bus/usb/devices missing)');
  }
  let devices: NativeUsbDevice[];
  try {
    devices = (await loadUsb()).getDeviceList();
  } catch (e) {
    throw new UsbError('ERR_USB_UNAVAILABLE', `usb: cannot enumerate devices: ${(e as Error).message}`, { cause: e });
  }
  const out: UsbDeviceInfo[] = [];
  for (const d of devices) {
    const dd = d.deviceDescriptor;
    if (dd.idVendor !== APPLE_VID || !isAppleMobilePid(dd.idProduct)) continue;
    const serial = await serialOf(d);
    if (!serial) continue;
    out.push({
      udid: dashedUdid(serial),
      serial,
      productId: dd.idProduct,
      locationId: locationId(d.busNumber, d.deviceAddress),
      speed: speedBpsFromMbps(readSysfs(d, 'speed') ?? (dd.bcdUSB >= 0x300 ? '5000' : undefined)),
      busNumber: d.busNumber,
      address: d.deviceAddress,
      device: d,
    });
  }
  return out;
}

function configsOf(d: NativeUsbDevice): ConfigDesc[] {
  return configsFromDescriptors(d.allConfigDescriptors);
}

const msgOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function mapError(e: unknown, what: string): Error {
  const msg = msgOf(e);
  if (/NO_DEVICE|disconnected|no such device/i.test(msg)) return new DetachedError(what, { cause: e });
  if (/BUSY/i.test(msg)) {
    return new UsbError('ERR_USB_BUSY', `${what}: the usbmux interface is claimed by another process (is usbmuxd running?)`, { cause: e });
  }
  return new UsbError('ERR_USB_TRANSFER', `${what}: ${msg}`, { cause: e });
}

const call = (fn: (cb: Cb) => void): Promise<void> => new Promise((resolve, reject) => fn((e) => (e ? reject(e) : resolve())));

/** Host-side bulk transport over one claimed usbmux interface. */
export class UsbBulkTransport implements BulkTransport {
  readonly maxPacketSize: number;
  readonly inTransferSize = IN_TRANSFER_SIZE;
  /** IN transfers kept in flight. */
  readonly inTransfers: number;
  readonly info: UsbDeviceInfo;
  readonly #dev: NativeUsbDevice;
  readonly #choice: MuxInterfaceChoice;
  readonly #itf: NativeInterface;
  readonly #in: NativeInEndpoint;
  readonly #out: NativeOutEndpoint;
  /**
   * The BulkTransport contract wants fresh buffers. node-usb 2.x's startPoll allocates a new buffer for every
   * (re)submission (dist/usb/endpoint.js), so completions are passed on as views. As a guard, ArrayBuffers already
   * handed out are remembered: should a completion ever reuse one, it and every later completion are copied (the
   * first views handed out before the reuse showed cannot be protected; `copiedCompletions` reports it).
   */
  readonly #seen = new WeakSet<ArrayBufferLike>();
  #copyAll = false;
  #copied = 0;
  #dataCb: ((b: Buffer) => void) | undefined;
  #closeCbs: ((e?: Error) => void)[] = [];
  #closed = false;
  #polling = false;
  #inEnded = false;
  #outPending = 0;
  #outIdle: (() => void)[] = [];
  #released: Promise<void> | undefined;

  private constructor(info: UsbDeviceInfo, choice: MuxInterfaceChoice, itf: NativeInterface, inEp: NativeInEndpoint, outEp: NativeOutEndpoint, inTransfers: number) {
    this.info = info;
    this.#dev = info.device;
    this.#choice = choice;
    this.#itf = itf;
    this.#in = inEp;
    this.#out = outEp;
    this.maxPacketSize = choice.outPacketSize;
    this.inTransfers = inTransfers;
  }

  /**
   * Opens the device, selects the configuration holding the usbmux interface (from bNumConfigurations down), detaches
   * kernel drivers when switching, claims the interface. IN transfers start with {@link onData}.
   * @param opts.inTransfers IN transfers kept queued (1–8, default 3).
   * @throws ERR_USB_NO_MUX_INTERFACE (no usbmux interface: USB mode 5), ERR_USB_BUSY (claimed elsewhere, e.g. by
   *   usbmuxd), ERR_USB_DETACHED, ERR_USB_TRANSFER.
   */
  static async open(info: UsbDeviceInfo, opts: { inTransfers?: number } = {}): Promise<UsbBulkTransport> {
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
    let itf: NativeInterface;
    let inEp: NativeInEndpoint | undefined;
    let outEp: NativeOutEndpoint | undefined;
    const wasOpen = d.interfaces !== undefined;
    try {
      if (!wasOpen) d.open();
      const current = d.configDescriptor?.bConfigurationValue ?? 0; // 0: unconfigured (udev's usbmuxd rule)
      if (current !== choice.configurationValue) {
        for (const i of d.interfaces ?? []) detachDriver(i);
        await call((cb) => d.setConfiguration(choice.configurationValue, cb));
      }
      itf = d.interface(choice.interfaceNumber);
      detachDriver(itf);
      itf.claim();
      const a = itf.endpoint(0x80 | choice.inEndpoint);
      const b = itf.endpoint(choice.outEndpoint);
      if (a?.direction === 'in') inEp = a;
      if (b?.direction === 'out') outEp = b;
    } catch (e) {
      if (!wasOpen) safelySync(() => d.close());
      throw mapError(e, `usb: opening ${info.udid}`);
    }
    if (!inEp || !outEp) {
      await new Promise<void>((r) => itf.release(false, () => r()));
      if (!wasOpen) safelySync(() => d.close());
      throw new UsbError('ERR_USB_NO_MUX_INTERFACE', `usb: ${info.udid}: usbmux endpoints missing from the claimed interface`);
    }
    outEp.timeout = 0; // no limit: the device acknowledges as it can
    return new UsbBulkTransport(info, choice, itf, inEp, outEp, Math.max(1, Math.min(8, opts.inTransfers ?? IN_TRANSFERS)));
  }

  /** The configuration and interface in use. */
  get choice(): MuxInterfaceChoice {
    return this.#choice;
  }

  /** IN completions that reused a buffer already handed out and were therefore copied (expected: 0). */
  get copiedCompletions(): number {
    return this.#copied;
  }

  async write(buf: Buffer): Promise<void> {
    if (this.#closed) throw new DetachedError('usb write');
    this.#outPending++;
    try {
      await new Promise<void>((resolve, reject) => {
        try {
          this.#out.transfer(buf, (e) => (e ? reject(e) : resolve()));
        } catch (e) {
          reject(e as Error);
        }
      });
    } catch (e) {
      const err = await this.#classify(e, 'usb write');
      this.#fail(err);
      throw err;
    } finally {
      if (--this.#outPending === 0) for (const f of this.#outIdle.splice(0)) f();
    }
  }

  onData(cb: (chunk: Buffer) => void): void {
    this.#dataCb = cb;
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    this.#in.on('data', (b) => this.#onIn(b));
    this.#in.on('end', () => (this.#inEnded = true));
    this.#in.on('error', (e) => {
      void this.#classify(e, 'usb read').then((err) => this.#fail(err));
    });
    try {
      this.#in.startPoll(this.inTransfers, IN_TRANSFER_SIZE);
    } catch (e) {
      this.#inEnded = true;
      void this.#classify(e, 'usb read').then((err) => this.#fail(err));
    }
  }

  onClose(cb: (err?: Error) => void): void {
    this.#closeCbs.push(cb);
  }

  #onIn(b: Buffer): void {
    if (this.#closed || b.length === 0) return; // ZLPs carry nothing
    if (!this.#copyAll && this.#seen.has(b.buffer)) this.#copyAll = true;
    let chunk = b;
    if (this.#copyAll) {
      chunk = Buffer.from(b);
      this.#copied++;
    } else this.#seen.add(b.buffer);
    this.#dataCb?.(chunk);
  }

  /**
   * A failed transfer's error, typed: libusb reports an unplug as NO_DEVICE, but an in-flight URB may end with a plain
   * I/O error first; a GET_STATUS control request tells whether the device is still there.
   */
  async #classify(e: unknown, what: string): Promise<Error> {
    const mapped = mapError(e, what);
    if (mapped instanceof DetachedError || this.#closed) return mapped;
    const gone = await new Promise<boolean>((resolve) => {
      try {
        this.#dev.controlTransfer(0x80, 0x00, 0, 0, 2, (err) => resolve(err !== undefined && /NO_DEVICE/i.test(msgOf(err))));
      } catch (err) {
        resolve(/NO_DEVICE/i.test(msgOf(err)));
      }
    });
    return gone ? new DetachedError(what, { cause: e }) : mapped;
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cb of this.#closeCbs) cb(err);
    void this.#release();
  }

  /** Stops IN polling, waits for the cancelled transfers and pending OUT transfers, releases, closes. */
  #release(): Promise<void> {
    if (this.#released) return this.#released;
    const key = deviceKey(this.info);
    this.#released = (async () => {
      const waits: Promise<void>[] = [];
      if (this.#polling && !this.#inEnded) {
        waits.push(new Promise<void>((r) => this.#in.once('end', r)));
        if (this.#in.pollActive) safelySync(() => this.#in.stopPoll());
      }
      if (this.#outPending > 0) waits.push(new Promise<void>((r) => this.#outIdle.push(r)));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(waits), new Promise<void>((r) => (timer = setTimeout(r, END_WAIT_MS)))]);
      clearTimeout(timer);
      this.#in.removeAllListeners('data');
      this.#in.on('error', () => undefined); // late errors after release must not become uncaught 'error' events
      await new Promise<void>((r) => {
        try {
          this.#itf.release(false, () => r());
        } catch {
          r();
        }
      });
      safelySync(() => this.#dev.close());
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

/** Detaches a kernel driver bound to the interface (none is the normal case); failures are left to claim(). */
function detachDriver(i: NativeInterface): void {
  try {
    if (i.isKernelDriverActive()) i.detachKernelDriver();
  } catch {
    /* not supported on this platform, or no driver */
  }
}

/** Releases in progress, per device: a new open of the same device waits for them. */
const releasing = new Map<string, Promise<void>>();

function deviceKey(i: UsbDeviceInfo): string {
  return `${i.busNumber}:${i.address}`;
}

/** Runs a binding call that may throw; ignores it (best-effort cleanup: already closed or device gone). */
function safelySync(fn: () => void): void {
  try {
    fn();
  } catch {
    /* already released, device gone */
  }
}
