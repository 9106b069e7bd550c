/**
 * The client side of "Trust this computer" (protocol.md §4 steps 1–7), plus ValidatePair (iOS < 7) and Unpair.
 *
 *   QueryType → GetValue DevicePublicKey → certificates → GetValue WiFiAddress (before Pair: iOS 7 forces a
 *   reconnect otherwise) → Pair {ProtocolVersion "2", PairingOptions {ExtendedPairingErrors}, PairRecord
 *   without private keys}, re-sent ~every second while the dialog is pending or the device is locked.
 *
 * The caller saves the returned record (nothing is stored here, so a failed pair leaves no record).
 * Lockdown errors are matched on their raw `error` string (LockdownError.error), not on classes.
 */
import { generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { onAbort, throwIfAborted, withCallOpts, type CallOpts } from '../core/abort.ts';
import { AbortError, IDeviceError, InvalidArgumentError, TimeoutError } from '../core/errors.ts';
import type { PlistDict, PlistValue } from '../plist/types.ts';
import { generatePairingCertificates, type PairingCertificateOptions } from './certificates.ts';
import { PairingError } from './errors.ts';
import { withoutPrivateKeys, type PairRecord } from './pair-record.ts';
import { loadPublicKey } from './pem.ts';

/** What a UI can show while pairing. Emitted when the state changes (not on every retry). */
export type TrustEvent =
  | { type: 'waiting-for-trust'; attempt: number } // the "Trust this computer?" dialog is on screen
  | { type: 'device-locked'; attempt: number } // unlock the device (passcode) so the dialog can appear
  | { type: 'denied' } // "Don't Trust" was tapped
  | { type: 'timeout' }
  | { type: 'aborted' }
  | { type: 'paired'; hostId: string };

/** The LockdownClient methods the trust flow uses (src/lockdown/client.ts satisfies it). */
export interface PairingLockdown {
  queryType(o?: CallOpts): Promise<string>;
  getValue(key?: string, domain?: string, o?: CallOpts): Promise<PlistValue>;
  request(req: PlistDict, o?: CallOpts): Promise<PlistDict>;
}

/** Options of {@link pairDevice}. `timeoutMs` bounds the whole flow, including the wait for the user. */
export interface PairDeviceOptions extends CallOpts {
  /** usbmuxd's ReadBUID, or the per-user store's SystemBUID. */
  systemBuid: string;
  onEvent?(e: TrustEvent): void;
  /** HostID for the new record (default: a fresh uppercase UUID). */
  hostId?: string;
  /** Pause between Pair attempts while the dialog is pending or the device is locked, ms (default 1000). */
  retryIntervalMs?: number;
  /** Injected keys, clock, digest… for the certificates (keys are generated off the main thread otherwise). */
  certificates?: PairingCertificateOptions;
}

/** The lockdown type of a normal (not restore-mode) device. */
export const LOCKDOWN_TYPE = 'com.apple.mobile.lockdown';

const generateKeyPairAsync = promisify(generateKeyPair);

async function rsaKey(): Promise<KeyObject> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  return privateKey;
}

/** The raw lockdown `Error` string of a device error, if it is one. */
function deviceErrorString(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { error?: unknown }).error === 'string') return (e as { error: string }).error;
  return undefined;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
    const unsubscribe = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/**
 * Runs `fn` with a signal that fires on the caller's abort or the overall timeout; maps the outcome to
 * AbortError / TimeoutError whatever the lockdown client rejected with, and emits 'aborted' / 'timeout'.
 */
async function bounded<T>(what: string, o: CallOpts, emit: (e: TrustEvent) => void, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = o.timeoutMs !== undefined ? setTimeout(() => ac.abort(new TimeoutError(what, o.timeoutMs!)), o.timeoutMs) : undefined;
  const unsubscribe = o.signal ? onAbort(o.signal, () => ac.abort(new AbortError(what, o.signal?.reason))) : undefined;
  try {
    return await fn(ac.signal);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    const reason = ac.signal.reason as IDeviceError;
    emit({ type: reason instanceof TimeoutError ? 'timeout' : 'aborted' });
    throw reason;
  } finally {
    if (timer) clearTimeout(timer);
    unsubscribe?.();
  }
}

/**
 * Pairs with the device on `lockdown` (a plaintext lockdown connection) and returns the full record
 * (certificates, both private keys, HostID, SystemBUID, EscrowBag, WiFiMACAddress). Does not save it.
 *
 * @throws ERR_INVALID_ARG (no systemBuid), ERR_PAIRING_DENIED (user tapped "Don't Trust"; `cause` = the lockdown error), ERR_TIMEOUT (whole flow,
 *   `timeoutMs`), ERR_ABORTED, ERR_PAIRING_NOT_LOCKDOWN, ERR_PAIRING_BAD_DEVICE_KEY, and any other lockdown error
 *   unchanged (e.g. ERR_LOCKDOWN_PAIRING_PROHIBITED_OVER_THIS_CONNECTION, ERR_LOCKDOWN_MC_CHALLENGE_REQUIRED, ERR_CLOSED)
 */
