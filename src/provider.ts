/**
 * The composition seam below every service: a {@link DeviceProvider} opens streams to device ports and knows
 * where this host keeps the device's pair record. One provider per transport lives in src/providers/
 * (usbmuxd, our own USB mux); src/connect.ts builds lockdown, TLS and services on top of any of them.
 */
import type { Duplex } from 'node:stream';
import type { CallOpts } from './core/abort.ts';
import { fixErrorName, IDeviceError } from './core/errors.ts';
import { sameUdid } from './core/udid.ts';
import type { PairRecordStore } from './pairing/record-store.ts';

/** Which device, over which transport. */
export interface DeviceSelector {
  /** UDID, with or without the dash; default: the only attached USB device. */
  udid?: string;
  /** usbmuxd address (`UNIX:/path`, `/path`, `host:port`); default USBMUXD_SOCKET_ADDRESS, else the platform default. */
  socket?: string;
  /** Use our own USB transport instead of usbmuxd. */
  usb?: boolean;
  /** Environment (USBMUXD_SOCKET_ADDRESS, SSLKEYLOGFILE); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link DeviceProvider.connect}. */
export interface PortConnectOptions extends CallOpts {
  /**
   * Read the stream's bytes into reused memory (core/read-recycler.ts) where the transport reads from a socket
   * (usbmuxd); transports that do not ignore it. Only for streams whose consumer knows (AfcConnection); never for a
   * stream that TLS will wrap.
   */
  recycleReads?: boolean;
}

/** One device reachable over some transport. */
export interface DeviceProvider {
  /** The UDID tools use (dashed 25-character form for 2018+ devices). */
  readonly udid: string;
  /** Transport-specific id (usbmuxd DeviceID, as of the last connect: a replug changes it), passed to SavePairRecord. */
  readonly deviceId?: number;
  /** 'USB', 'Network', … */
  readonly connectionType?: string;
  /** Opens a new stream to a device port (62078 = lockdownd, or a port from StartService). */
  connect(port: number, o?: PortConnectOptions): Promise<Duplex>;
  /** Where this host keeps its pair record for the device. */
  readonly pairRecords: PairRecordStore;
  /** Environment used for SSLKEYLOGFILE. */
  readonly env?: NodeJS.ProcessEnv;
}

/** No device, or no device with the requested UDID (ERR_DEVICE_NOT_FOUND). */
export class DeviceNotFoundError extends IDeviceError {
  static {
    fixErrorName(this, 'DeviceNotFoundError');
  }
  constructor(message: string) {
    super('ERR_DEVICE_NOT_FOUND', message);
  }
}

/** Several devices and no UDID given (ERR_DEVICE_AMBIGUOUS); `udids` lists them. */
export class AmbiguousDeviceError extends IDeviceError {
  static {
    fixErrorName(this, 'AmbiguousDeviceError');
  }
  constructor(readonly udids: string[]) {
    super('ERR_DEVICE_AMBIGUOUS', `${udids.length} devices attached (${udids.join(', ')}): choose one with -u UDID`);
  }
}

/** No pair record for the device and pairing was not allowed (ERR_DEVICE_NOT_PAIRED). */
export class NotPairedError extends IDeviceError {
  static {
    fixErrorName(this, 'NotPairedError');
  }
  constructor(udid: string) {
    super('ERR_DEVICE_NOT_PAIRED', `this computer is not paired with ${udid}: run \`iosdevice pair\``);
  }
}

/** The usb transport is not available in this build (ERR_USB_UNAVAILABLE). */
export class UsbUnavailableError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbUnavailableError');
  }
  constructor(cause?: unknown) {
    super('ERR_USB_UNAVAILABLE', 'the direct USB transport is not available', { cause });
  }
}

/** What {@link selectDevice} needs of a listed device. A missing `connectionType` counts as USB. */
export interface SelectableDevice {
  udid: string;
  connectionType?: string;
}

/** Wording of {@link selectDevice}'s errors for one transport. */
export interface SelectWording {
  /** Where the devices were looked for, e.g. "attached" or "on the USB bus". */
  where: string;
  /** Message when there is no device at all. */
  none: string;
}

const USBMUXD_WORDING: SelectWording = { where: 'attached', none: 'no device attached: connect an iPhone by USB (and unlock it)' };

/**
 * Picks the device to use from a list: by UDID (with or without the dash, any connection type, USB
 * preferred), else the only USB device.
 * @throws DeviceNotFoundError ERR_DEVICE_NOT_FOUND, AmbiguousDeviceError ERR_DEVICE_AMBIGUOUS
 */
export function selectDevice<T extends SelectableDevice>(devices: readonly T[], udid?: string, wording: SelectWording = USBMUXD_WORDING): T {
  const isUsb = (d: T): boolean => (d.connectionType ?? 'USB') === 'USB';
  if (udid !== undefined) {
    const hits = devices.filter((d) => sameUdid(d.udid, udid));
    const hit = hits.find(isUsb) ?? hits[0];
    if (hit) return hit;
    throw new DeviceNotFoundError(`no device with UDID ${udid} (${wording.where}: ${devices.map((d) => d.udid).join(', ') || 'none'})`);
  }
  const usb = devices.filter(isUsb);
  if (usb.length === 0) throw new DeviceNotFoundError(wording.none);
  const udids = [...new Set(usb.map((d) => d.udid))];
  if (udids.length > 1) throw new AmbiguousDeviceError(udids);
  return usb[0]!;
}
