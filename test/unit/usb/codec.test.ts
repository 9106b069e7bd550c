import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IDeviceError } from '../../../src/core/errors.ts';
import {
  decodeControlPayload,
  decodeMuxHeader,
  decodeVersionPayload,
  encodeControlPayload,
  encodeVersionPayload,
  MuxProtocol,
} from '../../../src/usb/header.ts';
import { decodeMuxPacket, encodeMuxPacket, TransferReassembler } from '../../../src/usb/packet.ts';
import { decodeTcpHeader, encodeTcpHeader, seqDiff, TcpFlags, windowField } from '../../../src/usb/tcp.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('VERSION request vector (v1 header, major 2 minor 0)', () => {
  const pkt = encodeMuxPacket(1, { protocol: MuxProtocol.Version }, undefined, encodeVersionPayload(2, 0));
  // protocol 0 | length 20 | major 2 | minor 0 | pad 0 (the bytes the study saw on the wire)
  assert.equal(pkt.toString('hex'), '00000000' + '00000014' + '00000002' + '00000000' + '00000000');
  const p = decodeMuxPacket(pkt, 1);
  assert.deepEqual(decodeVersionPayload(p.payload), { major: 2, minor: 0 });
});

test('SETUP vector (v2 header, tx 0, rx 0xffff, payload 07)', () => {
  const pkt = encodeMuxPacket(2, { protocol: MuxProtocol.Setup, txSeq: 0, rxSeq: 0xffff }, undefined, Buffer.from([7]));
  assert.equal(pkt.toString('hex'), '00000002' + '00000011' + 'feedface' + '0000' + 'ffff' + '07');
  const h = decodeMuxHeader(pkt, 2);
  assert.deepEqual(h, { protocol: 2, length: 17, txSeq: 0, rxSeq: 0xffff });
});

test('TCP SYN to lockdown 62078 vector', () => {
  const tcp = { sport: 1, dport: 62078, seq: 0, ack: 0, flags: TcpFlags.SYN, window: windowField(131072) };
  const pkt = encodeMuxPacket(2, { protocol: MuxProtocol.Tcp, txSeq: 1, rxSeq: 0 }, tcp, undefined);
  assert.equal(
    pkt.toString('hex'),
    '00000006 00000024 feedface 0001 0000'.replace(/ /g, '') +
      // sport 1 | dport 0xf27e | seq 0 | ack 0 | 0x50 | SYN | window 512 | csum 0 | urg 0
      '0001 f27e 00000000 00000000 50 02 0200 0000 0000'.replace(/ /g, ''),
  );
  const p = decodeMuxPacket(pkt, 2);
  assert.deepEqual(p.tcp, tcp);
  assert.equal(p.payload.length, 0);
  assert.deepEqual(decodeTcpHeader(encodeTcpHeader(tcp)).header, tcp);
});

test('TCP data round trip in v1 and v2', () => {
  for (const v of [1, 2] as const) {
    const tcp = { sport: 62078, dport: 3, seq: 0xfffffff0, ack: 12345, flags: TcpFlags.ACK, window: 512 };
    const payload = Buffer.from('hello mux');
    const p = decodeMuxPacket(encodeMuxPacket(v, { protocol: 6, txSeq: 9, rxSeq: 8 }, tcp, payload), v);
    assert.deepEqual(p.tcp, tcp);
    assert.equal(p.payload.toString(), 'hello mux');
  }
});

test('CONTROL payload decodes type and text', () => {
  const c = decodeControlPayload(Buffer.concat([hex('03'), Buffer.from('too large\0')]));
  assert.deepEqual(c, { type: 3, level: 'error', text: 'too large' });
  assert.equal(decodeControlPayload(encodeControlPayload(7, 'hi')).level, 'info');
  assert.equal(decodeControlPayload(encodeControlPayload(9, 'x')).level, 'unknown');
});

test('seqDiff wraps', () => {
  assert.equal(seqDiff(5, 0xfffffffb), 10);
  assert.equal(seqDiff(0xfffffffb, 5), -10);
});

