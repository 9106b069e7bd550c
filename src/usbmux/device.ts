/**
 * Device records as published by usbmuxd (`Properties` dicts and binary DEVICE_ADD payloads),
 * and NetworkAddress sockaddr parsing (the UDID dash rule is core/udid.ts).
 */
import { ProtocolError } from '../core/errors.ts';
import { dashedUdid } from '../core/udid.ts';
import type { PlistDict, PlistValue } from '../plist/types.ts';
import { DEVICE_ADD_PAYLOAD, DEVICE_ADD_SERIAL } from './protocol.ts';

/** A network device's address, from the raw `NetworkAddress` sockaddr. */
export interface NetworkAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
  scopeId?: number;
}

/** One device as listed by usbmuxd. `properties` is the daemon's dict, unchanged. */
export interface UsbmuxDevice {
  deviceId: number;
  /** UDID in the form tools use: a 24-character serial gets a dash after 8 characters. */
  udid: string;
  connectionType: 'USB' | 'Network' | string;
  productId?: number;
  locationId?: number;
  /** ConnectionSpeed, bits per second. */
  speed?: number;
  networkAddress?: NetworkAddress;
  properties: PlistDict;
}

/** What a backend publishes: the DeviceID and the `Properties` dict (see protocol.md §1 "Device properties"). */
export interface UsbmuxDeviceRecord {
  deviceId: number;
  properties: PlistDict;
}

/** Device events from `Listen`. */
export type DeviceEvent =
  | { type: 'attached'; device: UsbmuxDevice }
  | { type: 'detached'; deviceId: number }
  | { type: 'paired'; deviceId: number };

function num(v: PlistValue | undefined): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/**
 * Parses a `NetworkAddress` sockaddr: BSD layout (u8 len, u8 family 2/30) from Apple's daemon, or
 * Linux layout (u16 LE family 2/10). Returns undefined for anything else.
 */
export function parseSockaddr(b: Buffer): NetworkAddress | undefined {
  let family: number | undefined;
  if (b.length >= 2 && (b[1] === 2 || b[1] === 30) && (b[0] === 16 || b[0] === 28 || b[0] === 0)) family = b[1] === 2 ? 4 : 6;
  else if (b.length >= 2 && (b.readUInt16LE(0) === 2 || b.readUInt16LE(0) === 10)) family = b.readUInt16LE(0) === 2 ? 4 : 6;
  if (family === 4 && b.length >= 8) {
    return { family: 'IPv4', port: b.readUInt16BE(2), address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}` };
  }
  if (family === 6 && b.length >= 24) {
    const groups: string[] = [];
    for (let i = 8; i < 24; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    const out: NetworkAddress = { family: 'IPv6', port: b.readUInt16BE(2), address: compressV6(groups) };
    if (b.length >= 28) out.scopeId = b.readUInt32LE(24);
    return out;
  }
  return undefined;
}

function compressV6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Builds a {@link UsbmuxDevice} from a DeviceID and its `Properties` dict.
 * @throws ProtocolError (ERR_PROTOCOL) when the DeviceID is not a positive integer.
 */
export function deviceFromProperties(deviceId: number, properties: PlistDict): UsbmuxDevice {
  if (!Number.isInteger(deviceId) || deviceId < 0) throw new ProtocolError('usbmux', `bad DeviceID ${deviceId}`);
  const serial = typeof properties.UDID === 'string' ? properties.UDID : typeof properties.SerialNumber === 'string' ? properties.SerialNumber : '';
  const d: UsbmuxDevice = {
    deviceId,
    udid: dashedUdid(serial),
    connectionType: typeof properties.ConnectionType === 'string' ? properties.ConnectionType : 'USB',
    properties,
  };
  const pid = num(properties.ProductID);
  if (pid !== undefined) d.productId = pid;
  const loc = num(properties.LocationID);
  if (loc !== undefined) d.locationId = loc;
  const speed = num(properties.ConnectionSpeed);
  if (speed !== undefined) d.speed = speed;
  if (Buffer.isBuffer(properties.NetworkAddress)) {
    const na = parseSockaddr(properties.NetworkAddress);
    if (na) d.networkAddress = na;
  }
  return d;
}

/**
 * Decodes a binary DEVICE_ADD payload (268 bytes: u32 id | u16 product | char serial[256] | u16 pad | u32 location).
 * @throws ProtocolError (ERR_PROTOCOL) for any other size.
 */
export function decodeDeviceAddPayload(p: Buffer): UsbmuxDevice {
  if (p.length !== DEVICE_ADD_PAYLOAD) throw new ProtocolError('usbmux', `DEVICE_ADD payload is ${p.length} bytes, expected ${DEVICE_ADD_PAYLOAD}`);
  const deviceId = p.readUInt32LE(0);
  const productId = p.readUInt16LE(4);
  const raw = p.subarray(6, 6 + DEVICE_ADD_SERIAL);
  const nul = raw.indexOf(0);
  const serial = raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
  const locationId = p.readUInt32LE(6 + DEVICE_ADD_SERIAL + 2);
  return deviceFromProperties(deviceId, {
    ConnectionType: 'USB',
    DeviceID: deviceId,
    LocationID: locationId,
    ProductID: productId,
    SerialNumber: serial,
  });
}

/** Encodes a binary DEVICE_ADD payload from a record (serial truncated to 255 bytes + NUL as usbmuxd does). */
export function encodeDeviceAddPayload(r: UsbmuxDeviceRecord): Buffer {
  const p = Buffer.alloc(DEVICE_ADD_PAYLOAD);
  p.writeUInt32LE(r.deviceId >>> 0, 0);
  p.writeUInt16LE((num(r.properties.ProductID) ?? 0) & 0xffff, 4);
  const serial = typeof r.properties.SerialNumber === 'string' ? r.properties.SerialNumber : '';
  Buffer.from(serial, 'latin1').subarray(0, DEVICE_ADD_SERIAL - 1).copy(p, 6);
  p.writeUInt32LE((num(r.properties.LocationID) ?? 0) >>> 0, 6 + DEVICE_ADD_SERIAL + 2);
  return p;
}
