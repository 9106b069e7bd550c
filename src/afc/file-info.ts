/**
 * Typed views of GetFileInfo / GetDeviceInfo dictionaries. A field that is present but not a decimal integer
 * throws AfcBadReplyError (ERR_AFC_BAD_REPLY: that request's problem, not the connection's); the client adds the path.
 */
import { AfcBadReplyError } from './errors.ts';
import { AfcOpcode } from './protocol.ts';

/** File types as st_ifmt reports them. */
export type AfcFileType = 'file' | 'dir' | 'symlink' | 'block' | 'char' | 'fifo' | 'socket' | 'unknown';

const TYPES: Record<string, AfcFileType> = {
  S_IFREG: 'file',
  S_IFDIR: 'dir',
  S_IFLNK: 'symlink',
  S_IFBLK: 'block',
  S_IFCHR: 'char',
  S_IFIFO: 'fifo',
  S_IFSOCK: 'socket',
};

/** GetFileInfo result. Times are nanoseconds since the epoch (bigint, exact) plus Date views (ms). */
export interface AfcFileInfo {
  /** st_size in bytes. */
  size: number;
  /** st_blocks (512-byte blocks). */
  blocks: number;
  /** st_nlink. */
  nlink: number;
  /** From st_ifmt; 'unknown' when absent or unrecognised (raw keeps the value). */
  type: AfcFileType;
  mtime: Date;
  birthtime: Date;
  /** st_mtime in ns. */
  mtimeNs: bigint;
  /** st_birthtime in ns (0n when the device does not send it, iOS < 7). */
  birthtimeNs: bigint;
  /** `LinkTarget` for symlinks. */
  linkTarget?: string;
  /** Every key/value the device sent. */
  raw: Record<string, string>;
}

/** GetDeviceInfo result. */
export interface AfcDeviceInfo {
  model?: string;
  totalBytes: number;
  freeBytes: number;
  blockSize: number;
  raw: Record<string, string>;
}

function badField(key: string, value: string, what: string): AfcBadReplyError {
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return new AfcBadReplyError(key.startsWith('FS') || key === 'Model' ? AfcOpcode.GetDeviceInfo : AfcOpcode.GetFileInfo, `${key} is not ${what}: ${shown}`);
}

function intField(raw: Record<string, string>, key: string): number {
  const v = raw[key];
  if (v === undefined) return 0;
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw badField(key, v, 'a non-negative safe integer');
  return Number(v);
}

function nsField(raw: Record<string, string>, key: string): bigint {
  const v = raw[key];
  if (v === undefined) return 0n;
  if (!/^\d{1,25}$/.test(v)) throw badField(key, v, 'a non-negative decimal integer');
  return BigInt(v);
}

/** Converts nanoseconds since the epoch to a Date (ms precision). */
export function nsToDate(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}

/** Builds AfcFileInfo from a GetFileInfo dictionary. @throws AfcBadReplyError (ERR_AFC_BAD_REPLY) for a number field that is not one */
export function toFileInfo(raw: Record<string, string>): AfcFileInfo {
  const mtimeNs = nsField(raw, 'st_mtime');
  const birthtimeNs = nsField(raw, 'st_birthtime');
  const info: AfcFileInfo = {
    size: intField(raw, 'st_size'),
    blocks: intField(raw, 'st_blocks'),
    nlink: intField(raw, 'st_nlink'),
    type: TYPES[raw.st_ifmt ?? ''] ?? 'unknown',
    mtime: nsToDate(mtimeNs),
    birthtime: nsToDate(birthtimeNs),
    mtimeNs,
    birthtimeNs,
    raw,
  };
  if (raw.LinkTarget !== undefined) info.linkTarget = raw.LinkTarget;
  return info;
}

/** Builds AfcDeviceInfo from a GetDeviceInfo dictionary. @throws AfcBadReplyError (ERR_AFC_BAD_REPLY) for a number field that is not one */
export function toDeviceInfo(raw: Record<string, string>): AfcDeviceInfo {
  const out: AfcDeviceInfo = {
    totalBytes: intField(raw, 'FSTotalBytes'),
    freeBytes: intField(raw, 'FSFreeBytes'),
    blockSize: intField(raw, 'FSBlockSize'),
    raw,
  };
  if (raw.Model !== undefined) out.model = raw.Model;
  return out;
}
