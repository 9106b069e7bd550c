import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LockdownError } from '../lockdown/errors.ts';
import { PRE_SESSION_KEYS } from '../lockdown/protocol.ts';
import type { LockdownContext, LockdownDevice, SessionIdentity } from '../lockdown/server.ts';
import { PlistReal, type PlistDict, type PlistValue } from '../plist/types.ts';
import { defaultDomains, defaultGlobalValues, type VirtualIdentity } from './lockdown-values.ts';

/**
 * How the virtual user answers "Trust this computer?": 'auto' taps Trust (after trustDelayMs, default
 * at once), 'prompt' leaves the dialog up until {@link VirtualLockdownDevice.tapTrust} or
 * {@link VirtualLockdownDevice.deny}, 'deny' taps "Don't Trust".
 */
export type TrustPolicy = 'auto' | 'prompt' | 'deny';

/** Services hook supplied by the emulator: undefined for unknown names (→ InvalidService). */
export type ServiceStarter = (
  name: string,
  opts: { escrowBag?: Buffer; hostId?: string },
) => Promise<{ port: number; enableServiceSSL: boolean } | undefined> | { port: number; enableServiceSSL: boolean } | undefined;

export interface VirtualLockdownDeviceOptions extends Partial<VirtualIdentity> {
  trust?: TrustPolicy;
  /** With trust 'auto': the virtual user taps Trust this many ms after the dialog appears (default 0: no dialog). */
  trustDelayMs?: number;
  /** Locked with a passcode: Pair answers PasswordProtected until {@link VirtualLockdownDevice.unlock}. */
  locked?: boolean;
  /** Device RSA private key (PEM or KeyObject); generated (RSA-2048) when absent. */
  privateKey?: string | Buffer | KeyObject;
  /** Extra/overriding values: key '' is the global domain, others are domain names. */
  values?: Record<string, PlistDict>;
  startService?: ServiceStarter;
  /** NSS key log file for the device's TLS sessions. */
  keylogFile?: string;
}

/** A host the device trusts, as registered by Pair. */
export interface TrustedHost {
  hostId: string;
  systemBuid: string;
  rootCertificate: Buffer;
  hostCertificate: Buffer;
  deviceCertificate: Buffer;
  escrowBag: Buffer;
}

/**
 * The trust dialog on screen. A real iPhone asks "Trust this computer?" about a host computer, not about one pairing
 * attempt: it is keyed by the host's SystemBUID (HostID only when a record has no SystemBUID), because clients such
 * as libimobiledevice 1.3.0's `idevicepair pair` make a new HostID on every run until they have saved a record, and
 * the retry after the user tapped Trust must find that answer. `hostId` is the HostID of the latest Pair it answered.
 */
interface TrustDialog {
  hostKey: string;
  hostId: string;
  decision?: 'trust' | 'deny';
  timer?: NodeJS.Timeout;
}

/** The identity a trust dialog is about: the host computer's SystemBUID, else the HostID. */
function hostKeyOf(host: { hostId: string; systemBuid: string }): string {
  return host.systemBuid !== '' ? `buid:${host.systemBuid}` : `host:${host.hostId}`;
}

/** Keys a real device refuses before a session even though it has no plain value for them (iOS 15 capture). */
const PROHIBITED_BEFORE_SESSION = new Set(['IDAMCapability']);

/** Keys a client may never change. */
const IMMUTABLE = new Set([
  'UniqueDeviceID', 'ProductVersion', 'ProductType', 'BuildVersion', 'HardwareModel', 'DevicePublicKey', 'WiFiAddress',
  'SerialNumber', 'UniqueChipID', 'ChipID', 'BoardId', 'ProductName', 'DeviceClass', 'CPUArchitecture',
]);

/**
 * The lockdownd state of a virtual iPhone: identity and values by domain, the trust dialog state
 * machine (one dialog per host computer, keyed by SystemBUID: the internal TrustDialog record), trusted hosts
 * (by HostID), and the services hook. Events: 'dialog'(hostId) when the trust dialog appears,
 * 'paired'(hostId), 'denied'(hostId), 'unpaired'(hostId), 'locked', 'unlocked'.
 */