export async function pairDevice(lockdown: PairingLockdown, opts: PairDeviceOptions): Promise<PairRecord> {
  const emit = (e: TrustEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      /* a UI callback must not break pairing */
    }
  };
  if (!opts.systemBuid) throw new InvalidArgumentError('pairDevice needs a SystemBUID');
  const retryMs = opts.retryIntervalMs ?? 1000;

  return bounded('pairing', opts, emit, async (signal) => {
    // Checks the signal before each step, so nothing is sent once cancelled.
    const call = <T>(what: string, start: () => Promise<T>): Promise<T> => {
      throwIfAborted(what, signal);
      return withCallOpts(what, start(), { signal });
    };
    const o: CallOpts = { signal };

    // 1. QueryType, DevicePublicKey
    const type = await call('QueryType', () => lockdown.queryType(o));
    if (type !== LOCKDOWN_TYPE) throw new PairingError('ERR_PAIRING_NOT_LOCKDOWN', `lockdown type is ${JSON.stringify(type)}, not ${LOCKDOWN_TYPE}`);
    const dpk = await call('GetValue DevicePublicKey', () => lockdown.getValue('DevicePublicKey', undefined, o));
    if (!Buffer.isBuffer(dpk) && typeof dpk !== 'string') throw new PairingError('ERR_PAIRING_BAD_DEVICE_KEY', 'DevicePublicKey is not data');
    try {
      loadPublicKey(dpk);
    } catch (e) {
      throw new PairingError('ERR_PAIRING_BAD_DEVICE_KEY', 'DevicePublicKey is not an RSA public key PEM', { cause: e });
    }

    // 2–3. HostID and certificates (keys generated off the event loop unless injected)
    const certOpts: PairingCertificateOptions = { ...opts.certificates };
    if (!certOpts.rootKey || !certOpts.hostKey) {
      const [r, h] = await call('key generation', () => Promise.all([certOpts.rootKey ?? rsaKey(), certOpts.hostKey ?? rsaKey()]));
      certOpts.rootKey = r;
      certOpts.hostKey = h;
    }
    const certs = generatePairingCertificates(dpk, certOpts);
    const record: PairRecord = { ...certs, HostID: opts.hostId ?? randomUUID().toUpperCase(), SystemBUID: opts.systemBuid };

    // 4. WiFiAddress before Pair; a device that refuses it (error string) is not fatal
    try {
      const wifi = await call('GetValue WiFiAddress', () => lockdown.getValue('WiFiAddress', undefined, o));
      if (typeof wifi === 'string' && wifi) record.WiFiMACAddress = wifi;
    } catch (e) {
      if (deviceErrorString(e) === undefined) throw e;
    }

    // 5–6. Pair until accepted
    const request: PlistDict = {
      Request: 'Pair',
      ProtocolVersion: '2',
      PairingOptions: { ExtendedPairingErrors: true },
      PairRecord: withoutPrivateKeys(record),
    };
    let state: 'waiting-for-trust' | 'device-locked' | undefined;
    for (let attempt = 1; ; attempt++) {
      let reply: PlistDict;
      try {
        reply = await call('Pair', () => lockdown.request(request, o));
      } catch (e) {
        const err = deviceErrorString(e);
        if (err === 'UserDeniedPairing') {
          emit({ type: 'denied' });
          throw new PairingError('ERR_PAIRING_DENIED', 'the user did not trust this computer', { cause: e });
        }
        const next = err === 'PairingDialogResponsePending' ? 'waiting-for-trust' : err === 'PasswordProtected' ? 'device-locked' : undefined;
        if (!next) throw e;
        if (next !== state) emit({ type: next, attempt });
        state = next;
        await delay(retryMs, signal);
        continue;
      }
      // 7. what the caller stores
      if (Buffer.isBuffer(reply.EscrowBag)) record.EscrowBag = reply.EscrowBag;
      emit({ type: 'paired', hostId: record.HostID });
      return record;
    }
  });
}

/**
 * ValidatePair (only for iOS < 7; newer devices go straight to StartSession).
 * @throws the lockdown error (e.g. ERR_LOCKDOWN_INVALID_HOST_ID: re-pair), ERR_TIMEOUT, ERR_ABORTED
 */
export async function validatePair(lockdown: PairingLockdown, record: PairRecord, o?: CallOpts): Promise<void> {
  await lockdown.request({ Request: 'ValidatePair', ProtocolVersion: '2', PairRecord: withoutPrivateKeys(record) }, o);
}

/**
 * Unpair: the device forgets this host. The caller then deletes the stored record
 * (libimobiledevice order: Unpair, then DeletePairRecord).
 * @throws the lockdown error, ERR_TIMEOUT, ERR_ABORTED
 */
export async function unpairDevice(lockdown: PairingLockdown, record: PairRecord, o?: CallOpts): Promise<void> {
  await lockdown.request({ Request: 'Unpair', ProtocolVersion: '2', PairRecord: withoutPrivateKeys(record) }, o);
}

/** Minimal store shape for {@link pairAndSave} (see ./store.ts PairRecordStore). */
export interface SavingStore {
  save(udid: string, record: PairRecord, deviceId?: number, o?: CallOpts): Promise<void>;
  systemBuid(o?: CallOpts): Promise<string>;
}

/**
 * SystemBUID from the store → {@link pairDevice} → save. A failed or cancelled pairing saves nothing.
 * @throws as pairDevice, plus the store's errors
 */
export async function pairAndSave(
  lockdown: PairingLockdown,
  store: SavingStore,
  udid: string,
  opts: Omit<PairDeviceOptions, 'systemBuid'> & { deviceId?: number },
): Promise<PairRecord> {
  const systemBuid = await store.systemBuid({ signal: opts.signal, timeoutMs: opts.timeoutMs });
  const record = await pairDevice(lockdown, { ...opts, systemBuid });
  await store.save(udid, record, opts.deviceId, { signal: opts.signal });
  return record;
}
