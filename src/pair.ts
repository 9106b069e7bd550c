/**
 * {@link pair}: "Trust this computer" in one call, on any {@link DeviceProvider}: shows the dialog, reports what
 * the person has to do (TrustEvent: waiting-for-trust, device-locked, denied, paired…), saves the pair record where
 * the provider keeps it, and proves the record with a TLS session.
 */
import type { CallOpts } from './core/abort.ts';
import { LockdownClient } from './lockdown/client.ts';
import { LOCKDOWN_PORT } from './lockdown/protocol.ts';
import type { PairRecord } from './pairing/pair-record.ts';
import { pairAndSave, type TrustEvent } from './pairing/trust.ts';
import type { DeviceProvider } from './provider.ts';

/** Options of {@link pair}. */
export interface PairOptions extends CallOpts {
  /** What to show while waiting (called on each change of state, never on every retry). */
  onTrustEvent?: (e: TrustEvent) => void;
  /** Bound on the trust flow including the person's answer, ms (default 120000); `timeoutMs` bounds each other step. */
  pairTimeoutMs?: number;
}

/**
 * Pairs with the device (a new pair record, even when one exists), saves it, and checks it with a TLS session.
 * A failed, denied or aborted pairing saves nothing.
 * @throws PairingError ERR_PAIRING_DENIED ("Don't Trust"), ERR_TIMEOUT (no answer in time), ERR_ABORTED (the signal),
 *   ERR_PAIRING_NOT_LOCKDOWN, lockdown codes (ERR_LOCKDOWN_PAIRING_PROHIBITED_OVER_THIS_CONNECTION, …), the
 *   provider's connection codes (ERR_USBMUX_*, ERR_USB_*), ERR_PAIRING_STORE (the record could not be saved)
 */
export async function pair(dev: DeviceProvider, opts: PairOptions = {}): Promise<PairRecord> {
  const step = { signal: opts.signal, timeoutMs: opts.timeoutMs };
  const lockdown = new LockdownClient(await dev.connect(LOCKDOWN_PORT, step), { env: dev.env });
  try {
    const record = await pairAndSave(lockdown, dev.pairRecords, dev.udid, {
      deviceId: dev.deviceId,
      onEvent: opts.onTrustEvent,
      signal: opts.signal,
      timeoutMs: opts.pairTimeoutMs ?? 120_000,
    });
    await lockdown.startSession(record, step);
    await lockdown.stopSession(step);
    return record;
  } finally {
    lockdown.close();
  }
}
