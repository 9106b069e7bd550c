/**
 * Crafted pcapng captures for decoder limits, written with the project's own PcapngWriter: a usbmux-looking
 * connection whose client direction is a usbmux header followed by `gaps` segments that each leave a hole that is
 * never filled (a hostile or badly lossy capture), and one connection carrying arbitrary bytes each way.
 */
import { PcapngWriter } from '../../src/capture/pcapng.ts';
import { MAX_SEGMENT, ipv4TcpPacket } from '../../src/capture/packets.ts';
import { TcpFlag } from '../../src/capture/tcp.ts';

/** Options of {@link gapCapture}. */
export interface GapCaptureOptions {
  /** Number of segments that each follow a never-filled hole. */
  gaps: number;
  /** Payload bytes of each such segment (default 1). */
  payload?: number;
  /** Missing bytes before each segment (default 1). */
  hole?: number;
  /** Emit the gap segments in reverse sequence order (worst case for naive ordering). */
  reverse?: boolean;
}

/** A whole capture file (SHB + IDB + EPBs, raw IPv4). */
export function gapCapture(o: GapCaptureOptions): Buffer {
  const w = new PcapngWriter();
  const C = { src: '127.0.0.1', dst: '127.0.0.1', srcPort: 50123, dstPort: 27015 };
  const S = { src: C.dst, dst: C.src, srcPort: C.dstPort, dstPort: C.srcPort };
  const isn = 1000;
  const parts: Buffer[] = [w.header()];
  let t = 1_700_000_000_000_000_000n;
  const put = (b: Buffer): void => void parts.push(w.packet((t += 1000n), b));
  put(ipv4TcpPacket({ ...C, seq: isn, ack: 0, flags: TcpFlag.SYN }));
  put(ipv4TcpPacket({ ...S, seq: 9000, ack: isn + 1, flags: TcpFlag.SYN | TcpFlag.ACK }));
  // usbmux v1 plist header (length 16 + body that never arrives in order)
  const head = Buffer.alloc(16);
  head.writeUInt32LE(0x7fff, 0);
  head.writeUInt32LE(1, 4);
  head.writeUInt32LE(8, 8);
  head.writeUInt32LE(1, 12);
  put(ipv4TcpPacket({ ...C, seq: isn + 1, ack: 9001, flags: TcpFlag.ACK | TcpFlag.PSH, payload: head }));
  const size = o.payload ?? 1;
  const hole = o.hole ?? 1;
  const order = Array.from({ length: o.gaps }, (_, i) => (o.reverse ? o.gaps - 1 - i : i));
  const body = Buffer.alloc(size, 0x41);
  for (const i of order) {
    const seq = isn + 1 + 16 + hole + i * (size + hole);
    put(ipv4TcpPacket({ ...C, seq: seq >>> 0, ack: 9001, flags: TcpFlag.ACK | TcpFlag.PSH, payload: body }));
  }
  return Buffer.concat(parts);
}

/** One TCP connection (handshake, `c2s` then `s2c` in order in full-size segments, FIN both ways) as a capture. */
export function streamCapture(c2s: Buffer, s2c: Buffer): Buffer {
  const w = new PcapngWriter();
  const C = { src: '127.0.0.1', dst: '127.0.0.1', srcPort: 50124, dstPort: 27015 };
  const S = { src: C.dst, dst: C.src, srcPort: C.dstPort, dstPort: C.srcPort };
  const parts: Buffer[] = [w.header()];
  let t = 1_700_000_000_000_000_000n;
  const put = (b: Buffer): void => void parts.push(w.packet((t += 1000n), b));
  let cs = 100;
  let ss = 7000;
  put(ipv4TcpPacket({ ...C, seq: cs++, ack: 0, flags: TcpFlag.SYN }));
  put(ipv4TcpPacket({ ...S, seq: ss++, ack: cs, flags: TcpFlag.SYN | TcpFlag.ACK }));
  for (const [dir, data] of [[C, c2s], [S, s2c]] as const) {
    for (let o = 0; o < data.length; o += MAX_SEGMENT) {
      const payload = data.subarray(o, o + MAX_SEGMENT);
      const seq = dir === C ? cs : ss;
      put(ipv4TcpPacket({ ...dir, seq, ack: dir === C ? ss : cs, flags: TcpFlag.ACK | TcpFlag.PSH, payload }));
      if (dir === C) cs = (cs + payload.length) >>> 0;
      else ss = (ss + payload.length) >>> 0;
    }
  }
  put(ipv4TcpPacket({ ...C, seq: cs, ack: ss, flags: TcpFlag.FIN | TcpFlag.ACK }));
  put(ipv4TcpPacket({ ...S, seq: ss, ack: cs + 1, flags: TcpFlag.FIN | TcpFlag.ACK }));
  return Buffer.concat(parts);
}
