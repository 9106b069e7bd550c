/**
 * Synthetic IPv4 + TCP packets for recordings (pure). Each usbmux client connection becomes one TCP connection
 * 127.0.0.1:<client port> → 127.0.0.1:27015 with a proper handshake, sequence/ack numbers and checksums, so
 * Wireshark and our own reassembly read it as ordinary TCP.
 */

/** Largest TCP payload per synthetic packet (IPv4 total length ≤ 65535). */
export const MAX_SEGMENT = 65535 - 40;

import type { TcpSegment } from './tcp.ts';

/** The Internet checksum (RFC 1071) over the concatenation of `bufs`, each even-aligned as IPv4/TCP use it. */
export function checksum(bufs: Buffer[]): number {
  let sum = 0;
  for (const b of bufs) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
    if (b.length % 2) sum += b[b.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function addr(a: string): Buffer {
  return Buffer.from(a.split('.').map((x) => Number(x)));
}

/** Fields of one synthetic segment: a {@link TcpSegment} with an optional payload and IPv4 identification (any u16). */
export type SegmentSpec = Omit<TcpSegment, 'payload'> & { payload?: Buffer; id?: number };

/**
 * A raw IPv4 packet (LINKTYPE_RAW) holding one TCP segment (≤ {@link MAX_SEGMENT} payload bytes; the caller splits).
 */
export function ipv4TcpPacket(s: SegmentSpec): Buffer {
  const payload = s.payload ?? Buffer.alloc(0);
  const ip = Buffer.alloc(20);
  const tcp = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + payload.length, 2);
  ip.writeUInt16BE((s.id ?? 0) & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  addr(s.src).copy(ip, 12);
  addr(s.dst).copy(ip, 16);
  ip.writeUInt16BE(checksum([ip]), 10);
  tcp.writeUInt16BE(s.srcPort, 0);
  tcp.writeUInt16BE(s.dstPort, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.ack >>> 0, 8);
  tcp[12] = 0x50;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(0xffff, 14);
  const pseudo = Buffer.alloc(12);
  ip.copy(pseudo, 0, 12, 20);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(20 + payload.length, 10);
  tcp.writeUInt16BE(checksum([pseudo, tcp, payload]), 16);
  return Buffer.concat([ip, tcp, payload]);
}
