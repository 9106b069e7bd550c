/**
 * Composition point: picks a transport's {@link DeviceProvider} (src/providers/), then wires lockdown +
 * pairing + TLS on top of it. Callers get a provider from {@link openDevice}, then a lockdown client, a
 * service stream or an AFC client from it.
 */
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { AfcClient, type AfcClientOptions } from './afc/client.ts';
import { withCallOpts, type CallOpts } from './core/abort.ts';
import { ClosedError, ProtocolError } from './core/errors.ts';
import { LockdownClient } from './lockdown/client.ts';
import { LOCKDOWN_PORT, LOCKDOWN_SERVICE_TYPE } from './lockdown/protocol.ts';
import type { PairRecord } from './pairing/pair-record.ts';
import { attachKeylog, tlsClientOptions } from './pairing/tls.ts';
import { pairDevice, type PairDeviceOptions, type TrustEvent } from './pairing/trust.ts';
import { NotPairedError, UsbUnavailableError, type DeviceProvider, type DeviceSelector } from './provider.ts';
import { openUsbmuxdDevice } from './providers/usbmuxd.ts';

/**
 * Finds a device and returns a provider for it: usbmuxd by default (`sel.socket`, else
 * USBMUXD_SOCKET_ADDRESS, else /var/run/usbmuxd), our USB transport with `sel.usb` (loaded on first use, so
 * the native `usb` module is never touched by usbmuxd users). The provider is a handle on the UDID, not on one
 * attachment: each `connect()` looks the device up again, so it keeps working after an unplug/replug (while the
 * device is away, connecting throws ERR_DEVICE_NOT_FOUND; `waitForDevice(udid)` resolves when it is back).
 * @throws DeviceNotFoundError ERR_DEVICE_NOT_FOUND, AmbiguousDeviceError ERR_DEVICE_AMBIGUOUS,
 *   ERR_USBMUX_UNREACHABLE (no daemon), ERR_USB_UNAVAILABLE, ERR_TIMEOUT, ERR_ABORTED
 */
export async function openDevice(sel: DeviceSelector = {}, o?: CallOpts): Promise<DeviceProvider> {
  if (!sel.usb) return openUsbmuxdDevice(sel, o);
  let usb: typeof import('./providers/usb.ts');
  try {
    usb = await import('./providers/usb.ts');
  } catch (e) {
    throw new UsbUnavailableError(e);
  }
  return usb.openUsbDevice(sel, o);
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
  const stream = await dev.connect(LOCKDOWN_PORT, { ...opts, recycleReads: false }); // TLS wraps it in place
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
  /**
   * Read the service connection into reused memory (PortConnectOptions.recycleReads; ignored when the service
   * uses TLS). For streams handed to a consumer that supports it: connectAfc sets it (AfcConnection does).
   */
  recycleReads?: boolean;
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
  const stream = await dev.connect(svc.port, { ...opts, recycleReads: opts.recycleReads === true && !svc.enableServiceSSL });
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
  return new AfcClient(await connectService(dev, 'com.apple.afc', { recycleReads: true, ...opts }), opts.afc);
}
