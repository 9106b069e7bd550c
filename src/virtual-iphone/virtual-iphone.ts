/**
 * One virtual iPhone: identity + lockdownd state ({@link VirtualLockdownDevice}), a media folder served over AFC,
 * a crash report folder, its ports (62078 lockdownd; StartService hands out one-shot ports), link shaping and
 * faults. `connect(port)` is what a usbmux backend calls: it returns the host end of a fresh in-memory stream
 * whose device end is being served.
 *
 * Services: `com.apple.afc` → serveAfc(root = media folder, hostile hooks if any, paced by the afcd model of the
 * `real` profile); `com.apple.crashreportmover` →
 * sends the 4 bytes `ping` and closes; `com.apple.crashreportcopymobile` → serveAfc(root = crash folder); any
 * other name → lockdown `InvalidService`. All services run without TLS (`EnableServiceSSL: false`), like AFC over
 * USB on a real device.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { duplexPair } from '../core/duplex-pair.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { serveAfc, type AfcServerOptions } from '../afc/server.ts';
import { serveLockdown } from '../lockdown/server.ts';
import { LOCKDOWN_PORT } from '../lockdown/protocol.ts';
import { UsbmuxResultError } from '../usbmux/errors.ts';
import { dashedUdid } from '../core/udid.ts';
import { EmulatorDetachedError } from './errors.ts';
import { DeviceFaults, type FaultSpec } from './faults.ts';
import { AfcdModel, afcdProfile, type AfcdTiming } from './afcd-model.ts';
import { DeviceLink, linkProfile, type LinkParams, type LinkProfile } from './link.ts';
import { VirtualLockdownDevice, type TrustPolicy, type VirtualLockdownDeviceOptions } from './lockdown-device.ts';
import { ServiceRegistry, type ServiceHandler } from './services.ts';

/** Options of {@link VirtualIPhone}. */
export interface VirtualIPhoneOptions {
  /** UDID; a 24-hex-digit serial is published in the dashed 25-character form. Generated when absent. */
  udid?: string;
  /** DeviceName (default "Virtual iPhone"). */
  name?: string;
  /** ProductVersion, ≥ 10 (default "17.5"). */
  iosVersion?: string;
  /** Folder served by com.apple.afc (holds DCIM/ and whatever else). */
  mediaDir: string;
  /** Folder served by com.apple.crashreportcopymobile. */
  crashDir: string;
  trust?: TrustPolicy;
  trustDelayMs?: number;
  locked?: boolean;
  /** Link profile or explicit bus parameters (default 'none'); 'real' adds the afcd timing of ./afcd-model.ts. */
  link?: LinkProfile | LinkParams;
  /** afcd service times for com.apple.afc (default: those of the link profile: REAL_AFCD for 'real', none otherwise). */
  afcd?: AfcdTiming;
  /** serveAfc hooks for the media folder (hostile mode). */
  afcHooks?: AfcServerOptions['hooks'];
  /**
   * Service handlers by name that replace (or add to) the built-in ones: each StartService of that name gets a
   * one-shot port whose accepted stream goes to the handler (e.g. a raw AFC responder standing in for afcd).
   */
  services?: Readonly<Record<string, ServiceHandler>>;
  /** Further VirtualLockdownDevice options (private key, values, keylog file). */
  lockdown?: Omit<VirtualLockdownDeviceOptions, 'udid' | 'deviceName' | 'productVersion' | 'trust' | 'trustDelayMs' | 'locked' | 'startService'>;
}

/** Error code streams of a detached device fail with. */
export const DETACHED_CODE = 'ERR_EMULATOR_DETACHED' satisfies EmulatorDetachedError['code'];

/**
 * A virtual iPhone. Events: 'detached' when {@link VirtualIPhone.detach} ran (by hand or by a detach fault),
 * 'connection'(port) for each accepted connection.
 */
export class VirtualIPhone extends EventEmitter {
  readonly udid: string;
  readonly lockdown: VirtualLockdownDevice;
  readonly mediaDir: string;
  readonly crashDir: string;
  readonly faults: DeviceFaults;
  readonly link: DeviceLink | undefined;
  /** The device's afcd timing model (shared by its AFC connections), when the profile has one. */
  readonly afcd: AfcdModel | undefined;
  readonly #ports = new ServiceRegistry();
  readonly #streams = new Set<Duplex>();
  readonly #afcHooks: AfcServerOptions['hooks'];
  readonly #services: Readonly<Record<string, ServiceHandler>>;
  #detached = false;

