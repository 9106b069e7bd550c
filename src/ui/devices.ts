/**
 * The devices the page shows: follows usbmuxd (attach / detach), opens each attached device, runs the trust flow
 * ("Trust this computer?") and keeps a state per device for the page: connecting → pairing ("Tap Trust on your
 * iPhone") / locked ("unlock it") → trusted, or denied / error (with a retry). A trusted device has a
 * {@link PhotoDevice} for the photo engine.
 */
import { EventEmitter } from 'node:events';
import { connectAfc, openDevice, openLockdownSession } from '../connect.ts';
import { watchDevices } from '../devices.ts';
import { errorCode } from '../core/errors.ts';
import type { PhotoDevice } from '../photos/source.ts';
import type { DeviceProvider } from '../provider.ts';

/** What the page shows about a device. */
export type DeviceState = 'connecting' | 'pairing' | 'locked' | 'trusted' | 'denied' | 'error';

/** One attached device as the page sees it (JSON). */
export interface DeviceView {
  udid: string;
  name?: string;
  /** ProductType, e.g. "iPhone15,2". */
  model?: string;
  /** ProductVersion, e.g. "17.5". */
  ios?: string;
  state: DeviceState;
  /** A sentence for the person: what to do now, or what went wrong. */
  message: string;
}

interface Entry {
  view: DeviceView;
  deviceId: number;
  photo?: PhotoDevice;
  abort: AbortController;
}

/** Options of {@link DeviceHub}. */
export interface DeviceHubOptions {
  /** usbmuxd address (default USBMUXD_SOCKET_ADDRESS, else the platform default). */
  socket?: string;
  env?: NodeJS.ProcessEnv;
  /** Bound on each usbmuxd / lockdown request, ms (default 30000). */
  requestMs?: number;
  /** Bound on the whole trust flow incl. the person's answer, ms (default 300000). */
  pairMs?: number;
  /** Pause before watching usbmuxd again after it went away, ms (default 2000). */
  retryMs?: number;
}

const MESSAGES: Record<DeviceState, string> = {
  connecting: 'Connecting…',
  pairing: 'Tap "Trust" on your iPhone and enter its passcode if asked.',
  locked: 'Your iPhone is locked: unlock it so the "Trust this computer?" dialog can appear.',
  trusted: 'Ready.',
  denied: 'The iPhone answered "Don\'t Trust". Unplug it and plug it back in, or press Retry, to be asked again.',
  error: 'The iPhone could not be opened.',
};

/** Attached devices and their trust state; emits 'change' whenever the list or a state changes. */
export class DeviceHub extends EventEmitter {
  readonly #o: DeviceHubOptions;
  readonly #devices = new Map<string, Entry>();
  readonly #ac = new AbortController();
  #watching: Promise<void> | undefined;
  /** Set while usbmuxd cannot be reached: what the page says instead of a device list. */
  muxError: string | undefined;

  constructor(o: DeviceHubOptions = {}) {
    super();
    this.#o = o;
  }

  /** Starts following usbmuxd. */
  start(): void {
    this.#watching ??= this.#watch();
  }

