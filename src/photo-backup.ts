/**
 * The photo backup on a {@link DeviceProvider}: {@link photoDevice} adapts a provider to the engine's source seam
 * (`PhotoDevice`: fresh AFC connections on demand), {@link backupPhotos} pairs on first use and runs the backup.
 * The engine itself (iosdevice/photos) never imports the transport layers.
 */
import type { CallOpts } from './core/abort.ts';
import { connectAfc, openLockdownSession, type ConnectServiceOptions } from './connect.ts';
import type { TrustEvent } from './pairing/trust.ts';
import { runBackup, type BackupOptions, type BackupSummary } from './photos/backup.ts';
import type { PhotoDevice } from './photos/source.ts';
import type { DeviceProvider } from './provider.ts';

/**
 * The engine's view of a device: each `openAfc()` is a new AFC connection over `dev` (StartSession with the saved
 * pair record, never a trust dialog). `opts` are passed to every connection; a call's own signal/timeout wins.
 */
export function photoDevice(dev: DeviceProvider, opts: Omit<ConnectServiceOptions, 'autoPair'> = {}): PhotoDevice {
  return {
    udid: dev.udid,
    openAfc: (o?: CallOpts) =>
      connectAfc(dev, { ...opts, autoPair: false, signal: o?.signal ?? opts.signal, ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
  };
}

/** Options of {@link backupPhotos}: the engine's (DEST, selection, layout, events…) without `device`. */
export interface BackupPhotosOptions extends Omit<BackupOptions, 'device'> {
  /** Shown while the trust dialog waits, when this computer is not paired yet (pairing happens on first use). */
  onTrustEvent?: (e: TrustEvent) => void;
  /** Bound of each usbmuxd / lockdown request, ms (default 30000). */
  timeoutMs?: number;
  /** Bound on the trust flow including the person's answer, ms (default 120000). */
  pairTimeoutMs?: number;
}

/**
 * Backs up the camera roll of `dev` into `opts.dest`: pairs if needed (onTrustEvent), then runs the engine with
 * progress events (`onEvent`) and resolves with its summary (copied, skipped, failed, rejected…).
 * @throws the pairing and connection codes of {@link openLockdownSession} before the run starts, then what the
 *   engine's runBackup throws (ERR_PHOTOS_BUSY, ERR_PHOTOS_MANIFEST, …)
 */
export async function backupPhotos(dev: DeviceProvider, opts: BackupPhotosOptions): Promise<BackupSummary> {
  const { onTrustEvent, timeoutMs = 30_000, pairTimeoutMs = 120_000, ...engine } = opts;
  const session = await openLockdownSession(dev, { autoPair: true, onTrustEvent, signal: opts.signal, timeoutMs, pairTimeoutMs });
  // DeviceName names the device's folder in DEST (photos/device-folder.ts)
  const name = await session.lockdown.getValue('DeviceName', undefined, { signal: opts.signal, timeoutMs }).catch(() => undefined);
  session.lockdown.close();
  const device = photoDevice(dev, { signal: opts.signal, timeoutMs });
  return runBackup({ ...engine, device: typeof name === 'string' ? { ...device, name } : device });
}
