/** Errors of the virtual iPhone. Code ERR_EMULATOR_DETACHED: the device was detached; its open streams end with it. */
import { fixErrorName, IDeviceError } from '../core/errors.ts';

/** The virtual iPhone was detached (by hand or by a detach fault). Code ERR_EMULATOR_DETACHED. */
export class EmulatorDetachedError extends IDeviceError {
  static {
    fixErrorName(this, 'EmulatorDetachedError');
  }
  constructor(readonly udid: string) {
    super('ERR_EMULATOR_DETACHED', `device ${udid} was detached`);
  }
}