export class VirtualLockdownDevice extends EventEmitter implements LockdownDevice {
  readonly udid: string;
  readonly keylogFile?: string;
  trust: TrustPolicy;
  trustDelayMs: number;
  startServiceHook: ServiceStarter | undefined;
  readonly #privateKeyPem: Buffer;
  readonly #publicKey: KeyObject;
  readonly #domains = new Map<string, PlistDict>();
  readonly #trusted = new Map<string, TrustedHost>();
  #locked: boolean;
  #dialog: TrustDialog | undefined;

  constructor(opts: VirtualLockdownDeviceOptions = {}) {
    super();
    const keyObj =
      opts.privateKey === undefined
        ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey
        : opts.privateKey;
    const pk = typeof keyObj === 'object' && 'asymmetricKeyType' in keyObj ? keyObj : undefined;
    this.#privateKeyPem = pk
      ? Buffer.from(pk.export({ type: 'pkcs8', format: 'pem' }) as string, 'latin1')
      : Buffer.isBuffer(keyObj) ? keyObj : Buffer.from(keyObj as string, 'latin1');
    this.#publicKey = createPublicKey(this.#privateKeyPem);
    const devicePublicKey = Buffer.from(this.#publicKey.export({ type: 'pkcs1', format: 'pem' }) as string, 'latin1');
    const global = defaultGlobalValues(opts, devicePublicKey);
    this.udid = global.UniqueDeviceID as string;
    this.#domains.set('', { ...global, ...(opts.values?.[''] ?? {}) });
    for (const [name, dict] of Object.entries(defaultDomains())) this.#domains.set(name, dict);
    for (const [name, dict] of Object.entries(opts.values ?? {})) {
      if (name !== '') this.#domains.set(name, { ...(this.#domains.get(name) ?? {}), ...dict });
    }
    this.trust = opts.trust ?? 'auto';
    this.trustDelayMs = opts.trustDelayMs ?? 0;
    this.#locked = opts.locked ?? false;
    this.startServiceHook = opts.startService;
    this.keylogFile = opts.keylogFile;
  }

  /** DevicePublicKey: PKCS#1 PEM ("BEGIN RSA PUBLIC KEY"), as real devices send it. */
  get devicePublicKey(): Buffer {
    return this.#domains.get('')!.DevicePublicKey as Buffer;
  }

  get locked(): boolean {
    return this.#locked;
  }

  /** HostIDs the device currently trusts. */
  trustedHostIds(): string[] {
    return [...this.#trusted.keys()];
  }

  /** The registered host, if trusted. */
  trustedHost(hostId: string): TrustedHost | undefined {
    return this.#trusted.get(hostId);
  }

  /** HostID of the latest Pair that raised or met the trust dialog on screen (undecided), if any. */
  get pendingDialog(): string | undefined {
    return this.#dialog && !this.#dialog.decision ? this.#dialog.hostId : undefined;
  }

  /** The virtual user taps "Trust" on the dialog on screen. Returns false when no dialog is up. */
  tapTrust(): boolean {
    return this.#decide('trust');
  }

  /** The virtual user taps "Don't Trust". Returns false when no dialog is up. */
  deny(): boolean {
    return this.#decide('deny');
  }

  lock(): void {
    this.#locked = true;
    this.emit('locked');
  }

  unlock(): void {
    this.#locked = false;
    this.emit('unlocked');
  }

  /** Forgets a host (Settings → Reset Location & Privacy): its sessions then fail with InvalidHostID. */
  forgetHost(hostId: string): boolean {
    return this.#trusted.delete(hostId);
  }

  /** Forgets every host. */
  forgetAllHosts(): void {
    this.#trusted.clear();
  }

  /** Reads a value directly (no access rules). Domain '' or undefined = global. */
  value(key: string, domain?: string): PlistValue | undefined {
    return this.#domains.get(domain ?? '')?.[key];
  }

  // ---- LockdownDevice ----

  getValue(domain: string | undefined, key: string | undefined, ctx: LockdownContext): PlistValue {
    const dict = this.#domains.get(domain ?? '');
    if (!ctx.sessionActive) {
      if (domain !== undefined && domain !== '') throw new LockdownError('GetProhibited', 'GetValue');
      if (key === undefined) {
        const out: PlistDict = {};
        for (const k of PRE_SESSION_KEYS) if (dict && dict[k] !== undefined) out[k] = dict[k]!;
        return out;
      }
      if (!PRE_SESSION_KEYS.includes(key)) {
        const known = (dict && key in dict) || ((domain === undefined || domain === '') && PROHIBITED_BEFORE_SESSION.has(key));
        throw new LockdownError(known ? 'GetProhibited' : 'MissingValue', 'GetValue');
      }
    }
    if (key === undefined) {
      if (!dict) throw new LockdownError('MissingValue', 'GetValue');
      return this.#live({ ...dict }, domain);
    }
    if (domain === undefined && key === 'TimeIntervalSince1970') return new PlistReal(Date.now() / 1000);
    if (domain === undefined && key === 'PasswordProtected') return this.#locked;
    const v = dict?.[key];
    if (v === undefined) throw new LockdownError('MissingValue', 'GetValue');
    return v;
  }

  setValue(domain: string | undefined, key: string, value: PlistValue, ctx: LockdownContext): void {
    if (!ctx.sessionActive && key !== 'UntrustedHostBUID') throw new LockdownError('SetProhibited', 'SetValue');
    if ((domain === undefined || domain === '') && IMMUTABLE.has(key)) throw new LockdownError('SetProhibited', 'SetValue');
    const name = domain ?? '';
    const dict = this.#domains.get(name) ?? {};
    dict[key] = value;
    this.#domains.set(name, dict);
  }

  removeValue(domain: string | undefined, key: string, ctx: LockdownContext): void {
    if (!ctx.sessionActive) throw new LockdownError('RemoveProhibited', 'RemoveValue');
    if ((domain === undefined || domain === '') && IMMUTABLE.has(key)) throw new LockdownError('RemoveProhibited', 'RemoveValue');
    const dict = this.#domains.get(domain ?? '');
    if (!dict || !(key in dict)) throw new LockdownError('MissingValue', 'RemoveValue');
    delete dict[key];
  }

  async pair(record: PlistDict, _options: PlistDict | undefined, _ctx: LockdownContext): Promise<PlistDict> {
    const host = this.#parseRecord(record, 'Pair');
    if (this.#locked) throw new LockdownError('PasswordProtected', 'Pair');
    const known = this.#trusted.get(host.hostId);
    if (!known) {
      const decision = this.#dialogFor(host);
      if (decision === 'deny') throw new LockdownError('UserDeniedPairing', 'Pair');
      if (decision !== 'trust') throw new LockdownError('PairingDialogResponsePending', 'Pair');
    }
    const entry: TrustedHost = { ...host, escrowBag: known?.escrowBag ?? randomBytes(32) };
    this.#trusted.set(host.hostId, entry);
    this.emit('paired', host.hostId);
    return { EscrowBag: entry.escrowBag };
  }

  async validatePair(record: PlistDict, _ctx: LockdownContext): Promise<void> {
    const hostId = typeof record.HostID === 'string' ? record.HostID : undefined;
    if (!hostId) throw new LockdownError('MissingHostID', 'ValidatePair');
    if (!this.#trusted.has(hostId)) throw new LockdownError('InvalidHostID', 'ValidatePair');
  }

  async unpair(record: PlistDict, _ctx: LockdownContext): Promise<void> {
    const hostId = typeof record.HostID === 'string' ? record.HostID : undefined;
    if (!hostId) throw new LockdownError('MissingHostID', 'Unpair');
    if (!this.#trusted.delete(hostId)) throw new LockdownError('InvalidHostID', 'Unpair');
    this.emit('unpaired', hostId);
  }

  async startSession(hostId: string, _systemBuid: string | undefined, _ctx: LockdownContext): Promise<SessionIdentity> {
    const host = this.#trusted.get(hostId);
    if (!host) throw new LockdownError('InvalidHostID', 'StartSession');
    return {
      certificate: host.deviceCertificate,
      privateKey: this.#privateKeyPem,
      trustedCertificates: [host.rootCertificate, host.hostCertificate],
    };
  }

  async startService(name: string, ctx: LockdownContext, opts: { escrowBag?: Buffer }): Promise<{ port: number; enableServiceSSL: boolean }> {
    const r = await this.startServiceHook?.(name, { escrowBag: opts.escrowBag, hostId: ctx.hostId });
    if (!r) throw new LockdownError('InvalidService', 'StartService');
    return r;
  }

  #live(dict: PlistDict, domain: string | undefined): PlistDict {
    if (domain === undefined || domain === '') {
      dict.TimeIntervalSince1970 = new PlistReal(Date.now() / 1000); // always <real>, as devices send it
      dict.PasswordProtected = this.#locked;
    }
    return dict;
  }

  /**
   * Shows (or reads) the trust dialog for the host computer of this Pair; returns the user's decision so far.
   * A decision answers one Pair from that computer (whatever its HostID), then the dialog is gone.
   */
  #dialogFor(host: { hostId: string; systemBuid: string }): 'trust' | 'deny' | undefined {
    if (this.trust === 'deny') return 'deny';
    if (this.trust === 'auto' && this.trustDelayMs <= 0) return 'trust';
    const hostKey = hostKeyOf(host);
    const d = this.#dialog;
    if (d && d.hostKey === hostKey) {
      d.hostId = host.hostId;
      if (d.decision) {
        this.#dialog = undefined;
        return d.decision;
      }
      return undefined;
    }
    if (d?.timer) clearTimeout(d.timer);
    const next: TrustDialog = { hostKey, hostId: host.hostId };
    this.#dialog = next;
    if (this.trust === 'auto') {
      next.timer = setTimeout(() => this.#decide('trust'), this.trustDelayMs);
      next.timer.unref();
    }
    this.emit('dialog', host.hostId);
    return undefined;
  }

  #decide(decision: 'trust' | 'deny'): boolean {
    const d = this.#dialog;
    if (!d || d.decision) return false;
    if (d.timer) clearTimeout(d.timer);
    d.timer = undefined;
    d.decision = decision;
    if (decision === 'deny') this.emit('denied', d.hostId);
    return true;
  }

  #parseRecord(record: PlistDict, request: string): Omit<TrustedHost, 'escrowBag'> {
    const bad = (): LockdownError => new LockdownError('InvalidPairRecord', request);
    const hostId = record.HostID;
    const buid = record.SystemBUID;
    if (typeof hostId !== 'string' || hostId === '') throw new LockdownError('MissingHostID', request);
    if (typeof buid !== 'string') throw bad();
    const pem = (k: string): Buffer => {
      const v = record[k];
      if (Buffer.isBuffer(v)) return v;
      if (typeof v === 'string') return Buffer.from(v, 'latin1');
      throw bad();
    };
    const rootPem = pem('RootCertificate');
    const hostPem = pem('HostCertificate');
    const devicePem = pem('DeviceCertificate');
    let root: X509Certificate, host: X509Certificate, dev: X509Certificate;
    try {
      root = new X509Certificate(rootPem);
      host = new X509Certificate(hostPem);
      dev = new X509Certificate(devicePem);
    } catch {
      throw bad();
    }
    // The DeviceCertificate must carry our key and, like the host certificate, be signed by the root
    // (any digest: libimobiledevice 1.3.0 signs with SHA-1).
    const ours = this.#publicKey.export({ type: 'spki', format: 'der' });
    if (!dev.publicKey.export({ type: 'spki', format: 'der' }).equals(ours)) throw bad();
    if (!dev.verify(root.publicKey) || !host.verify(root.publicKey)) throw bad();
    return { hostId, systemBuid: buid, rootCertificate: rootPem, hostCertificate: hostPem, deviceCertificate: devicePem };
  }
}
