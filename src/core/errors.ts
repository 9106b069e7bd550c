/**
 * Typed errors. Every error this library raises is an {@link IDeviceError} with a stable `code`
 * (`ERR_<LAYER>_<NAME>`); tests and callers switch on `code`, never on message text.
 *
 * Generic codes: ERR_PROTOCOL (peer sent bytes we cannot parse), ERR_TIMEOUT, ERR_ABORTED,
 * ERR_CLOSED (stream ended while a reply was awaited), ERR_INVALID_ARG (bad input from the caller/user).
 */
export type Layer = 'core' | 'plist' | 'usbmux' | 'lockdown' | 'pairing' | 'afc' | 'usb' | 'capture' | 'photos' | 'cli' | 'emulator';

const brand = Symbol.for('iosdevice.error');

export class IDeviceError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    (this as unknown as Record<symbol, boolean>)[brand] = true;
  }
  override get name(): string {
    return this.constructor.name;
  }
  /** `instanceof` that survives duplicate copies of the package. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    if (this !== IDeviceError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
  }
}

/** The peer sent bytes we could not parse (local error, never a device status). Code ERR_PROTOCOL. */
export class ProtocolError extends IDeviceError {
  constructor(
    readonly layer: Layer,
    readonly reason: string,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super('ERR_PROTOCOL', `${layer}: ${reason}${offset !== undefined ? ` (at byte ${offset})` : ''}`, options);
  }
}

/** A wire length exceeded a configured cap. Code ERR_PROTOCOL_TOO_LARGE. */
export class TooLargeError extends IDeviceError {
  constructor(readonly layer: Layer, readonly length: number, readonly cap: number) {
    super('ERR_PROTOCOL_TOO_LARGE', `${layer}: length ${length} exceeds the cap of ${cap} bytes`);
  }
}

/** An operation did not complete in time. Code ERR_TIMEOUT. */
export class TimeoutError extends IDeviceError {
  constructor(readonly what: string, readonly ms: number) {
    super('ERR_TIMEOUT', `${what} timed out after ${ms} ms`);
  }
}

/** The caller aborted. Code ERR_ABORTED; `cause` is the signal's reason. */
export class AbortError extends IDeviceError {
  constructor(what: string, reason?: unknown) {
    super('ERR_ABORTED', `${what} was aborted`, { cause: reason });
  }
}

/** The stream closed (EOF, reset, destroy) while something was pending. Code ERR_CLOSED. */
export class ClosedError extends IDeviceError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('ERR_CLOSED', `${what}: connection closed`, options);
  }
}

/** Bad input from the caller or the user. Code ERR_INVALID_ARG. */
export class InvalidArgumentError extends IDeviceError {
  constructor(message: string) {
    super('ERR_INVALID_ARG', message);
  }
}

/** Wraps anything thrown into an IDeviceError (keeping it as `cause`). */
export function asIDeviceError(e: unknown, code = 'ERR_INTERNAL'): IDeviceError {
  if (e instanceof IDeviceError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new IDeviceError(code, msg, { cause: e });
}

/**
 * The stable `code` of an error: an IDeviceError's code, or a Node error's (`ECONNRESET`,
 * `ERR_STREAM_PREMATURE_CLOSE`); undefined for anything else.
 */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}

/** Codes that mean a connection itself is gone or unusable (not a problem of one request). */
const CONNECTION_LOST = new Set(['ERR_CLOSED', 'ERR_TIMEOUT', 'ERR_PROTOCOL', 'ERR_PROTOCOL_TOO_LARGE', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** True when the error means the connection is gone or unusable, so a caller should open a new one. */
export function isConnectionLost(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && CONNECTION_LOST.has(c);
}
