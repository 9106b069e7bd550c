/**
 * usbmux error classes.
 *
 * Codes:
 * - {@link UsbmuxError} (a `Result` number other than 0 from the daemon; `result` is the wire value):
 *   ERR_USBMUX_BADCOMMAND (1), ERR_USBMUX_BADDEV (2), ERR_USBMUX_CONNREFUSED (3), ERR_USBMUX_NOSUCHSERVICE (4),
 *   ERR_USBMUX_BADVERSION (6), ERR_USBMUX_EINVAL (22), ERR_USBMUX_RESULT (any other number, preserved in `result`).
 * - ERR_USBMUX_HEADER_VERSION: a header carried a protocol version other than 0/1 (local decode error, kept
 *   apart from the daemon's result 6; docs/errors.md lists the old spelling).
 * - ERR_USBMUX_CONSUMED: the client was handed over by connect()/listen() and cannot be used again.
 * - ERR_USBMUX_UNREACHABLE: nothing listens at the usbmuxd address.
 * - ERR_USBMUX_LISTEN_FAILED: a usbmuxd-style socket could not be bound (server side: emulator, daemon).
 */
import { fixErrorName, IDeviceError } from '../core/errors.ts';

/** The codes of usbmux `Result` numbers. */
export type UsbmuxResultCode =
  | 'ERR_USBMUX_BADCOMMAND'
  | 'ERR_USBMUX_BADDEV'
  | 'ERR_USBMUX_CONNREFUSED'
  | 'ERR_USBMUX_NOSUCHSERVICE'
  | 'ERR_USBMUX_BADVERSION'
  | 'ERR_USBMUX_EINVAL'
  | 'ERR_USBMUX_RESULT';

/** Result number → code (the numbers this library knows; every other one is ERR_USBMUX_RESULT). */
export const USBMUX_RESULT_CODES: Readonly<Record<number, UsbmuxResultCode>> = {
  1: 'ERR_USBMUX_BADCOMMAND',
  2: 'ERR_USBMUX_BADDEV',
  3: 'ERR_USBMUX_CONNREFUSED',
  4: 'ERR_USBMUX_NOSUCHSERVICE',
  6: 'ERR_USBMUX_BADVERSION',
  22: 'ERR_USBMUX_EINVAL',
};

const RESULT_TEXT: Record<number, string> = {
  1: 'bad command',
  2: 'no such device',
  3: 'connection refused by the device',
  4: 'no such service',
  6: 'protocol version not supported by the daemon',
  22: 'invalid argument (unparsable record data)',
};

/** The error code for a usbmux `Result` number (unknown numbers → ERR_USBMUX_RESULT). */
export function codeForResult(result: number): UsbmuxResultCode {
  return USBMUX_RESULT_CODES[result] ?? 'ERR_USBMUX_RESULT';
}

/** The daemon (or a backend) answered a `Result` other than 0. `result` is exactly the wire number. */
export class UsbmuxError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbmuxError');
  }
  declare readonly code: UsbmuxResultCode;
  readonly result: number;
  constructor(result: number, what?: string) {
    super(codeForResult(result), `${what ? `${what}: ` : ''}usbmuxd result ${result} (${RESULT_TEXT[result] ?? 'unknown result'})`);
    this.result = result;
  }
}

/** Backends reject `connect()` with this (same class as {@link UsbmuxError}); the server forwards `result`. */
export { UsbmuxError as UsbmuxResultError };

/** A header with a protocol version other than 0 or 1 (local decode error). Code ERR_USBMUX_HEADER_VERSION. */
export class UsbmuxHeaderVersionError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbmuxHeaderVersionError');
  }
  constructor(readonly version: number) {
    super('ERR_USBMUX_HEADER_VERSION', `usbmux: unknown protocol version ${version} in header`);
  }
}

/** The client was consumed by connect()/listen(). Code ERR_USBMUX_CONSUMED. */
export class UsbmuxConsumedError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbmuxConsumedError');
  }
  constructor(what: string) {
    super('ERR_USBMUX_CONSUMED', `${what}: this usbmux client was handed over by connect()/listen(); open a new one`);
  }
}

/** Nothing is listening at the usbmuxd address. Code ERR_USBMUX_UNREACHABLE; `cause` is the socket error. */
export class UsbmuxUnreachableError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbmuxUnreachableError');
  }
  constructor(readonly address: string, cause?: unknown) {
    super(
      'ERR_USBMUX_UNREACHABLE',
      `cannot reach usbmuxd at ${address}. Start it with \`sudo usbmuxd -f\` (Debian package usbmuxd), ` +
        'run the virtual iPhone with `iosdevice emulator`, or point --socket / USBMUXD_SOCKET_ADDRESS at a running one',
      { cause },
    );
  }
}

/**
 * A usbmuxd-style socket (emulator, daemon, capture proxy) could not be bound. Code ERR_USBMUX_LISTEN_FAILED;
 * `cause` is the node:net error (EADDRINUSE, EACCES…), `address` where it was tried.
 */
export class UsbmuxListenError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbmuxListenError');
  }
  constructor(readonly address: string, message: string, options?: ErrorOptions) {
    super('ERR_USBMUX_LISTEN_FAILED', message, options);
  }
}
