/**
 * Devices at a glance: {@link listDevices} (what is attached now), {@link watchDevices} (attach / detach /
 * paired as an AsyncIterable) and {@link waitForDevice} (until one UDID is attached). They talk to usbmuxd (`socket`, else USBMUXD_SOCKET_ADDRESS, else the platform
 * default); `listDevices({ usb: true })` reads the USB bus through our own transport instead.
 */
import { onAbort, type CallOpts } from './core/abort.ts';
import { ClosedError, InvalidArgumentError, TimeoutError } from './core/errors.ts';
import { sameUdid } from './core/udid.ts';
import { UsbmuxClient } from './usbmux/client.ts';
import type { UsbmuxDevice } from './usbmux/device.ts';

/** Where to look for devices. */
export interface DeviceSource {
  /** usbmuxd address (`UNIX:/path`, `/path`, `host:port`); default USBMUXD_SOCKET_ADDRESS, else the platform default. */
  socket?: string;
  /** Environment for USBMUXD_SOCKET_ADDRESS (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link listDevices}. */
export interface ListDevicesOptions extends DeviceSource, CallOpts {
  /** List Apple devices on the USB bus with our own transport (no usbmuxd; needs the `usb` package). */
  usb?: boolean;
}

/**
 * The devices attached now (USB and network, as usbmuxd publishes them); an empty list when none is.
 * @throws ERR_USBMUX_UNREACHABLE (no usbmuxd at the address), ERR_USB_UNAVAILABLE (`usb` without a USB stack),
 *   ERR_INVALID_ARG (malformed address), ERR_TIMEOUT, ERR_ABORTED
 */
export async function listDevices(opts: ListDevicesOptions = {}): Promise<UsbmuxDevice[]> {
  if (opts.usb) {
    const { listUsbDevices } = await import('./providers/usb.ts');
    return (await listUsbDevices()).map((d, i) => ({
      deviceId: i + 1,
      udid: d.udid,
      connectionType: 'USB',
      productId: d.productId,
      locationId: d.locationId,
      speed: d.speed,
      properties: {},
    }));
  }
  const client = await UsbmuxClient.open({ address: opts.socket, env: opts.env, signal: opts.signal, timeoutMs: opts.timeoutMs });
  try {
    return await client.listDevices(opts);
  } finally {
    client.close();
  }
}

/** One change of the attached devices. Detached/paired carry the UDID of the device attached under that DeviceID. */
export type DeviceChange =
  | { type: 'attached'; udid: string; device: UsbmuxDevice }
  | { type: 'detached'; udid: string | undefined; deviceId: number }
  | { type: 'paired'; udid: string | undefined; deviceId: number };

/** Options of {@link watchDevices}. */
export interface WatchDevicesOptions extends DeviceSource {
  /** Ends the watch: the loop throws ERR_ABORTED (leave it with `break` to stop without an error). */
  signal?: AbortSignal;
  /** Bound on connecting and subscribing, ms (not on the wait for events). */
  timeoutMs?: number;
}

/**
 * Attach / detach / paired events as an AsyncIterable. The devices attached when the watch starts come first, as
 * 'attached'. Leaving the loop (break, return, throw) closes the usbmuxd connection.
 * @throws (from the loop) ERR_USBMUX_UNREACHABLE, ERR_CLOSED (usbmuxd went away), ERR_PROTOCOL, ERR_TIMEOUT, ERR_ABORTED
 */
export async function* watchDevices(opts: WatchDevicesOptions = {}): AsyncGenerator<DeviceChange, void, undefined> {
  const client = await UsbmuxClient.open({ address: opts.socket, env: opts.env, signal: opts.signal, timeoutMs: opts.timeoutMs });
  const udids = new Map<number, string>();
  for await (const ev of client.listen({ signal: opts.signal, timeoutMs: opts.timeoutMs })) {
    if (ev.type === 'attached') {
      udids.set(ev.device.deviceId, ev.device.udid);
      yield { type: 'attached', udid: ev.device.udid, device: ev.device };
    } else if (ev.type === 'detached') {
      const udid = udids.get(ev.deviceId);
      udids.delete(ev.deviceId);
      yield { type: 'detached', udid, deviceId: ev.deviceId };
    } else {
      yield { type: 'paired', udid: udids.get(ev.deviceId), deviceId: ev.deviceId };
    }
  }
}

/** Options of {@link waitForDevice}. */
export interface WaitForDeviceOptions extends DeviceSource {
  /** Stops waiting: rejects with ERR_ABORTED (`cause`: the signal's reason). */
  signal?: AbortSignal;
  /** Gives up after this many milliseconds with ERR_TIMEOUT (default: waits for ever). */
  timeoutMs?: number;
}

/**
 * Resolves with the device once usbmuxd lists `udid` (with or without the dash): at once when it is attached now,
 * else on its Attached event (e.g. after a replug, with its new DeviceID). A handle from `openDevice()` keeps
 * working across a replug (each connection looks the device up by UDID), so this is what to await before using it
 * again.
 * @throws ERR_TIMEOUT (`timeoutMs` passed), ERR_ABORTED (`signal`), ERR_USBMUX_UNREACHABLE (no usbmuxd at the
 *   address), ERR_CLOSED (usbmuxd went away while waiting), ERR_INVALID_ARG (empty UDID, malformed address)
 */
export async function waitForDevice(udid: string, opts: WaitForDeviceOptions = {}): Promise<UsbmuxDevice> {
  if (typeof udid !== 'string' || udid.trim() === '') throw new InvalidArgumentError('waitForDevice: a UDID is required');
  const ac = new AbortController();
  const timeout = opts.timeoutMs !== undefined ? new TimeoutError(`waiting for device ${udid}`, opts.timeoutMs) : undefined;
  const timer = timeout ? setTimeout(() => ac.abort(timeout), opts.timeoutMs) : undefined;
  const off = opts.signal ? onAbort(opts.signal, () => ac.abort(opts.signal!.reason)) : () => undefined;
  try {
    for await (const ev of watchDevices({ socket: opts.socket, env: opts.env, signal: ac.signal })) {
      if (ev.type === 'attached' && sameUdid(ev.udid, udid)) return ev.device;
    }
    throw new ClosedError(`usbmuxd Listen while waiting for device ${udid}`);
  } catch (e) {
    if (timeout !== undefined && ac.signal.reason === timeout) throw timeout;
    throw e;
  } finally {
    clearTimeout(timer);
    off();
  }
}
