/**
 * Pair-record storage in usbmuxd's layout: `<dir>/<UDID>.plist` (always written as XML, whatever
 * format was saved) and `<dir>/SystemConfiguration.plist` holding `SystemBUID` (upper-case UUID,
 * created once). Directory 0700, files 0600 (records hold private keys), written atomically.
 *
 * Errors: save() rejects with UsbmuxError result 22 (ERR_USBMUX_EINVAL) for data that is not a plist
 * dictionary or an unusable record ID, as usbmuxd 1.1.1 answers; other I/O errors are passed through.
 */
import { randomUUID } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../core/atomic-file.ts';
import { encodeXmlPlist, parsePlist } from '../plist/index.ts';
import { isPlistDict } from '../plist/types.ts';
import { UsbmuxError } from './errors.ts';
import { ResultCode } from './protocol.ts';

/** Largest record accepted, bytes (real ones are ~10 KiB). */
const MAX_RECORD = 1024 * 1024;

/** Record IDs usable as file names: UDIDs (hex, dashes) and similar; never path separators or dot-dot. */
function safeId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.includes('..') && id !== 'SystemConfiguration';
}

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'ENOENT';
}

/** usbmuxd-compatible record directory (Linux usbmuxd uses /var/lib/lockdown). */
export class DirectoryRecordStore {
  readonly dir: string;
  #buid: Promise<string> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  async #writeAtomic(name: string, data: Buffer): Promise<void> {
    await ensurePrivateDir(this.dir);
    await writeFileAtomic(join(this.dir, name), data, 0o600);
  }

  /** The SystemBUID, created (random upper-case UUID) and stored on first use. */
  systemBuid(): Promise<string> {
    this.#buid ??= this.#loadOrCreateBuid().catch((e: unknown) => {
      this.#buid = undefined;
      throw e;
    });
    return this.#buid;
  }

  async #loadOrCreateBuid(): Promise<string> {
    const path = join(this.dir, 'SystemConfiguration.plist');
    try {
      const v = parsePlist(await readFile(path), { maxBytes: MAX_RECORD });
      if (isPlistDict(v) && typeof v.SystemBUID === 'string' && v.SystemBUID !== '') return v.SystemBUID;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const buid = randomUUID().toUpperCase();
    await this.#writeAtomic('SystemConfiguration.plist', encodeXmlPlist({ SystemBUID: buid }));
    return buid;
  }

  /** The record for `udid` as an XML plist, or undefined when there is none (or the ID is unusable). */
  async read(udid: string): Promise<Buffer | undefined> {
    if (!safeId(udid)) return undefined;
    let raw: Buffer;
    try {
      raw = await readFile(join(this.dir, `${udid}.plist`));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const v = parsePlist(raw, { maxBytes: MAX_RECORD });
    return encodeXmlPlist(v);
  }

  /**
   * Stores a record (XML or binary plist dictionary), re-serialised as XML.
   * @throws UsbmuxError result 22 (ERR_USBMUX_EINVAL) for an unusable ID or data that is not a plist dictionary.
   */
  async save(udid: string, data: Buffer): Promise<void> {
    if (!safeId(udid) || data.length > MAX_RECORD) throw new UsbmuxError(ResultCode.Invalid, 'SavePairRecord');
    let v;
    try {
      v = parsePlist(data, { maxBytes: MAX_RECORD });
    } catch {
      throw new UsbmuxError(ResultCode.Invalid, 'SavePairRecord');
    }
    if (!isPlistDict(v)) throw new UsbmuxError(ResultCode.Invalid, 'SavePairRecord');
    await this.#writeAtomic(`${udid}.plist`, encodeXmlPlist(v));
  }

  /** Deletes the record; false when there was none. */
  async delete(udid: string): Promise<boolean> {
    if (!safeId(udid)) return false;
    try {
      await unlink(join(this.dir, `${udid}.plist`));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}
