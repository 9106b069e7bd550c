/** How `list` and `listen` show a usbmuxd device: one line for people, one JSON object for programs. */
import type { UsbmuxDevice } from '../usbmux/device.ts';

/** The JSON shape of one device (stable for scripts). */
export function deviceJson(d: UsbmuxDevice): Record<string, unknown> {
  const o: Record<string, unknown> = { udid: d.udid, deviceId: d.deviceId, connectionType: d.connectionType };
  if (d.productId !== undefined) o.productId = d.productId;
  if (d.locationId !== undefined) o.locationId = d.locationId;
  if (d.speed !== undefined) o.speed = d.speed;
  if (d.networkAddress) o.networkAddress = d.networkAddress;
  return o;
}

/** One human-readable line. */
export function deviceLine(d: UsbmuxDevice): string {
  const parts = [d.udid.padEnd(25), d.connectionType.padEnd(7), `id ${d.deviceId}`];
  if (d.productId !== undefined) parts.push(`product 0x${d.productId.toString(16).padStart(4, '0')}`);
  if (d.locationId !== undefined) parts.push(`location 0x${d.locationId.toString(16).padStart(8, '0')}`);
  if (d.speed !== undefined) parts.push(`${d.speed / 1e6} Mbit/s`);
  if (d.networkAddress) parts.push(`${d.networkAddress.address}`);
  return parts.join('  ');
}
