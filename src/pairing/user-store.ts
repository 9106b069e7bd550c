/**
 * The per-user pair-record store, used when no usbmuxd answers (own USB transport). Same layout and format
 * as usbmuxd's /var/lib/lockdown:
 *
 *   <dir>/                              mode 0700   default $XDG_CONFIG_HOME/iosdevice/lockdown or ~/.config/iosdevice/lockdown
 *   <dir>/<UDID>.plist                  mode 0600   XML pair record, written atomically
 *   <dir>/SystemConfiguration.plist     mode 0600   { SystemBUID: <uppercase UUID> }, created once, never rewritten
 */
import { randomUUID } from 'node:crypto';
import { open, readdir, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CallOpts } from '../core/abort.ts';
import { throwIfAborted } from '../core/abort.ts';
import { IDeviceError, InvalidArgumentError } from '../core/errors.ts';
import { encodeXmlPlist, parsePlist } from '../plist/index.ts';
import { isPlistDict } from '../plist/types.ts';
import { createFileExclusive, ensurePrivateDir, writeFileAtomic } from '../core/atomic-file.ts';
import { PairingError } from './errors.ts';
import { encodePairRecord, PAIR_RECORD_LIMITS, parsePairRecord, type PairRecord } from './pair-record.ts';
import type { PairRecordStore } from './record-store.ts';

/** The default per-user directory: `$XDG_CONFIG_HOME/iosdevice/lockdown`, else `~/.config/iosdevice/lockdown`. */
export function defaultUserStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'iosdevice', 'lockdown');
}

/** UDIDs are 40 hex digits (older devices) or 8-16 hex with a dash; accept letters, digits and dashes only. */
const UDID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
const SYSTEM_CONFIGURATION = 'SystemConfiguration.plist';
const UUID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

function storeError(what: string, e: unknown): IDeviceError {
  if (e instanceof IDeviceError) return e;
  return new PairingError('ERR_PAIRING_STORE', `pair-record store: ${what} failed: ${(e as Error).message}`, { cause: e });
}

/** Reads a whole file up to `cap` bytes; undefined when it does not exist. */
async function readCapped(path: string, cap: number): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size > cap) throw new PairingError('ERR_PAIRING_INVALID_RECORD', `${path}: ${size} bytes exceeds the cap of ${cap}`);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** Pair records in a private directory of the current user. */
export class UserRecordStore implements PairRecordStore {
  readonly kind = 'user' as const;
  readonly dir: string;

  constructor(dir: string = defaultUserStoreDir()) {
    this.dir = dir;
  }

  #path(udid: string): string {
    if (!UDID_RE.test(udid)) throw new InvalidArgumentError(`not a device UDID: ${JSON.stringify(udid)}`);
    return join(this.dir, `${udid}.plist`);
  }

  /**
   * The stored record, or undefined when there is none.
   * @throws ERR_INVALID_ARG (bad UDID), ERR_PAIRING_INVALID_RECORD (file unreadable as a record), ERR_PAIRING_STORE
   */
  async read(udid: string, o?: CallOpts): Promise<PairRecord | undefined> {
    const path = this.#path(udid);
    throwIfAborted('pair record read', o?.signal);
    let buf: Buffer | undefined;
    try {
      buf = await readCapped(path, PAIR_RECORD_LIMITS.maxBytes);
    } catch (e) {
      throw storeError('read', e);
    }
    return buf === undefined ? undefined : parsePairRecord(buf);
  }

  /**
   * Saves atomically as XML (0600, directory 0700). The record is validated first, so nothing invalid or
   * half-written ever lands. `deviceId` is accepted for interface compatibility and ignored.
   * @throws ERR_INVALID_ARG, ERR_PAIRING_INVALID_RECORD, ERR_PAIRING_STORE
   */
  async save(udid: string, record: PairRecord, _deviceId?: number, o?: CallOpts): Promise<void> {
    const path = this.#path(udid);
    const data = encodePairRecord(record, 'xml');
    throwIfAborted('pair record save', o?.signal);
    try {
      await ensurePrivateDir(this.dir);
      await writeFileAtomic(path, data, 0o600);
    } catch (e) {
      throw storeError('save', e);
    }
  }

  /** Deletes the record; no error when there is none. @throws ERR_INVALID_ARG, ERR_PAIRING_STORE */
  async delete(udid: string, o?: CallOpts): Promise<void> {
    const path = this.#path(udid);
    throwIfAborted('pair record delete', o?.signal);
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError('delete', e);
    }
  }

  /** UDIDs with a stored record. @throws ERR_PAIRING_STORE */
  async list(): Promise<string[]> {
    try {
      const names = await readdir(this.dir);
      return names
        .filter((n) => n.endsWith('.plist') && n !== SYSTEM_CONFIGURATION)
        .map((n) => n.slice(0, -'.plist'.length))
        .filter((u) => UDID_RE.test(u))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storeError('list', e);
    }
  }

  /**
   * This host's SystemBUID: read from SystemConfiguration.plist, created on first use (uppercase UUID).
   * Concurrent first calls agree: creation is exclusive and the loser reads the winner's value.
   * A corrupt file is reported, never overwritten (existing pairings name that BUID).
   * @throws ERR_PAIRING_STORE
   */
  async systemBuid(o?: CallOpts): Promise<string> {
    throwIfAborted('SystemBUID', o?.signal);
    const path = join(this.dir, SYSTEM_CONFIGURATION);
    try {
      const existing = await this.#readBuid(path);
      if (existing) return existing;
      await ensurePrivateDir(this.dir);
      const buid = randomUUID().toUpperCase();
      if (await createFileExclusive(path, encodeXmlPlist({ SystemBUID: buid }), 0o600)) return buid;
      const winner = await this.#readBuid(path);
      if (!winner) throw new PairingError('ERR_PAIRING_STORE', `${path} vanished while being created`);
      return winner;
    } catch (e) {
      throw storeError('SystemBUID', e);
    }
  }

  async #readBuid(path: string): Promise<string | undefined> {
    const buf = await readCapped(path, 64 * 1024);
    if (buf === undefined) return undefined;
    let v;
    try {
      v = parsePlist(buf, { maxBytes: 64 * 1024, maxObjects: 256, maxDepth: 8 });
    } catch (e) {
      throw new PairingError('ERR_PAIRING_STORE', `${path} is not a plist: fix or delete it`, { cause: e });
    }
    const buid = isPlistDict(v) ? v.SystemBUID : undefined;
    if (typeof buid !== 'string' || !UUID_RE.test(buid.toUpperCase())) {
      throw new PairingError('ERR_PAIRING_STORE', `${path} has no valid SystemBUID: fix or delete it`);
    }
    return buid;
  }
}
