/**
 * `iosdevice/usb`: our own USB transport (no usbmuxd). {@link openUsbDevice} gives a DeviceProvider straight from the
 * bus ({@link listUsbDevices}; the native `usb` module is loaded on first use), {@link UsbMuxDaemon} serves it as a
 * usbmuxd. The mux itself: {@link HostMux} (host end over a {@link BulkTransport}), {@link DeviceMux} (the phone's
 * end), {@link createVirtualUsbPair} (both ends in memory, for tests).
 */
export { findUsbDevice, listUsbDevices, openUsbDevice, type UsbDeviceProvider } from '../providers/usb.ts';
export { UsbBulkTransport, type NativeUsbDevice, type UsbDeviceInfo } from './usb-transport.ts';
export type { MuxInterfaceChoice } from './usb-device-info.ts';
export type { MuxVersion } from './header.ts';
export type { BulkTransport } from './transport.ts';
export { HostMux, type HostMuxOptions } from './host-mux.ts';
export { DeviceMux, type DeviceMuxOptions, type ServiceLookup, type StreamHandler } from './device-mux.ts';
export { createVirtualUsbPair, type VirtualUsbOptions, type VirtualUsbPair } from './virtual-endpoints.ts';
export { UsbMuxDaemon, type UsbDaemonOptions } from '../daemon/usb-daemon.ts';
export { DetachedError, MuxRefusedError, MuxResetError, UsbError, type UsbErrorCode } from './errors.ts';
