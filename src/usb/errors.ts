/**
 * Errors of the direct USB mux (layer `usb`). Every code is stable; tests switch on `code`.
 *
 * | code | meaning |
 * |---|---|
 * | ERR_USB_MUX_REFUSED | the device answered our SYN with RST (no service on that port) |
 * | ERR_USB_MUX_RESET | the peer reset an open stream while we still had data to send |
 * | ERR_USB_MUX_OVERFLOW | the peer sent beyond the window we advertised |
 * | ERR_USB_MUX_VERSION | the device answered VERSION with a major we do not speak |
 * | ERR_USB_MUX_CLOSED | the mux was closed locally; streams still open are destroyed with it |
 * | ERR_USB_DETACHED | the device went away (unplug, transfer error); every open stream gets it |
 * | ERR_USB_NO_DEVICE | no Apple device with that UDID on the bus |
 * | ERR_USB_NO_MUX_INTERFACE | the device has no usbmux interface (USB mode 5, CDC-NCM only) |
 * | ERR_USB_BUSY | the interface is claimed by another process (a running usbmuxd) |
 * | ERR_USB_TRANSFER | a bulk transfer failed for another reason |
 * | ERR_USB_UNAVAILABLE | no USB stack reachable (no /sys/bus/usb, native module missing) |
 */
import { fixErrorName, IDeviceError } from '../core/errors.ts';

export type UsbErrorCode =
  | 'ERR_USB_MUX_REFUSED'
  | 'ERR_USB_MUX_RESET'
  | 'ERR_USB_MUX_OVERFLOW'
  | 'ERR_USB_MUX_VERSION'
  | 'ERR_USB_MUX_CLOSED'
  | 'ERR_USB_DETACHED'
  | 'ERR_USB_NO_DEVICE'
  | 'ERR_USB_NO_MUX_INTERFACE'
  | 'ERR_USB_BUSY'
  | 'ERR_USB_TRANSFER'
  | 'ERR_USB_UNAVAILABLE';

/** An error of the USB transport or the mux running over it. */
export class UsbError extends IDeviceError {
  static {
    fixErrorName(this, 'UsbError');
  }
  declare readonly code: UsbErrorCode;
  constructor(code: UsbErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** The device refused a connection: it answered SYN with RST. Code ERR_USB_MUX_REFUSED. */
export class MuxRefusedError extends UsbError {
  static {
    fixErrorName(this, 'MuxRefusedError');
  }
  constructor(readonly port: number, readonly reason?: string) {
    super('ERR_USB_MUX_REFUSED', `usb mux: port ${port} refused${reason ? ` (${reason})` : ''}`);
  }
}

/** The peer reset an open stream. Code ERR_USB_MUX_RESET. */
export class MuxResetError extends UsbError {
  static {
    fixErrorName(this, 'MuxResetError');
  }
  constructor(readonly port: number, readonly reason?: string) {
    super('ERR_USB_MUX_RESET', `usb mux: port ${port} reset by peer${reason ? ` (${reason})` : ''}`);
  }
}

/** The device went away. Code ERR_USB_DETACHED. */
export class DetachedError extends UsbError {
  static {
    fixErrorName(this, 'DetachedError');
  }
  constructor(what: string, options?: ErrorOptions) {
    super('ERR_USB_DETACHED', `${what}: device detached`, options);
  }
}
