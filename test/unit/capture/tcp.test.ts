/** TCP reassembly: retransmissions, duplicates, out-of-order segments, gaps, IPv6, Ethernet/VLAN, DLT_NULL, port reuse. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4TcpPacket } from '../../../src/capture/packets.ts';
import { LinkType, type PcapPacket } from '../../../src/capture/pcapng.ts';
import { TcpFlag, chunkAt, parseTcpFrame, reassemble } from '../../../src/capture/tcp.ts';

const A = { src: '10.0.0.1', dst: '10.0.0.2', srcPort: 50000, dstPort: 27015 };
const B = { src: '10.0.0.2', dst: '10.0.0.1', srcPort: 27015, dstPort: 50000 };

function pkts(frames: Buffer[]): PcapPacket[] {
  return frames.map((data, index) => ({ interfaceId: 0, timestampNs: BigInt(index) * 1000n, data, originalLength: data.length, index }));
}

function seg(dir: typeof A, seq: number, ack: number, flags: number, payload?: string): Buffer {
  return ipv4TcpPacket({ ...dir, seq, ack, flags, ...(payload !== undefined ? { payload: Buffer.from(payload) } : {}) });
}

test('tcp: handshake, data both ways, retransmission, duplicate, out-of-order, FIN', () => {
  const frames = [
    seg(A, 1000, 0, TcpFlag.SYN),
    seg(B, 5000, 1001, TcpFlag.SYN | TcpFlag.ACK),
    seg(A, 1001, 5001, TcpFlag.ACK),
    seg(A, 1001, 5001, TcpFlag.ACK | TcpFlag.PSH, 'hello '),
    seg(A, 1011, 5001, TcpFlag.ACK | TcpFlag.PSH, 'wide'), // out of order (after "worl")
    seg(A, 1007, 5001, TcpFlag.ACK | TcpFlag.PSH, 'worl'),
    seg(A, 1001, 5001, TcpFlag.ACK | TcpFlag.PSH, 'hello '), // retransmission
    seg(A, 1005, 5001, TcpFlag.ACK | TcpFlag.PSH, 'o wo'), // overlapping duplicate
    seg(B, 5001, 1015, TcpFlag.ACK | TcpFlag.PSH, 'reply'),
    seg(A, 1015, 5006, TcpFlag.FIN | TcpFlag.ACK),
    seg(B, 5006, 1016, TcpFlag.FIN | TcpFlag.ACK),
  ];
  const [s] = reassemble(pkts(frames), () => LinkType.RAW);
  assert.ok(s);
  assert.equal(s.c2s.data.toString(), 'hello worlwide');
  assert.equal(s.s2c.data.toString(), 'reply');
  assert.deepEqual(s.client, { addr: '10.0.0.1', port: 50000 });
  assert.equal(s.synSeen, true);
  assert.equal(s.c2s.fin && s.s2c.fin, true);
  assert.equal(s.c2s.gaps, 0);
  assert.equal(chunkAt(s.c2s, 0)!.frame, 4);
  assert.equal(chunkAt(s.c2s, 7)!.frame, 6);
  assert.equal(chunkAt(s.c2s, 11)!.frame, 5);
});

test('tcp: a gap that never fills is counted, later bytes are kept', () => {
  const frames = [seg(A, 1, 0, TcpFlag.SYN), seg(A, 2, 0, TcpFlag.ACK, 'ab'), seg(A, 10, 0, TcpFlag.ACK, 'xyz')];
  const [s] = reassemble(pkts(frames), () => LinkType.RAW);
  assert.equal(s!.c2s.gaps, 6);
  assert.equal(s!.c2s.data.toString(), 'abxyz');
});

test('tcp: a new SYN on the same ports starts a new stream (Wireshark numbering); other ports filtered but counted', () => {
  const other = { ...A, srcPort: 40000, dstPort: 80 };
  const frames = [
    seg(A, 100, 0, TcpFlag.SYN), seg(A, 101, 0, TcpFlag.ACK, 'one'), seg(A, 104, 0, TcpFlag.FIN | TcpFlag.ACK),
    seg(other, 7, 0, TcpFlag.SYN),
    seg(A, 9000, 0, TcpFlag.SYN), seg(A, 9001, 0, TcpFlag.ACK, 'two'),
  ];
  const all = reassemble(pkts(frames), () => LinkType.RAW);
  assert.deepEqual(all.map((s) => s.index), [0, 1, 2]);
  const only = reassemble(pkts(frames), () => LinkType.RAW, { port: 27015 });
  assert.deepEqual(only.map((s) => [s.index, s.c2s.data.toString()]), [[0, 'one'], [2, 'two']]);
});

test('tcp: DLT_NULL, Ethernet with a VLAN tag, and IPv6 frames parse to the same segment', () => {
  const ip4 = seg(A, 1, 2, TcpFlag.ACK, 'data');
  const nul = Buffer.concat([Buffer.from([2, 0, 0, 0]), ip4]);
  const eth = Buffer.concat([Buffer.alloc(12), Buffer.from([0x81, 0x00, 0x00, 0x05, 0x08, 0x00]), ip4]);
  for (const [lt, f] of [[LinkType.NULL, nul], [LinkType.ETHERNET, eth], [LinkType.RAW, ip4]] as const) {
    const t = parseTcpFrame(lt, f)!;
    assert.equal(t.payload.toString(), 'data');
    assert.equal(t.srcPort, 50000);
  }
  const v6 = Buffer.alloc(40 + 20 + 3);
  v6[0] = 0x60;
  v6.writeUInt16BE(23, 4);
  v6[6] = 6;
  v6[23] = 1; // ::1
  v6[39] = 1;
  v6.writeUInt16BE(1234, 40);
  v6.writeUInt16BE(27015, 42);
  v6[52] = 0x50;
  v6[53] = TcpFlag.ACK;
  Buffer.from('abc').copy(v6, 60);
  const t6 = parseTcpFrame(LinkType.RAW, v6)!;
  assert.equal(t6.src, '[::1]');
  assert.equal(t6.payload.toString(), 'abc');
  // Non-TCP and short frames are skipped, not errors.
  assert.equal(parseTcpFrame(LinkType.RAW, Buffer.from([0x45, 0])), undefined);
  assert.equal(parseTcpFrame(LinkType.ETHERNET, Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x06])])), undefined);
  assert.throws(() => parseTcpFrame(147, ip4), { code: 'ERR_CAPTURE_UNSUPPORTED' });
});
