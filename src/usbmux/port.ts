/**
 * usbmuxd `PortNumber`: the device port in network byte order (htons) stored as a plain integer.
 * 62078 (0xF27E) travels as 32498 (0x7EF2). Apple's clients write it as a signed int16, so
 * −27408 means 61588. Decode accepts both forms; encode writes the unsigned value.
 */
import { InvalidArgumentError, ProtocolError } from '../core/errors.ts';

function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/**
 * Host-order TCP port → the wire `PortNumber` (0–65535).
 * @throws InvalidArgumentError (ERR_INVALID_ARG) unless 1 ≤ port ≤ 65535 (integer).
 */
export function encodePortNumber(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new InvalidArgumentError(`bad port ${port}: must be 1–65535`);
  return swap16(port);
}

/**
 * Wire `PortNumber` (unsigned 0–65535 or signed −32768–32767) → host-order port.
 * @throws ProtocolError (ERR_PROTOCOL) for a non-integer or a value outside the int16/u16 range.
 */
export function decodePortNumber(n: number | bigint): number {
  const v = typeof n === 'bigint' ? Number(n) : n;
  if (!Number.isInteger(v) || v < -0x8000 || v > 0xffff) throw new ProtocolError('usbmux', `bad PortNumber ${String(n)}`);
  return swap16(v & 0xffff);
}
