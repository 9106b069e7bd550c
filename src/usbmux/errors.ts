/**
 * usbmux error classes.
 *
 * Codes:
 * - {@link UsbmuxError} (a `Result` number other than 0 from the daemon; `result` is the wire value):
 *   ERR_USBMUX_BADCOMMAND (1), ERR_USBMUX_BADDEV (2), ERR_USBMUX_CONNREFUSED (3), ERR_USBMUX_NOSUCHSERVICE (4),
 *   ERR_USBMUX_BADVERSION (6), ERR_USBMUX_EINVAL (22), ERR_USBMUX_RESULT (any other number, preserved in `result`).
 * - ERR_USBMUX_BAD_VERSION: a header carried a protocol version other than 0/1 (local decode error).
 * - ERR_USBMUX_CONSUMED: the client was handed over by connect()/listen() and cannot be used again.
 * - ERR_USBMUX_UNREACHABLE: nothing listens at the usbmuxd address.
 */
import { IDeviceError } from '../core/errors.ts';

const RESULT_CODES: Record<number, string> = {
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
export function codeForResult(result: number): string {
  return RESULT_CODES[result] ?? 'ERR_USBMUX_RESULT';
}

/** The daemon (or a backend) answered a `Result` other than 0. `result` is exactly the wire number. */
export class UsbmuxError extends IDeviceError {
  readonly result: number;
  constructor(result: number, what?: string) {
    super(codeForResult(result), `${what ? `${what}: ` : ''}usbmuxd result ${result} (${RESULT_TEXT[result] ?? 'unknown result'})`);
    this.result = result;
  }
}

/** Backends reject `connect()` with this (same class as {@link UsbmuxError}); the server forwards `result`. */
export { UsbmuxError as UsbmuxResultError };

/** A header with a protocol version other than 0 or 1. Code ERR_USBMUX_BAD_VERSION. */
export class UsbmuxBadVersionError extends IDeviceError {
  constructor(readonly version: number) {
    super('ERR_USBMUX_BAD_VERSION', `usbmux: unknown protocol version ${version} in header`);
  }
}

/** The client was consumed by connect()/listen(). Code ERR_USBMUX_CONSUMED. */
export class UsbmuxConsumedError extends IDeviceError {
  constructor(what: string) {
    super('ERR_USBMUX_CONSUMED', `${what}: this usbmux client was handed over by connect()/listen(); open a new one`);
  }
}

/** Nothing is listening at the usbmuxd address. Code ERR_USBMUX_UNREACHABLE; `cause` is the socket error. */
export class UsbmuxUnreachableError extends IDeviceError {
  constructor(readonly address: string, cause?: unknown) {
    super(
      'ERR_USBMUX_UNREACHABLE',
      `cannot reach usbmuxd at ${address}. Start it with \`sudo usbmuxd -f\` (Debian package usbmuxd), ` +
        'run the virtual iPhone with `iosdevice emulator`, or point --socket / USBMUXD_SOCKET_ADDRESS at a running one',
      { cause },
    );
  }
}
