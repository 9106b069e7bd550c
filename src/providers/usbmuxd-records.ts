/**
 * Pair records kept by usbmuxd (ReadPairRecord / SavePairRecord / DeletePairRecord / ReadBUID), never
 * behind the daemon's back (protocol.md §4: other tools share them), and {@link chooseStore}, which falls
 * back to the per-user store when no daemon answers (own USB transport).
 */
import type { CallOpts } from '../core/abort.ts';
import { IDeviceError } from '../core/errors.ts';
import { encodePairRecord, parsePairRecord, type PairRecord } from '../pairing/pair-record.ts';
import type { PairRecordStore } from '../pairing/record-store.ts';
import { defaultUserStoreDir, UserRecordStore } from '../pairing/user-store.ts';
import { UsbmuxClient, type UsbmuxOpenOptions } from '../usbmux/client.ts';

/** The part of {@link UsbmuxClient} the store uses (lets tests and other transports plug in). */
export interface UsbmuxRecordClient {
  readBuid(o?: CallOpts): Promise<string>;
  readPairRecord(udid: string, o?: CallOpts): Promise<Buffer | undefined>;
  savePairRecord(udid: string, data: Buffer, deviceId?: number, o?: CallOpts): Promise<void>;
  deletePairRecord(udid: string, o?: CallOpts): Promise<void>;
  close(): void;
}

/** Options of {@link UsbmuxdRecordStore}. */
export interface UsbmuxdStoreOptions {
  /** usbmuxd address (`UNIX:/path`, `host:port`); default USBMUXD_SOCKET_ADDRESS, else the platform default. */
  address?: string;
  env?: NodeJS.ProcessEnv;
  /** Opens a client (default: UsbmuxClient.open). */
  open?: (o: UsbmuxOpenOptions) => Promise<UsbmuxRecordClient>;
}

/**
 * Pair records kept by usbmuxd. Each call opens a fresh usbmuxd connection and closes it (usbmuxd serves
 * record requests on any connection; a connection that did Connect/Listen cannot be reused).
 * Records are sent as binary plists, as libimobiledevice does (usbmuxd answers XML either way).
 *
 * Thrown codes: ERR_USBMUX_UNREACHABLE, ERR_TIMEOUT, ERR_ABORTED, ERR_CLOSED, UsbmuxError codes,
 * ERR_PAIRING_INVALID_RECORD (read of a record we cannot parse).
 */
export class UsbmuxdRecordStore implements PairRecordStore {
  readonly kind = 'usbmuxd' as const;
  readonly #opts: UsbmuxdStoreOptions;

  constructor(opts: UsbmuxdStoreOptions = {}) {
    this.#opts = opts;
  }

  async #with<T>(o: CallOpts | undefined, fn: (c: UsbmuxRecordClient) => Promise<T>): Promise<T> {
    const openOpts: UsbmuxOpenOptions = { address: this.#opts.address, env: this.#opts.env, signal: o?.signal, timeoutMs: o?.timeoutMs };
    const client = await (this.#opts.open ?? ((x: UsbmuxOpenOptions) => UsbmuxClient.open(x)))(openOpts);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  async read(udid: string, o?: CallOpts): Promise<PairRecord | undefined> {
    const data = await this.#with(o, (c) => c.readPairRecord(udid, o));
    return data === undefined ? undefined : parsePairRecord(data);
  }

  async save(udid: string, record: PairRecord, deviceId?: number, o?: CallOpts): Promise<void> {
    const data = encodePairRecord(record, 'binary'); // validates first: an invalid record is never sent
    await this.#with(o, (c) => c.savePairRecord(udid, data, deviceId, o));
  }

  async delete(udid: string, o?: CallOpts): Promise<void> {
    await this.#with(o, async (c) => {
      try {
        await c.deletePairRecord(udid, o);
      } catch (e) {
        // Result 2 (BadDevice): there was no record. Anything else is a real failure.
        if (!(e instanceof IDeviceError && e.code === 'ERR_USBMUX_BADDEV')) throw e;
      }
    });
  }

  async systemBuid(o?: CallOpts): Promise<string> {
    return this.#with(o, (c) => c.readBuid(o));
  }
}

/** Options of {@link chooseStore}. */
export interface ChooseStoreOptions extends UsbmuxdStoreOptions {
  /** Per-user store directory (default {@link defaultUserStoreDir}). */
  dir?: string;
  /** How long to wait for usbmuxd to answer ReadBUID, ms (default 1000). */
  probeTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The usbmuxd store when a daemon answers ReadBUID, else the per-user store.
 * @throws ERR_ABORTED when the signal fires; never fails because usbmuxd is absent
 */
export async function chooseStore(opts: ChooseStoreOptions = {}): Promise<PairRecordStore> {
  const usbmuxd = new UsbmuxdRecordStore(opts);
  try {
    await usbmuxd.systemBuid({ signal: opts.signal, timeoutMs: opts.probeTimeoutMs ?? 1000 });
    return usbmuxd;
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    return new UserRecordStore(opts.dir ?? defaultUserStoreDir(opts.env));
  }
}

