/**
 * `iosdevice/emulator`: the virtual iPhone, to test your own tool against in your CI. {@link startEmulator} starts
 * one (or several) in-process behind a usbmuxd-compatible socket (`emu.address`, for `{ socket }` options and for
 * `USBMUXD_SOCKET_ADDRESS`, which the libimobiledevice tools read); each device has a generated camera roll (or a
 * folder you pass), a trust dialog (auto / prompt / deny, delay, locked), link shaping and attach/detach.
 * {@link VirtualIPhone} is one device without the socket (`connect(port)` gives in-memory streams).
 */
export { describeDevice, startEmulator, type EmulatedDevice, type EmulatedDeviceOptions, type Emulator, type EmulatorOptions } from './emulator.ts';
export { VirtualIPhone, type VirtualIPhoneOptions } from './virtual-iphone.ts';
export type { TrustPolicy, VirtualLockdownDevice, VirtualLockdownDeviceOptions } from './lockdown-device.ts';
export type { AfcdTiming } from './afcd-model.ts';
export type { DeviceFaults } from './faults.ts';
export type { ServiceHandler } from './services.ts';
export type { CrashEntry } from './crash-reports.ts';
export type { MediaKind } from './media/formats.ts';
export { linkProfile, type LinkParams, type LinkProfile } from './link.ts';
export { generateDcim, planDcim, type DcimFile, type DcimManifest, type DcimOptions, type PlannedFile } from './dcim-generator.ts';
export type { FaultSpec } from './faults.ts';
export { EmulatorDetachedError } from './errors.ts';
