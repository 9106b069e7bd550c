/**
 * Typed errors. Every error this library raises is an {@link IDeviceError} with a stable `code`
 * (`ERR_<LAYER>_<NAME>`, the {@link ErrorCode} union of ./codes.ts, documented in docs/errors.md); tests and
 * callers switch on `code`, never on message text. Every class has a fixed `name` (set on its prototype, so
 * it survives bundlers that rename classes) and keeps `cause` when it wraps another error.
 *
 * Generic codes: ERR_PROTOCOL (peer sent bytes we cannot parse), ERR_TIMEOUT, ERR_ABORTED,
 * ERR_CLOSED (stream ended while a reply was awaited), ERR_INVALID_ARG (bad input from the caller/user),
 * ERR_INTERNAL (a non-IDeviceError thrown inside the library).
 */
import type { ErrorCode } from './codes.ts';

export type { ErrorCode } from './codes.ts';

export type Layer = 'core' | 'plist' | 'usbmux' | 'lockdown' | 'pairing' | 'afc' | 'usb' | 'capture' | 'photos' | 'cli' | 'emulator';

const brand = Symbol.for('iosdevice.error');

/**
 * Gives an error class its fixed `name` (on the prototype, not derived from `constructor.name`, which bundlers
 * and minifiers rename). Call once per class, in a `static {}` block.
 */
export function fixErrorName(cls: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, enumerable: false, configurable: true });
}

/** Base class of every error this library raises; `code` is stable (see {@link ErrorCode}). */
export class IDeviceError extends Error {
  static {
    fixErrorName(this, 'IDeviceError');
  }
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    (this as unknown as Record<symbol, boolean>)[brand] = true;
  }
  /** `instanceof` that survives duplicate copies of the package. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    if (this !== IDeviceError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
  }
}

/** The peer sent bytes we could not parse (local error, never a device status). Code ERR_PROTOCOL. */
export class ProtocolError extends IDeviceError {
  static {
    fixErrorName(this, 'ProtocolError');
  }
  constructor(
    readonly layer: Layer,
    readonly reason: string,
    readonly offset?: number,
    options?: ErrorOptions,
  ) {
    super('ERR_PROTOCOL', `${layer}: ${reason}${offset !== undefined ? ` (at byte ${offset})` : ''}`, options);
  }
}

/** A wire length exceeded a configured cap. Code ERR_PROTOCOL_TOO_LARGE. */
export class TooLargeError extends IDeviceError {
  static {
    fixErrorName(this, 'TooLargeError');
  }
  constructor(readonly layer: Layer, readonly length: number, readonly cap: number) {
    super('ERR_PROTOCOL_TOO_LARGE', `${layer}: length ${length} exceeds the cap of ${cap} bytes`);
  }
}

/** An operation did not complete in time. Code ERR_TIMEOUT. */
export class TimeoutError extends IDeviceError {
  static {
    fixErrorName(this, 'TimeoutError');
  }
  constructor(readonly what: string, readonly ms: number) {
    super('ERR_TIMEOUT', `${what} timed out after ${ms} ms`);
  }
}

/** The caller aborted. Code ERR_ABORTED; `cause` is the signal's reason. */
export class AbortError extends IDeviceError {
  static {
    fixErrorName(this, 'AbortError');
  }
  constructor(what: string, reason?: unknown) {
    super('ERR_ABORTED', `${what} was aborted`, { cause: reason });
  }
}

/** The stream closed (EOF, reset, destroy) while something was pending. Code ERR_CLOSED. */
export class ClosedError extends IDeviceError {
  static {
    fixErrorName(this, 'ClosedError');
  }
  constructor(what: string, options?: ErrorOptions) {
    super('ERR_CLOSED', `${what}: connection closed`, options);
  }
}

/** Bad input from the caller or the user. Code ERR_INVALID_ARG. */
export class InvalidArgumentError extends IDeviceError {
  static {
    fixErrorName(this, 'InvalidArgumentError');
  }
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_ARG', message, options);
  }
}

/** Something that is not an IDeviceError was thrown inside the library (a bug). Code ERR_INTERNAL; `cause` is what was thrown. */
export class InternalError extends IDeviceError {
  static {
    fixErrorName(this, 'InternalError');
  }
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INTERNAL', message, options);
  }
}

/** Wraps anything thrown into an IDeviceError: an IDeviceError as is, anything else as an {@link InternalError} (keeping it as `cause`). */
export function asIDeviceError(e: unknown): IDeviceError {
  if (e instanceof IDeviceError) return e;
  return new InternalError(e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * The stable `code` of an error: an IDeviceError's code, or a Node error's (`ECONNRESET`,
 * `ERR_STREAM_PREMATURE_CLOSE`); undefined for anything else.
 */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}

/**
 * Codes that mean a connection itself is gone or unusable (not a problem of one request). ERR_PROTOCOL is here
 * because it means broken framing (the byte stream cannot be resynchronised); a well-framed reply whose content
 * is unusable has a per-request code instead (ERR_AFC_BAD_REPLY, ERR_AFC_TOO_MANY_ENTRIES) and is not.
 */
const CONNECTION_LOST = new Set(['ERR_CLOSED', 'ERR_TIMEOUT', 'ERR_PROTOCOL', 'ERR_PROTOCOL_TOO_LARGE', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** True when the error means the connection is gone or unusable, so a caller should open a new one. */
export function isConnectionLost(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && CONNECTION_LOST.has(c);
}
