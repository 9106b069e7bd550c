/**
 * Remembers the virtual user's "Trust" per host system (SystemBUID), on top of {@link VirtualLockdownDevice}, whose
 * trust dialog is keyed by HostID.
 *
 * Why: libimobiledevice 1.3.0's `idevicepair pair` creates a NEW HostID on every run until a record is saved, so the
 * documented flow "pair → PairingDialogResponsePending → user taps Trust → pair again" sends the second Pair with
 * another HostID (observed against this emulator). A real iPhone accepts that second Pair; a dialog keyed only by
 * HostID would show a fresh dialog forever. The SystemBUID (from usbmuxd ReadBUID) is the same for both runs, so
 * once the user trusted a dialog raised by a Pair from that SystemBUID, a later Pair from the same SystemBUID is
 * accepted (the delegate's new dialog is answered at once).
 *
 * This is a shim inside the emulator's own area; it becomes a no-op once the lockdown device keys its dialog by
 * SystemBUID itself.
 */
import type { LockdownContext, LockdownDevice, SessionIdentity } from '../lockdown/server.ts';
import { LockdownError } from '../lockdown/errors.ts';
import type { PlistDict, PlistValue } from '../plist/types.ts';
import type { VirtualLockdownDevice } from './lockdown-device.ts';

/** Wraps `device` for serveLockdown (all other requests are passed through unchanged). */
export function withHostTrustMemory(device: VirtualLockdownDevice): LockdownDevice {
  const trustedBuids = new Set<string>();
  let asked: { hostId: string; buid: string } | undefined;
  let deniedHost: string | undefined;
  device.on('denied', (hostId: string) => (deniedHost = hostId));
  device.on('unpaired', () => trustedBuids.clear());

  /** Was the dialog we saw pending answered with Trust since? */
  const settle = (): void => {
    if (!asked || device.pendingDialog === asked.hostId) return;
    if (deniedHost !== asked.hostId) trustedBuids.add(asked.buid);
    asked = undefined;
  };

  const w: LockdownDevice = {
    getValue: (domain: string | undefined, key: string | undefined, ctx: LockdownContext): PlistValue | Promise<PlistValue> =>
      device.getValue(domain, key, ctx),
    setValue: (domain: string | undefined, key: string, value: PlistValue, ctx: LockdownContext) => device.setValue(domain, key, value, ctx),
    removeValue: (domain: string | undefined, key: string, ctx: LockdownContext) => device.removeValue(domain, key, ctx),
    async pair(record: PlistDict, options: PlistDict | undefined, ctx: LockdownContext): Promise<PlistDict> {
      settle();
      const buid = typeof record.SystemBUID === 'string' ? record.SystemBUID : undefined;
      const hostId = typeof record.HostID === 'string' ? record.HostID : undefined;
      try {
        return await device.pair(record, options, ctx);
      } catch (e) {
        if (!(e instanceof LockdownError) || e.error !== 'PairingDialogResponsePending' || !buid || !hostId) throw e;
        if (trustedBuids.has(buid) && device.pendingDialog === hostId && device.tapTrust()) {
          return device.pair(record, options, ctx);
        }
        asked = { hostId, buid };
        throw e;
      }
    },
    validatePair: (record: PlistDict, ctx: LockdownContext) => device.validatePair(record, ctx),
    unpair: (record: PlistDict, ctx: LockdownContext) => device.unpair(record, ctx),
    startSession: (hostId: string, systemBuid: string | undefined, ctx: LockdownContext): Promise<SessionIdentity> =>
      device.startSession(hostId, systemBuid, ctx),
    startService: (name: string, ctx: LockdownContext, opts: { escrowBag?: Buffer }) => device.startService(name, ctx, opts),
  };
  Object.defineProperty(w, 'keylogFile', { get: () => device.keylogFile, enumerable: true });
  return w;
}
