/**
 * The pair-record store contract: where this host keeps the record for a device. Implementations: the
 * per-user directory (./user-store.ts) and usbmuxd's own store (src/providers/usbmuxd-records.ts), which
 * must be used whenever a daemon runs (other tools share its records; protocol.md §4).
 */
import type { CallOpts } from '../core/abort.ts';
import type { PairRecord } from './pair-record.ts';

/** A pair-record store. Every method accepts CallOpts last. */
export interface PairRecordStore {
  /** 'usbmuxd' (through the daemon) or 'user' (per-user directory). */
  readonly kind: 'usbmuxd' | 'user';
  /** The record for `udid`, or undefined when there is none. @throws ERR_PAIRING_INVALID_RECORD for a stored record we cannot use */
  read(udid: string, o?: CallOpts): Promise<PairRecord | undefined>;
  /** Stores (replaces) the record for `udid`. */
  save(udid: string, record: PairRecord, deviceId?: number, o?: CallOpts): Promise<void>;
  /** Deletes the record for `udid`; no error when there is none. */
  delete(udid: string, o?: CallOpts): Promise<void>;
  /** The SystemBUID to pair with. */
  systemBuid(o?: CallOpts): Promise<string>;
}
