/**
 * Whole mux packets (pure, no I/O): encoding one packet into one bulk transfer buffer, decoding one packet, and
 * reassembling IN transfers into packets purely by the header's length field.
 *
 * Transfer rules (usbmuxd device.c): one mux packet per bulk transfer. A packet longer than the host's IN transfer
 * size (16 KiB) arrives as full-size completions followed by a short one; every completion must agree with the header
 * ("Incoming packet size mismatch" otherwise). Zero-length completions (ZLPs) carry nothing and are ignored.
 */
import { ProtocolError, TooLargeError } from '../core/errors.ts';
import { decodeMuxHeader, MAX_MUX_PACKET, muxHeaderSize, MuxProtocol, writeMuxHeader } from './header.ts';
import type { MuxHeader, MuxVersion } from './header.ts';
import { decodeTcpHeader, TCP_HEADER_SIZE, writeTcpHeader } from './tcp.ts';
import type { TcpHeader } from './tcp.ts';

export interface MuxPacket {
  header: MuxHeader;
  /** Present when header.protocol is TCP. */
  tcp?: TcpHeader;
  /** Bytes after the mux header (and after the TCP header for TCP). A view of the packet buffer. */
  payload: Buffer;
}

/**
 * Encodes one mux packet into a single buffer (one bulk transfer). The payload is copied once into the transfer buffer.
 * @throws ERR_PROTOCOL_TOO_LARGE when the packet would exceed `cap` bytes (default {@link MAX_MUX_PACKET}).
 */
export function encodeMuxPacket(
  version: MuxVersion,
  h: { protocol: number; txSeq?: number; rxSeq?: number },
  tcp: TcpHeader | undefined,
  payload: Buffer | undefined,
  cap = MAX_MUX_PACKET,
): Buffer {
  const hs = muxHeaderSize(version);
  const ts = tcp ? TCP_HEADER_SIZE : 0;
  const length = hs + ts + (payload?.length ?? 0);
  if (length > cap) throw new TooLargeError('usb', length, cap);
  const out = Buffer.allocUnsafe(length);
  writeMuxHeader(out, 0, version, { protocol: h.protocol, length, txSeq: h.txSeq ?? 0, rxSeq: h.rxSeq ?? 0 });
  if (tcp) writeTcpHeader(out, hs, tcp);
  if (payload) payload.copy(out, hs + ts);
  return out;
}

/**
 * Decodes one complete mux packet.
 * @throws ERR_PROTOCOL on bad magic, a length that disagrees with the buffer, or a truncated TCP header;
 *   ERR_PROTOCOL_TOO_LARGE when the header length exceeds `cap`.
 */
export function decodeMuxPacket(buf: Buffer, version: MuxVersion, cap = MAX_MUX_PACKET): MuxPacket {
  const header = decodeMuxHeader(buf, version, cap);
  if (header.length !== buf.length) {
    throw new ProtocolError('usb', `mux packet size mismatch: header says ${header.length}, transfer has ${buf.length}`, 4);
  }
  const hs = muxHeaderSize(version);
  if (header.protocol === MuxProtocol.Tcp) {
    const { header: tcp, size } = decodeTcpHeader(buf.subarray(hs));
    return { header, tcp, payload: buf.subarray(hs + size) };
  }
  return { header, payload: buf.subarray(hs) };
}

/**
 * Reassembles bulk transfer completions into whole mux packets by the header length (cap 65535 by default). Holds at
 * most one partial packet. With `transferSize`, a packet may only continue after a completion of exactly that size.
 */
export class TransferReassembler {
  readonly #cap: number;
  readonly #transferSize: number | undefined;
  #parts: Buffer[] = [];
  #have = 0;
  #want = 0;

  constructor(opts: { cap?: number; transferSize?: number } = {}) {
    this.#cap = opts.cap ?? MAX_MUX_PACKET;
    this.#transferSize = opts.transferSize;
  }

  /** Bytes of a partial packet currently held. */
  get buffered(): number {
    return this.#have;
  }

  /**
   * Feeds one transfer completion; returns the packet it completes, or undefined.
   * @throws ERR_PROTOCOL when the completion disagrees with the header length (or is shorter than 8 bytes at a packet
   *   start); ERR_PROTOCOL_TOO_LARGE when the header length exceeds the cap. The reassembler is reset after a throw.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (chunk.length === 0) return undefined;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  #push(chunk: Buffer): Buffer | undefined {
    const full = this.#transferSize !== undefined && chunk.length === this.#transferSize;
    if (this.#want === 0) {
      if (chunk.length < 8) throw new ProtocolError('usb', `transfer of ${chunk.length} bytes cannot hold a mux header`, 0);
      const length = chunk.readUInt32BE(4);
      if (length > this.#cap) throw new TooLargeError('usb', length, this.#cap);
      if (length < 8) throw new ProtocolError('usb', `mux length ${length} shorter than a header`, 4);
      if (length === chunk.length) return chunk;
      if (length < chunk.length || (this.#transferSize !== undefined && !full)) {
        throw new ProtocolError('usb', `incoming packet size mismatch: header ${length}, transfer ${chunk.length}`, 4);
      }
      this.#parts = [chunk];
      this.#have = chunk.length;
      this.#want = length;
      return undefined;
    }
    this.#parts.push(chunk);
    this.#have += chunk.length;
    if (this.#have === this.#want) {
      const packet = Buffer.concat(this.#parts, this.#have);
      this.reset();
      return packet;
    }
    if (this.#have > this.#want || (this.#transferSize !== undefined && !full)) {
      throw new ProtocolError('usb', `incoming packet size mismatch: header ${this.#want}, got ${this.#have}`, 0);
    }
    return undefined;
  }

  /** Drops a partial packet. */
  reset(): void {
    this.#parts = [];
    this.#have = 0;
    this.#want = 0;
  }
}
