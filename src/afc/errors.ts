import { fixErrorName, IDeviceError } from '../core/errors.ts';
import { AfcStatus, opcodeName } from './protocol.ts';

/** The name of each non-zero status (0 is success and never an error). */
export type AfcStatusName = Exclude<keyof typeof AfcStatus, 'SUCCESS'>;

/** The codes of AFC statuses: `ERR_AFC_<STATUS NAME>`, ERR_AFC_UNRECOGNISED_STATUS for a value outside the table. */
export type AfcErrorCode = `ERR_AFC_${AfcStatusName}` | 'ERR_AFC_UNRECOGNISED_STATUS';

const STATUS_NAME: Record<number, AfcStatusName> = Object.fromEntries(
  Object.entries(AfcStatus).filter(([k]) => k !== 'SUCCESS').map(([k, v]) => [v, k]),
) as Record<number, AfcStatusName>;

/**
 * The device answered a request with a non-zero STATUS. `status` is exactly the wire value (unknown
 * values are preserved), `opcode` the request's operation and `path` the path it named, if any.
 *
 * Codes: `ERR_AFC_<STATUS NAME>` for statuses 1-23 (e.g. ERR_AFC_OBJECT_NOT_FOUND for 8, ERR_AFC_UNKNOWN_ERROR
 * for 1, which RemovePath returns for a non-empty directory), ERR_AFC_UNRECOGNISED_STATUS for any other value.
 */
export class AfcError extends IDeviceError {
  static {
    fixErrorName(this, 'AfcError');
  }
  declare readonly code: AfcErrorCode;
  constructor(
    readonly status: number,
    readonly opcode: number,
    readonly path?: string,
  ) {
    const name = STATUS_NAME[status];
    super(
      afcErrorCode(status),
      `AFC ${opcodeName(opcode)}${path !== undefined ? ` ${JSON.stringify(path)}` : ''} failed with status ${status}${name ? ` (${name})` : ''}`,
    );
  }
}

/**
 * `iosdevice afc rm` (without -r) on a folder that is not empty: the device answers RemovePath with status 1
 * (ERR_AFC_UNKNOWN_ERROR, the `cause`); this names what happened and how to remove it. Code ERR_AFC_DIR_NOT_EMPTY.
 * (`AfcClient.remove()` itself reports what the device answered.)
 */
export class AfcDirNotEmptyError extends IDeviceError {
  static {
    fixErrorName(this, 'AfcDirNotEmptyError');
  }
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_AFC_DIR_NOT_EMPTY', `${path} is a folder that is not empty: use -r to remove it with everything in it`, options);
  }
}

/** The code AfcError uses for a status value. */
export function afcErrorCode(status: number): AfcErrorCode {
  const name = STATUS_NAME[status];
  return name !== undefined ? `ERR_AFC_${name}` : 'ERR_AFC_UNRECOGNISED_STATUS';
}

/**
 * A well-framed reply whose content cannot be used: a number field that is not a decimal integer (`st_size: -1`,
 * a garbage `st_mtime`), an odd key/value list, a result of the wrong kind for the request. Only that request
 * fails: the framing is intact, so the connection stays usable (unlike ERR_PROTOCOL). Code ERR_AFC_BAD_REPLY.
 */
export class AfcBadReplyError extends IDeviceError {
  static {
    fixErrorName(this, 'AfcBadReplyError');
  }
  constructor(
    readonly opcode: number,
    readonly reason: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_AFC_BAD_REPLY', `AFC ${opcodeName(opcode)}${path !== undefined ? ` ${JSON.stringify(path)}` : ''}: unusable reply: ${reason}`, options);
  }
}

/**
 * A directory listing holds more names than the caller's cap (`readdir(path, { maxEntries })`); parsing stops at
 * the cap, before allocating more. The connection stays usable. Code ERR_AFC_TOO_MANY_ENTRIES.
 */
export class AfcTooManyEntriesError extends IDeviceError {
  static {
    fixErrorName(this, 'AfcTooManyEntriesError');
  }
  constructor(
    readonly cap: number,
    readonly path?: string,
  ) {
    super('ERR_AFC_TOO_MANY_ENTRIES', `${path !== undefined ? `${JSON.stringify(path)}: ` : ''}the listing has more than ${cap} entries`);
  }
}