  /** @throws InvalidArgumentError (ERR_INVALID_ARG) for an iOS version below 10 or a bad link profile. */
  constructor(opts: VirtualIPhoneOptions) {
    super();
    const version = opts.iosVersion ?? '17.5';
    const major = Number.parseInt(version, 10);
    if (!/^\d+(\.\d+){0,2}$/.test(version) || !(major >= 10)) {
      throw new InvalidArgumentError(`iOS version must be ≥ 10 (libimobiledevice forces TLS 1.0 below), got "${version}"`);
    }
    this.mediaDir = opts.mediaDir;
    this.crashDir = opts.crashDir;
    this.#afcHooks = opts.afcHooks;
    this.#services = opts.services ?? {};
    this.lockdown = new VirtualLockdownDevice({
      ...opts.lockdown,
      ...(opts.udid !== undefined ? { udid: dashedUdid(opts.udid) } : {}),
      deviceName: opts.name ?? 'Virtual iPhone',
      productVersion: version,
      trust: opts.trust ?? 'auto',
      trustDelayMs: opts.trustDelayMs ?? 0,
      locked: opts.locked ?? false,
      startService: (name) => this.#startService(name),
    });
    this.udid = this.lockdown.udid;
    const params = typeof opts.link === 'object' ? opts.link : linkProfile(opts.link ?? 'none');
    this.link = params ? new DeviceLink(params) : undefined;
    const timing = opts.afcd ?? (typeof opts.link === 'string' ? afcdProfile(opts.link) : undefined);
    this.afcd = timing ? new AfcdModel(timing) : undefined;
    this.faults = new DeviceFaults(() => this.detach(), { wrapAll: true });
    this.#ports.listen(LOCKDOWN_PORT, (s) => {
      serveLockdown(s, this.lockdown);
    });
  }

  /** True after {@link detach}. */
  get detached(): boolean {
    return this.#detached;
  }

  /** Arms a fault on this device (see ./faults.ts). */
  armFault(spec: FaultSpec): void {
    this.faults.arm(spec);
  }

  #startService(name: string): { port: number; enableServiceSSL: boolean } | undefined {
    let handler: ServiceHandler | undefined = Object.hasOwn(this.#services, name) ? this.#services[name] : undefined;
    if (handler) return { port: this.#ports.offer(handler), enableServiceSSL: false };
    switch (name) {
      case 'com.apple.afc':
        handler = (s) =>
          serveAfc(s, { root: this.mediaDir, ...(this.#afcHooks ? { hooks: this.#afcHooks } : {}), ...(this.afcd ? { pacer: this.afcd.pacer() } : {}) });
        break;
      case 'com.apple.crashreportmover':
        handler = (s) => {
          s.on('data', () => {}); // nothing is expected from the host; keep the stream flowing
          s.on('error', () => {});
          s.end(Buffer.from('ping', 'latin1'));
        };
        break;
      case 'com.apple.crashreportcopymobile':
        handler = (s) => serveAfc(s, { root: this.crashDir });
        break;
      default:
        return undefined;
    }
    return { port: this.#ports.offer(handler), enableServiceSSL: false };
  }

  /**
   * Opens a connection to `port` on the device: the returned stream is the host's end (shaped by the link profile,
   * subject to armed faults). Rejects with UsbmuxResultError ERR_USBMUX_CONNREFUSED (result 3) when nothing listens
   * there, ERR_USBMUX_BADDEV (2) after detach.
   */
  async connect(port: number): Promise<Duplex> {
    if (this.#detached) throw new UsbmuxResultError(2, `connect to port ${port}`);
    const handler = this.#ports.take(port);
    if (!handler) throw new UsbmuxResultError(3, `connect to port ${port}`);
    const [hostEnd, deviceEnd] = duplexPair();
    let outer: Duplex = this.faults.wrap(hostEnd, port);
    if (this.link) outer = this.link.wrap(outer);
    this.#streams.add(outer);
    outer.once('close', () => this.#streams.delete(outer));
    deviceEnd.on('error', () => {}); // a service's stream error is that connection's business only
    handler(deviceEnd);
    this.emit('connection', port);
    return outer;
  }

  /** Unplugs the device: every open stream errors with ERR_EMULATOR_DETACHED; later connects fail. Emits 'detached'. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#ports.clear();
    for (const s of [...this.#streams]) s.destroy(new EmulatorDetachedError(this.udid));
    this.#streams.clear();
    this.emit('detached');
  }

  /** Plugs the device back in (after {@link detach}); trust state survives, like a real replug. */
  reattach(): void {
    this.#detached = false;
  }

  /** Number of open connections. */
  get openConnections(): number {
    return this.#streams.size;
  }

  /** Closes every connection without the detach event (emulator shutdown). */
  close(): void {
    this.#ports.clear();
    for (const s of [...this.#streams]) s.destroy();
    this.#streams.clear();
  }
}
