/**
 * TCP reassembly: retransmissions, duplicates, out-of-order segments, gaps, IPv6, Ethernet/VLAN, DLT_NULL, port reuse,
 * the backlog caps and crafted captures with many never-filled gaps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { ipv4TcpPacket } from '../../../src/capture/packets.ts';
import { LinkType, type PcapPacket } from '../../../src/capture/pcapng.ts';
import { MAX_PENDING, MAX_PENDING_SEGMENTS, TcpFlag, chunkAt, parseTcpFrame, reassemble } from '../../../src/capture/tcp.ts';
import { readPcapng } from '../../../src/capture/pcapng.ts';
import { decodeCapture } from '../../../src/capture/decode.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { mulberry32 } from '../../../src/core/prng.ts';
import decodeCommand from '../../../src/cli/commands/decode.ts';
import { gapCapture } from '../../support/crafted-captures.ts';

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
  // chunk offsets are offsets in the received bytes: byte 2 ('x') came in frame 3
  assert.equal(chunkAt(s!.c2s, 2)!.frame, 3);
  assert.equal(chunkAt(s!.c2s, 1)!.frame, 2);
  assert.equal(chunkAt(s!.c2s, 5), undefined);
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

test('tcp: 130k never-filled gaps end in ERR_CAPTURE_TOO_LARGE (segment cap), through decode and the CLI, not ERR_INTERNAL', async () => {
  const cap = gapCapture({ gaps: 130_000 });
  assert.throws(() => decodeCapture(cap), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_CAPTURE_TOO_LARGE' && /out-of-order segments/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'h12a-gaps-'));
  try {
    const file = join(dir, 'gaps.pcapng');
    writeFileSync(file, cap);
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
    await assert.rejects(decodeCommand.run([file], io), { code: 'ERR_CAPTURE_TOO_LARGE' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tcp: a 1.5 MB capture with 20k gaps (in order and reversed) reassembles every received byte and counts every gap', () => {
  for (const reverse of [false, true]) {
    const cap = gapCapture({ gaps: 20_000, payload: 4, reverse });
    assert.ok(cap.length > 1_500_000 && cap.length < 1_600_000);
    const pc = readPcapng(cap);
    const [s] = reassemble(pc.packets, () => LinkType.RAW);
    assert.equal(s!.c2s.gaps, 20_000);
    assert.equal(s!.c2s.data.length, 16 + 20_000 * 4);
    assert.ok(s!.c2s.data.subarray(16).every((b) => b === 0x41));
    // offsets of received bytes stay in stream order whatever the arrival order
    assert.equal(s!.c2s.chunks.length, 20_001);
    for (let i = 1; i < s!.c2s.chunks.length; i++) assert.equal(s!.c2s.chunks[i]!.offset, s!.c2s.chunks[i - 1]!.offset + s!.c2s.chunks[i - 1]!.length);
    const d = decodeCapture(cap);
    assert.ok(d.streams[0]!.events.some((e) => e.layer === 'note' && e.kind === 'gap' && /20000 bytes missing/.test(e.note)));
  }
});

test('tcp: the pending-segment and pending-byte caps are typed errors naming the stream and direction', () => {
  const frames = [seg(A, 0, 0, TcpFlag.SYN)];
  for (let i = 0; i <= MAX_PENDING_SEGMENTS; i++) frames.push(seg(A, 10 + 2 * i, 0, TcpFlag.ACK, 'x'));
  assert.throws(() => reassemble(pkts(frames), () => LinkType.RAW), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_CAPTURE_TOO_LARGE' && /stream 0 client → server/.test(e.message));
  // exactly at the cap still reassembles
  assert.equal(reassemble(pkts(frames.slice(0, -1)), () => LinkType.RAW)[0]!.c2s.gaps, MAX_PENDING_SEGMENTS + 8); // 9 before the first, 1 between each
  const big = Buffer.alloc(60_000, 1);
  const bytes = [ipv4TcpPacket({ ...B, seq: 0, ack: 0, flags: TcpFlag.SYN | TcpFlag.ACK })];
  for (let i = 0; i * big.length <= MAX_PENDING; i++) bytes.push(ipv4TcpPacket({ ...B, seq: 10 + i * big.length, ack: 0, flags: TcpFlag.ACK, payload: big }));
  assert.throws(() => reassemble(pkts(bytes), () => LinkType.RAW), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_CAPTURE_TOO_LARGE' && /stream 0 server → client.*bytes/.test(e.message));
});

test('tcp: property: any arrival order, duplicates and overlaps of a stream reassemble to the stream (heap ordering)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.tuple(fc.nat(299), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 60 }), fc.integer(), fc.integer({ min: 0, max: 0xffffffff }), (bytes, cuts, seed, isn) => {
      const data = Buffer.from(bytes);
      const pieces: [number, number][] = [];
      for (let o = 0; o < data.length; ) {
        const n = Math.min(data.length - o, 1 + (cuts[pieces.length % cuts.length]![1] % 17));
        pieces.push([o, n]);
        o += n;
      }
      for (const [o, n] of cuts) if (o < data.length) pieces.push([o, Math.min(n, data.length - o)]); // overlapping duplicates
      const rnd = mulberry32(seed);
      for (let i = pieces.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
      }
      const frames = [seg(A, isn, 0, TcpFlag.SYN), ...pieces.map(([o, n]) => ipv4TcpPacket({ ...A, seq: (isn + 1 + o) >>> 0, ack: 0, flags: TcpFlag.ACK, payload: data.subarray(o, o + n) }))];
      const [s] = reassemble(pkts(frames), () => LinkType.RAW);
      assert.equal(s!.c2s.gaps, 0);
      assert.deepEqual(s!.c2s.data, data);
    }),
    { numRuns: 300 },
  );
});
