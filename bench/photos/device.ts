/**
 * The preamble of the photo benchmark children: their command-line values, and the device behind `--usbmuxd`
 * opened and paired (the trust step is not part of what they measure), as a PhotoDevice through the library's
 * own photoDevice().
 */
import { openDevice, openLockdownSession } from '../../src/connect.ts';
import { photoDevice } from '../../src/photo-backup.ts';
import type { PhotoDevice } from '../../src/photos/source.ts';

/** The value after `name` on the command line. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Opens the device at `--usbmuxd`, pairs it (auto-accepting emulator) and returns it as the engine's PhotoDevice. */
export async function openBenchDevice(): Promise<PhotoDevice> {
  const dev = await openDevice({ socket: arg('--usbmuxd')! }, { timeoutMs: 10_000 });
  const session = await openLockdownSession(dev, { autoPair: true, timeoutMs: 10_000 });
  session.lockdown.close();
  return photoDevice(dev, { timeoutMs: 30_000 });
}
