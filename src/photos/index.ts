/**
 * `iosdevice/photos`: the photo backup engine, with two seams so another tool can drive it with its own UI:
 *
 * - source: a {@link PhotoDevice} (opens AFC connections; `photoDevice(dev)` from `iosdevice` builds one, tests can
 *   pass any folder-backed implementation);
 * - destination: DEST (a folder) and the layout below it, 'device', 'date' or a {@link CustomLayout} of your own.
 *
 * {@link runBackup} streams each selected file to a .part, verifies it (size, SHA-256), places it without ever
 * overwriting, records it in DEST/.iosdevice/manifest.jsonl, reports progress as {@link BackupEvent}s and resolves
 * with a {@link BackupSummary}; reruns copy only what is new. {@link verifyImported} / {@link removeImported} answer
 * "keep or remove from the device" afterwards, deleting only verified, recorded copies.
 */
export { runBackup, type BackupOptions } from './backup.ts';
export type { BackupEvent, BackupStatus, BackupSummary, DateFallback, FailedFile, KeptOnDevice } from './events.ts';
export type { PhotoAfc, PhotoDevice, PhotoFileInfo } from './source.ts';
export { checkEventName, MAX_EVENT_NAME, type CustomLayout, type DeviceFile, type Layout } from './layout.ts';
export { makeSelection, parseDateArg, type Selection } from './selection.ts';
export type { Glob } from './glob.ts';
export type { Rejected } from './walk.ts';
export { STATE_DIR, type ManifestEntry } from './manifest.ts';
export type { DeleteCheck } from './recheck.ts';
export { removeImported, verifyImported, type NotRemovable, type RemoveOptions, type RemoveSummary, type VerifyResult } from './remove.ts';
export { DEFAULT_LIMITS, type BackupLimits } from './limits.ts';
export { DestError, PhotosError, PhotosLimitError, UnsafePathError, type DestErrorCode, type PhotosErrorCode } from './errors.ts';
export { TransferTimeoutError } from './watch.ts';
