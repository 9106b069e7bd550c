/**
 * Composition point: the only module that wires usbmux (or another transport) + lockdown + pairing
 * together. Callers get a {@link DeviceProvider} from {@link openDevice}, then a lockdown client, a
 * service stream or an AFC client from it.
 *
 * Transports: usbmuxd (default) or our own USB mux (`{ usb: true }`), which the usb-mux module provides
 * through {@link registerUsbProvider} (or the module named by {@link USB_PROVIDER_MODULE}).
 */
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { AfcClient, type AfcClientOptions } from './afc/client.ts';
import { withCallOpts, type CallOpts } from './core/abort.ts';
import { ClosedError, IDeviceError, ProtocolError } from './core/errors.ts';
import { LockdownClient } from './lockdown/client.ts';
import { LOCKDOWN_PORT, LOCKDOWN_SERVICE_TYPE } from './lockdown/protocol.ts';
import type { PairRecord } from './pairing/pair-record.ts';
import { chooseStore, UsbmuxdRecordStore, type PairRecordStore } from './pairing/store.ts';
import { attachKeylog, tlsClientOptions } from './pairing/tls.ts';
import { pairDevice, type PairDeviceOptions, type TrustEvent } from './pairing/trust.ts';
import { UsbmuxClient } from './usbmux/client.ts';
import { sameUdid, type UsbmuxDevice } from './usbmux/device.ts';

