import { ProtocolError, type Layer } from './errors.ts';

/** Largest integer a u64 field may hold here: 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
export const U64_MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Reads a little-endian u64 as a number; throws ERR_PROTOCOL when the value exceeds 2^53 - 1
 * (the high word never gets silently dropped).
 */
export function readU64LE(buf: Buffer, offset: number, layer: Layer = 'core'): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi > 0x1fffff) throw new ProtocolError(layer, `u64 value above 2^53 (high word 0x${hi.toString(16)})`, offset);
  return hi * 0x1_0000_0000 + lo;
}

/** Reads a little-endian i64 as a number; throws ERR_PROTOCOL outside ±(2^53 - 1). */
export function readI64LE(buf: Buffer, offset: number, layer: Layer = 'core'): number {
  const v = buf.readBigInt64LE(offset);
  if (v > BigInt(U64_MAX_SAFE) || v < -BigInt(U64_MAX_SAFE)) throw new ProtocolError(layer, 'i64 value out of the safe range', offset);
  return Number(v);
}

/** Writes a number as a little-endian u64; throws RangeError-free ERR_PROTOCOL for bad values. */
export function writeU64LE(buf: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProtocolError('core', `not a u64 value: ${value}`);
  buf.writeUInt32LE(value >>> 0, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** Writes a number as a little-endian i64. */
export function writeI64LE(buf: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value)) throw new ProtocolError('core', `not an i64 value: ${value}`);
  buf.writeBigInt64LE(BigInt(value), offset);
}
