import { fixErrorName, IDeviceError, InvalidArgumentError } from '../core/errors.ts';

/**
 * Stable codes of {@link PlistError}:
 * - `ERR_PLIST_FORMAT`: the bytes are neither an XML plist nor a `bplist00` binary plist.
 * - `ERR_PLIST_SYNTAX`: malformed XML or binary structure (truncation, bad offsets/refs, bad trailer, bad base64/date/number).
 * - `ERR_PLIST_TOO_LARGE`: input bytes, object count or nesting depth over the configured cap.
 * - `ERR_PLIST_CYCLE`: a binary plist container references itself (directly or through its children).
 * - `ERR_PLIST_UNSUPPORTED`: well-formed, but outside the {@link PlistValue} model (null/fill objects, bplist1x, unknown tags,
 *   integers beyond 64 bits).
 * - `ERR_PLIST_INVALID_VALUE`: the encoder was given something that is not a plist value (undefined, null, a function,
 *   an invalid Date, a cyclic object, an integer outside -2^63..2^64-1, a negative or non-integral UID).
 */
export type PlistErrorCode =
  | 'ERR_PLIST_FORMAT'
  | 'ERR_PLIST_SYNTAX'
  | 'ERR_PLIST_TOO_LARGE'
  | 'ERR_PLIST_CYCLE'
  | 'ERR_PLIST_UNSUPPORTED'
  | 'ERR_PLIST_INVALID_VALUE';

/** Error raised by the plist codecs; `offset` is the byte (binary) or character (XML) position when known. */
export class PlistError extends IDeviceError {
  static {
    fixErrorName(this, 'PlistError');
  }
  declare readonly code: PlistErrorCode;
  constructor(
    code: PlistErrorCode,
    readonly reason: string,
    readonly offset?: number,
  ) {
    super(code, `plist: ${reason}${offset !== undefined ? ` (at ${offset})` : ''}`);
  }
}

/** Decoder limits; every one is checked before allocating. */
export interface PlistParseOptions {
  /** Maximum input size in bytes, and maximum total decoded string/data bytes (default 64 MiB). */
  maxBytes?: number;
  /** Maximum number of decoded values (default 1,000,000). */
  maxObjects?: number;
  /** Maximum container nesting depth (default 512; at most 1000, which keeps the recursive decoders off the stack limit). */
  maxDepth?: number;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_OBJECTS = 1_000_000;
export const DEFAULT_MAX_DEPTH = 512;
/** Hard ceiling for maxDepth: the decoders recurse once per level and must never hit V8's stack limit. */
export const MAX_DEPTH_LIMIT = 1000;

export interface ResolvedLimits {
  maxBytes: number;
  maxObjects: number;
  maxDepth: number;
}

/**
 * Fills in the defaults and checks the caller's limits.
 * @throws InvalidArgumentError ERR_INVALID_ARG when a limit is not a non-negative integer, or maxDepth > 1000
 */
export function resolveLimits(o?: PlistParseOptions): ResolvedLimits {
  const r = {
    maxBytes: o?.maxBytes ?? DEFAULT_MAX_BYTES,
    maxObjects: o?.maxObjects ?? DEFAULT_MAX_OBJECTS,
    maxDepth: o?.maxDepth ?? DEFAULT_MAX_DEPTH,
  };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`plist: ${k} must be a non-negative integer, got ${String(v)}`);
  }
  if (r.maxDepth > MAX_DEPTH_LIMIT) throw new InvalidArgumentError(`plist: maxDepth ${r.maxDepth} exceeds ${MAX_DEPTH_LIMIT}`);
  return r;
}

/** Seconds between the Unix epoch and the Core Foundation epoch (2001-01-01T00:00:00Z). */
export const CF_EPOCH_OFFSET_S = 978_307_200;

/** Assigns `obj[key] = value` without the `__proto__` setter turning a key into a prototype change. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