/** Which device, over which transport. */
export interface DeviceSelector {
  /** UDID, with or without the dash; default: the only attached USB device. */
  udid?: string;
  /** usbmuxd address (`UNIX:/path`, `host:port`); default USBMUXD_SOCKET_ADDRESS, else the platform default. */
  socket?: string;
  /** Use our own USB transport instead of usbmuxd. */
  usb?: boolean;
  /** Environment (USBMUXD_SOCKET_ADDRESS, SSLKEYLOGFILE); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** One device reachable over some transport. */
export interface DeviceProvider {
  /** The UDID tools use (dashed 25-character form for 2018+ devices). */
  readonly udid: string;
  /** Transport-specific id (usbmuxd DeviceID), passed to SavePairRecord. */
  readonly deviceId?: number;
  /** 'USB', 'Network', … */
  readonly connectionType?: string;
  /** Opens a new stream to a device port (62078 = lockdownd, or a port from StartService). */
  connect(port: number, o?: CallOpts): Promise<Duplex>;
  /** Where this host keeps its pair record for the device. */
  readonly pairRecords: PairRecordStore;
  /** Environment used for SSLKEYLOGFILE. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Opens a provider over our own USB transport (supplied by src/usb-mux). */
export type UsbProviderOpener = (sel: DeviceSelector, o?: CallOpts) => Promise<DeviceProvider>;

/** Module that, when present, exports `openUsbDevice: UsbProviderOpener` (loaded on first `{ usb: true }`). */
export const USB_PROVIDER_MODULE = './usb-mux/provider.ts';

let usbOpener: UsbProviderOpener | undefined;

/** Hook for the USB transport: `openDevice({ usb: true })` calls `open`. */
export function registerUsbProvider(open: UsbProviderOpener | undefined): void {
  usbOpener = open;
}

/** No device, or no device with the requested UDID (ERR_DEVICE_NOT_FOUND). */
export class DeviceNotFoundError extends IDeviceError {
  constructor(message: string) {
    super('ERR_DEVICE_NOT_FOUND', message);
  }
}

/** Several devices and no UDID given (ERR_DEVICE_AMBIGUOUS); `udids` lists them. */
export class AmbiguousDeviceError extends IDeviceError {
  constructor(readonly udids: string[]) {
    super('ERR_DEVICE_AMBIGUOUS', `${udids.length} devices attached (${udids.join(', ')}): choose one with -u UDID`);
  }
}

/** No pair record for the device and pairing was not allowed (ERR_DEVICE_NOT_PAIRED). */
export class NotPairedError extends IDeviceError {
  constructor(udid: string) {
    super('ERR_DEVICE_NOT_PAIRED', `this computer is not paired with ${udid}: run \`iosdevice pair\``);
  }
}

/** The usb transport is not available in this build (ERR_USB_UNAVAILABLE). */
export class UsbUnavailableError extends IDeviceError {
  constructor(cause?: unknown) {
    super('ERR_USB_UNAVAILABLE', 'the direct USB transport is not available', { cause });
  }
}

/**
 * Picks the device to use from a list: by UDID (with or without the dash, any connection type), else
 * the only USB device.
 * @throws DeviceNotFoundError ERR_DEVICE_NOT_FOUND, AmbiguousDeviceError ERR_DEVICE_AMBIGUOUS
 */
export function selectDevice(devices: UsbmuxDevice[], udid?: string): UsbmuxDevice {
  if (udid !== undefined) {
    const hits = devices.filter((d) => sameUdid(d.udid, udid));
    const usb = hits.find((d) => d.connectionType === 'USB');
    if (usb) return usb;
    if (hits[0]) return hits[0];
    throw new DeviceNotFoundError(`no device with UDID ${udid} (attached: ${devices.map((d) => d.udid).join(', ') || 'none'})`);
  }
  const usb = devices.filter((d) => d.connectionType === 'USB');
  if (usb.length === 0) throw new DeviceNotFoundError('no device attached: connect an iPhone by USB (and unlock it)');
  const udids = [...new Set(usb.map((d) => d.udid))];
  if (udids.length > 1) throw new AmbiguousDeviceError(udids);
  return usb[0]!;
}

/**
 * Finds a device and returns a provider for it: usbmuxd by default (`sel.socket`, else
 * USBMUXD_SOCKET_ADDRESS, else /var/run/usbmuxd), our USB transport with `sel.usb`.
 * @throws DeviceNotFoundError ERR_DEVICE_NOT_FOUND, AmbiguousDeviceError ERR_DEVICE_AMBIGUOUS,
 *   ERR_USBMUX_UNREACHABLE (no daemon), ERR_USB_UNAVAILABLE, ERR_TIMEOUT, ERR_ABORTED
 */
export async function openDevice(sel: DeviceSelector = {}, o?: CallOpts): Promise<DeviceProvider> {
  if (sel.usb) {
    let open = usbOpener;
    if (!open) {
      try {
        const mod = (await import(USB_PROVIDER_MODULE)) as { openUsbDevice?: UsbProviderOpener };
        open = mod.openUsbDevice;
      } catch (e) {
        throw new UsbUnavailableError(e);
      }
      if (!open) throw new UsbUnavailableError();
    }
    return open(sel, o);
  }
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

/** Options of {@link connectLockdown}. */
export interface ConnectLockdownOptions extends CallOpts {
  /** Start a TLS session (default true). */
  session?: boolean;
  /** Run the "Trust this computer" flow when there is no pair record (default true). */
  autoPair?: boolean;
  /** Progress of the trust flow (dialog pending, locked, …). */
  onTrustEvent?: (e: TrustEvent) => void;
  /** Bound on the whole trust flow including the user's answer, ms (default: none; `timeoutMs` bounds each request). */
  pairTimeoutMs?: number;
  /** Further trust-flow options (retry interval, injected certificate keys). */
  pairing?: Pick<PairDeviceOptions, 'retryIntervalMs' | 'certificates' | 'hostId'>;
  /** Label on lockdown requests (default "iosdevice"). */
  label?: string;
  /** NSS key log file for the session (default $SSLKEYLOGFILE). */
  keylog?: string;
}

/** A lockdown client with its session's pair record. */
export interface LockdownSession {
  lockdown: LockdownClient;
  /** The pair record used for the session (undefined when `session: false`). */
  record: PairRecord | undefined;
}

/**
 * Connects to lockdownd, checks QueryType, and (unless `session: false`) reads the pair record, pairs
 * when there is none and `autoPair` allows it (saving the record only after the device accepted), and
 * starts a TLS session.
 * @throws NotPairedError ERR_DEVICE_NOT_PAIRED, LockdownError codes (ERR_LOCKDOWN_INVALID_HOST_ID: the device
 *   forgot this host; ERR_LOCKDOWN_PASSWORD_PROTECTED, ERR_LOCKDOWN_USER_DENIED_PAIRING during pairing, …),
 *   pairing/store codes, ERR_PROTOCOL, ERR_CLOSED, ERR_TIMEOUT, ERR_ABORTED
 */
export async function openLockdownSession(dev: DeviceProvider, opts: ConnectLockdownOptions = {}): Promise<LockdownSession> {
  const stream = await dev.connect(LOCKDOWN_PORT, opts);
  const lockdown = new LockdownClient(stream, { label: opts.label, env: dev.env });
  try {
    const type = await lockdown.queryType(opts);
    if (type !== LOCKDOWN_SERVICE_TYPE) throw new ProtocolError('lockdown', `device is not in normal mode (QueryType answered "${type}")`);
    if (opts.session === false) return { lockdown, record: undefined };
    await lockdown.getValue('ProductVersion', undefined, opts); // picks the TLS profile, as libimobiledevice does
    let record = await dev.pairRecords.read(dev.udid, opts);
    if (!record) {
      if (opts.autoPair === false) throw new NotPairedError(dev.udid);
      const systemBuid = await dev.pairRecords.systemBuid(opts);
      record = await pairDevice(lockdown, {
        ...opts.pairing,
        systemBuid,
        onEvent: opts.onTrustEvent,
        signal: opts.signal,
        timeoutMs: opts.pairTimeoutMs,
      });
      await dev.pairRecords.save(dev.udid, record, dev.deviceId, opts);
    }
    await lockdown.startSession(record, { keylog: opts.keylog, signal: opts.signal, timeoutMs: opts.timeoutMs });
    return { lockdown, record };
  } catch (e) {
    lockdown.close();
    throw e;
  }
}

/** {@link openLockdownSession} returning only the client (the contract's connectLockdown). Same errors. */
export async function connectLockdown(dev: DeviceProvider, opts: ConnectLockdownOptions = {}): Promise<LockdownClient> {
  return (await openLockdownSession(dev, opts)).lockdown;
}

/** Options of {@link connectService}. */
export interface ConnectServiceOptions extends ConnectLockdownOptions {
  /** Send the record's EscrowBag with StartService (services that need data while locked). */
  escrowBag?: boolean;
}

/**
 * StartSession → StartService(name) → a new connection to the service port → TLS (client certificate =
 * HostCertificate) when the device asks for EnableServiceSSL. The lockdown connection is closed; the
 * service stream lives on.
 * @throws ServiceError ERR_LOCKDOWN_INVALID_SERVICE etc., everything {@link openLockdownSession} throws,
 *   ERR_PROTOCOL (service TLS failed), usbmux codes from the new connection
 */
export async function connectService(dev: DeviceProvider, name: string, opts: ConnectServiceOptions = {}): Promise<Duplex> {
  const { lockdown, record } = await openLockdownSession(dev, { ...opts, session: true });
  let svc: { port: number; enableServiceSSL: boolean };
  const legacy = lockdown.productVersion !== undefined && Number.parseInt(lockdown.productVersion, 10) < 10;
  try {
    svc = await lockdown.startService(name, { escrowBag: opts.escrowBag ? record?.EscrowBag : undefined, signal: opts.signal, timeoutMs: opts.timeoutMs });
  } finally {
    lockdown.close();
  }
  const stream = await dev.connect(svc.port, opts);
  if (!svc.enableServiceSSL) return stream;
  const sock = tls.connect({ ...tlsClientOptions(record!, { legacy }), socket: stream });
  const keylog = opts.keylog ?? (dev.env ?? process.env).SSLKEYLOGFILE;
  if (keylog) attachKeylog(sock, keylog);
  const ready = new Promise<Duplex>((resolve, reject) => {
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', (e) => reject(new ProtocolError('lockdown', `service TLS failed: ${e.message}`, undefined, { cause: e })));
    sock.once('close', () => reject(new ClosedError(`${name} TLS handshake`)));
  });
  try {
    return await withCallOpts(`${name} TLS handshake`, ready, opts, () => sock.destroy());
  } catch (e) {
    sock.destroy();
    stream.destroy();
    throw e;
  }
}

/** An AFC client on `com.apple.afc` (media partition). Errors as {@link connectService}. */
export async function connectAfc(dev: DeviceProvider, opts: ConnectServiceOptions & { afc?: AfcClientOptions } = {}): Promise<AfcClient> {
  return new AfcClient(await connectService(dev, 'com.apple.afc', opts), opts.afc);
}

/** Re-exported for callers that want to pick a store without a device (e.g. `iosdevice pair --list`). */
export { chooseStore };