const hostile: [string, () => unknown, string][] = [
  ['bad v2 magic', () => decodeMuxHeader(hex('00000006 00000010 deadbeef 0000 0000'), 2), 'ERR_PROTOCOL'],
  ['length shorter than header', () => decodeMuxHeader(hex('00000006 00000004'), 1), 'ERR_PROTOCOL'],
  ['length over the cap', () => decodeMuxHeader(hex('00000006 00010000 feedface 0000 0000'), 2), 'ERR_PROTOCOL_TOO_LARGE'],
  ['truncated header', () => decodeMuxHeader(hex('000000'), 1), 'ERR_PROTOCOL'],
  ['length disagrees with transfer', () => decodeMuxPacket(hex('00000000 00000020 00000002'), 1), 'ERR_PROTOCOL'],
  ['TCP header truncated', () => decodeMuxPacket(hex('00000006 0000000c 00010002'), 1), 'ERR_PROTOCOL'],
  ['TCP data offset too small', () => decodeTcpHeader(Buffer.alloc(20)), 'ERR_PROTOCOL'],
  ['TCP data offset beyond buffer', () => decodeTcpHeader(Buffer.concat([Buffer.alloc(12), hex('f0'), Buffer.alloc(7)])), 'ERR_PROTOCOL'],
  ['short VERSION payload', () => decodeVersionPayload(hex('0000')), 'ERR_PROTOCOL'],
  ['empty CONTROL payload', () => decodeControlPayload(Buffer.alloc(0)), 'ERR_PROTOCOL'],
  ['encode over the cap', () => encodeMuxPacket(2, { protocol: 6 }, undefined, Buffer.alloc(65536)), 'ERR_PROTOCOL_TOO_LARGE'],
];
for (const [name, fn, code] of hostile) {
  test(`hostile: ${name} → ${code}`, () => {
    assert.throws(fn, (e: unknown) => e instanceof IDeviceError && e.code === code);
  });
}

test('reassembler: packet split over 16 KiB completions, ZLPs ignored', () => {
  const payload = Buffer.alloc(40000, 0xab);
  const pkt = encodeMuxPacket(2, { protocol: 6 }, { sport: 1, dport: 2, seq: 0, ack: 0, flags: 0x10, window: 512 }, payload);
  const r = new TransferReassembler({ transferSize: 16384 });
  assert.equal(r.push(pkt.subarray(0, 16384)), undefined);
  assert.equal(r.push(Buffer.alloc(0)), undefined);
  assert.equal(r.push(pkt.subarray(16384, 32768)), undefined);
  const out = r.push(pkt.subarray(32768));
  assert.ok(out && out.equals(pkt));
  assert.equal(r.buffered, 0);
});

test('reassembler: mismatches are protocol errors', () => {
  const pkt = encodeMuxPacket(1, { protocol: 6 }, undefined, Buffer.alloc(30000));
  const r = new TransferReassembler({ transferSize: 16384 });
  // a short completion in the middle of a packet
  assert.throws(() => r.push(pkt.subarray(0, 10000)), { code: 'ERR_PROTOCOL' });
  // two packets merged into one completion (missing ZLP)
  const a = encodeMuxPacket(1, { protocol: 1 }, undefined, Buffer.from([7, 65]));
  assert.throws(() => r.push(Buffer.concat([a, a])), { code: 'ERR_PROTOCOL' });
  assert.throws(() => r.push(hex('00000006 00020000')), { code: 'ERR_PROTOCOL_TOO_LARGE' });
  // usable after errors
  assert.ok(r.push(a)?.equals(a));
});

test('property: random completions either decode or throw IDeviceError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.constantFrom(1, 2), (chunks, v) => {
      const r = new TransferReassembler({ transferSize: 64 });
      for (const c of chunks) {
        try {
          const pkt = r.push(Buffer.from(c));
          if (pkt) decodeMuxPacket(pkt, v as 1 | 2);
        } catch (e) {
          if (!(e instanceof IDeviceError)) throw e;
        }
      }
    }),
    { numRuns: 2000 },
  );
});