  /** The devices for the page. */
  list(): DeviceView[] {
    return [...this.#devices.values()].map((e) => ({ ...e.view }));
  }

  /** The engine's handle of a trusted device, or undefined. */
  photoDevice(udid: string): PhotoDevice | undefined {
    return this.#devices.get(udid)?.photo;
  }

  /** True while the device is attached. */
  attached(udid: string): boolean {
    return this.#devices.has(udid);
  }

  /** Runs the trust flow again for a device that was denied or failed. */
  retry(udid: string): boolean {
    const e = this.#devices.get(udid);
    if (!e || (e.view.state !== 'denied' && e.view.state !== 'error')) return false;
    void this.#open(e);
    return true;
  }

  /** Stops watching and every pending trust flow. */
  async close(): Promise<void> {
    this.#ac.abort();
    for (const e of this.#devices.values()) e.abort.abort();
    await this.#watching?.catch(() => undefined);
  }

  #set(e: Entry, state: DeviceState, message = MESSAGES[state]): void {
    e.view.state = state;
    e.view.message = message;
    this.emit('change');
  }

  async #watch(): Promise<void> {
    const signal = this.#ac.signal;
    while (!signal.aborted) {
      try {
        for await (const ch of watchDevices({ socket: this.#o.socket, env: this.#o.env, signal, timeoutMs: this.#o.requestMs ?? 30_000 })) {
          if (this.muxError !== undefined) {
            this.muxError = undefined;
            this.emit('change');
          }
          if (ch.type === 'attached') this.#attached(ch.udid, ch.device.deviceId);
          else if (ch.type === 'detached' && ch.udid !== undefined) this.#detached(ch.udid, ch.deviceId);
        }
      } catch (err) {
        if (signal.aborted) return;
        const code = errorCode(err);
        this.muxError = code === 'ERR_USBMUX_UNREACHABLE'
          ? 'usbmuxd is not running (on Linux: install and start usbmuxd; on Windows: install Apple Devices or iTunes). Retrying…'
          : `Lost the connection to usbmuxd (${code ?? 'error'}). Retrying…`;
        for (const e of this.#devices.values()) e.abort.abort();
        this.#devices.clear();
        this.emit('change');
      }
      await new Promise<void>((r) => setTimeout(r, this.#o.retryMs ?? 2000).unref());
    }
  }

  #attached(udid: string, deviceId: number): void {
    const old = this.#devices.get(udid);
    if (old) old.abort.abort();
    const e: Entry = { view: { udid, state: 'connecting', message: MESSAGES.connecting }, deviceId, abort: new AbortController() };
    this.#devices.set(udid, e);
    this.emit('change');
    void this.#open(e);
  }

  #detached(udid: string, deviceId: number): void {
    const e = this.#devices.get(udid);
    if (!e || e.deviceId !== deviceId) return;
    e.abort.abort();
    this.#devices.delete(udid);
    this.emit('change');
  }

  async #open(e: Entry): Promise<void> {
    e.abort.abort();
    e.abort = new AbortController();
    const signal = e.abort.signal;
    const timeoutMs = this.#o.requestMs ?? 30_000;
    this.#set(e, 'connecting');
    let dev: DeviceProvider;
    try {
      dev = await openDevice({ udid: e.view.udid, socket: this.#o.socket, env: this.#o.env }, { signal, timeoutMs });
      // name, model and iOS are readable before pairing: shown while the person is asked to trust
      const plain = await openLockdownSession(dev, { session: false, signal, timeoutMs });
      try {
        for (const [key, field] of [['DeviceName', 'name'], ['ProductType', 'model'], ['ProductVersion', 'ios']] as const) {
          const v = await plain.lockdown.getValue(key, undefined, { signal, timeoutMs }).catch(() => undefined);
          if (typeof v === 'string') e.view[field] = v;
        }
      } finally {
        plain.lockdown.close();
      }
      this.emit('change');
      const session = await openLockdownSession(dev, {
        autoPair: true,
        signal,
        timeoutMs,
        pairTimeoutMs: this.#o.pairMs ?? 300_000,
        onTrustEvent: (t) => {
          if (t.type === 'waiting-for-trust') this.#set(e, 'pairing');
          else if (t.type === 'device-locked') this.#set(e, 'locked');
        },
      });
      const name = await session.lockdown.getValue('DeviceName', undefined, { signal, timeoutMs }).catch(() => undefined);
      session.lockdown.close();
      if (typeof name === 'string') e.view.name = name;
      e.photo = {
        udid: dev.udid,
        ...(e.view.name !== undefined ? { name: e.view.name } : {}),
        openAfc: (o) => connectAfc(dev, { autoPair: false, signal: o?.signal ?? signal, ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
      };
      this.#set(e, 'trusted');
    } catch (err) {
      if (signal.aborted || this.#devices.get(e.view.udid) !== e) return;
      const code = errorCode(err);
      if (code === 'ERR_LOCKDOWN_USER_DENIED_PAIRING' || code === 'ERR_PAIRING_DENIED') this.#set(e, 'denied');
      else if (code === 'ERR_LOCKDOWN_PASSWORD_PROTECTED') this.#set(e, 'locked', `${MESSAGES.locked} Then press Retry.`);
      else if (code === 'ERR_TIMEOUT') this.#set(e, 'error', 'The iPhone did not answer in time (was "Trust" tapped?). Press Retry to ask again.');
      else this.#set(e, 'error', `${MESSAGES.error} ${err instanceof Error ? err.message : String(err)} (${code ?? 'error'}). Press Retry to try again.`);
    }
  }
}
