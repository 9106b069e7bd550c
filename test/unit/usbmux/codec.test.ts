import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IDeviceError } from '../../../src/core/errors.ts';
import { UsbmuxReplyDecoder, encodeBinaryConnect, encodeBinaryListen, encodeConnectRequest } from '../../../src/usbmux/codec.ts';
import {
  UsbmuxRequestDecoder,
  encodeAttached,
  encodeDetached,
  encodeDeviceList,
  encodePaired,
  encodeResult,
} from '../../../src/usbmux/server-codec.ts';
import { encodeHeader, MessageType } from '../../../src/usbmux/protocol.ts';
import { UsbmuxFrameDecoder } from '../../../src/usbmux/frame.ts';
import { parseSockaddr } from '../../../src/usbmux/device.ts';
import { dashedUdid, sameUdid } from '../../../src/core/udid.ts';
import { decodePortNumber, encodePortNumber } from '../../../src/usbmux/port.ts';
import { encodeXmlPlist } from '../../../src/plist/index.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { bytes, splitAt, splitOffsets } from './split.ts';

const cat = (b: Buffer[]): Buffer => Buffer.concat(b);
const record = {
  deviceId: 7,
  properties: { ConnectionSpeed: 480000000, ConnectionType: 'USB', DeviceID: 7, LocationID: 0x00210003, ProductID: 0x12a8, SerialNumber: '00008020-001134490E50003A' },
};

function allFrames(chunks: Buffer[]): string[] {
  const d = new UsbmuxFrameDecoder();
  const out: string[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f; f = d.next()) out.push(`${f.offset}:${f.header.tag}:${f.payload.toString('hex')}`);
  }
  d.end();
  return out;
}

function decodeAll(d: UsbmuxReplyDecoder | UsbmuxRequestDecoder, chunks: Buffer[]): unknown[] {
  const out: unknown[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let m = d.next(); m; m = d.next()) out.push(m);
  }
  d.end();
  return out;
}

test('binary v0 vectors: RESULT bytes as usbmuxd sends them', () => {
  // 14000000 length 20 | 00000000 version 0 | 01000000 RESULT | 07000000 tag | 02000000 BADDEV
  assert.equal(cat(encodeResult('binary', 7, 2)).toString('hex'), '1400000000000000010000000700000002000000');
  // binary Listen as libusbmuxd sends it after Result 6: 10000000 00000000 03000000 03000000
  assert.equal(encodeBinaryListen(3).toString('hex'), '10000000000000000300000003000000');
  // binary Connect: u32 device 5, u16 port 62078 in network order (f27e), u16 0
  assert.equal(encodeBinaryConnect(4, 5, 62078).toString('hex'), '18000000000000000200000004000000' + '05000000f27e0000');
});

test('server codec → client codec round trip, v0 and v1, every split and byte by byte', () => {
  for (const proto of ['binary', 'plist'] as const) {
    const wire = cat([
      ...encodeResult(proto, 1, 0),
      ...encodeAttached(proto, 0, record),
      ...encodeDetached(proto, 0, 7),
      ...encodePaired(proto, 0, 7),
      ...encodeResult(proto, 9, 22),
    ]);
    const ref = decodeAll(new UsbmuxReplyDecoder(), [wire]) as { kind: string; tag: number }[];
    assert.deepEqual(ref.map((r) => [r.kind, r.tag]), [['result', 1], ['attached', 0], ['detached', 0], ['paired', 0], ['result', 9]]);
    const att = ref[1] as unknown as { device: { deviceId: number; udid: string; productId: number; locationId: number } };
    assert.equal(att.device.deviceId, 7);
    assert.equal(att.device.udid, '00008020-001134490E50003A');
    assert.equal(att.device.productId, 0x12a8);
    assert.equal(att.device.locationId, 0x00210003);
    if (proto === 'binary') assert.equal(encodeAttached(proto, 0, record)[1]!.length, 268);
    const refJson = JSON.stringify(ref);
    // framing at every split; full decoding (plist parsing) at sampled splits and byte by byte
    const refFrames = allFrames([wire]);
    for (const at of splitOffsets(wire.length)) assert.deepEqual(allFrames(splitAt(wire, at)), refFrames);
    for (const at of splitOffsets(wire.length, 0, 24)) assert.equal(JSON.stringify(decodeAll(new UsbmuxReplyDecoder(), splitAt(wire, at))), refJson);
    assert.equal(JSON.stringify(decodeAll(new UsbmuxReplyDecoder(), bytes(wire))), refJson);
  }
  const list = new UsbmuxReplyDecoder();
  list.push(cat(encodeDeviceList(3, [record])));
  const l = list.next()!;
  assert.equal(l.kind, 'plist');
  assert.equal(l.plist && 'MessageType' in l.plist, false, 'DeviceList reply carries no MessageType');
});

test('client requests → server decoder: plist, binary Connect/Listen, plist under header version 0', () => {
  const d = new UsbmuxRequestDecoder();
  const xml = encodeXmlPlist({ MessageType: 'ReadBUID' });
  const wire = cat([
    ...encodeConnectRequest(1, 3, 62078),
    encodeBinaryConnect(2, 3, 61602),
    encodeBinaryListen(3),
    encodeHeader(xml.length, 0, MessageType.Plist, 4),
    xml,
    encodeHeader(0, 2, MessageType.Listen, 5),
    encodeHeader(0, 0, 77, 6),
  ]);
  const reqs = decodeAll(d, bytes(wire)) as Record<string, unknown>[];
  assert.equal(reqs[0]!.kind, 'plist');
  assert.equal((reqs[0]!.plist as { PortNumber: number }).PortNumber, 32498);
  assert.deepEqual(reqs.slice(1).map((r) => [r.kind, r.tag, r.version]), [['connect', 2, 0], ['listen', 3, 0], ['plist', 4, 0], ['badVersion', 5, 2], ['unknown', 6, 0]]);
  assert.equal(reqs[1]!.port, 61602);
  assert.equal(reqs[1]!.deviceId, 3);
});

function rejectsWith(chunks: Buffer[], code: string, dec: () => UsbmuxReplyDecoder | UsbmuxRequestDecoder = () => new UsbmuxReplyDecoder()): void {
  assert.throws(
    () => decodeAll(dec(), chunks),
    (e: unknown) => e instanceof IDeviceError && e.code === code,
    code,
  );
}

test('hostile input: typed errors with stable codes', () => {
  const plistBody = encodeXmlPlist({ MessageType: 'Result', Number: 0 });
  // short header at EOF, EOF mid-body
  rejectsWith([Buffer.from('1400000000', 'hex')], 'ERR_PROTOCOL');
  rejectsWith([encodeHeader(plistBody.length, 1, 8, 1), plistBody.subarray(0, 10)], 'ERR_PROTOCOL');
  // length < 16, length > cap (rejected from the header alone)
  rejectsWith([Buffer.from('0f000000010000000800000001000000', 'hex')], 'ERR_PROTOCOL');
  rejectsWith([Buffer.from('00000000010000000800000001000000', 'hex')], 'ERR_PROTOCOL');
  rejectsWith([Buffer.from('ffffffff010000000800000001000000', 'hex')], 'ERR_PROTOCOL_TOO_LARGE');
  rejectsWith([Buffer.from('ffffffff010000000800000001000000', 'hex')], 'ERR_PROTOCOL_TOO_LARGE', () => new UsbmuxRequestDecoder());
  // unknown version (client side)
  rejectsWith([encodeHeader(4, 2, 1, 1), Buffer.alloc(4)], 'ERR_USBMUX_HEADER_VERSION');
  // non-plist body, plist that is not a dict, unexpected MessageType, Result without Number
  rejectsWith([encodeHeader(5, 1, 8, 1), Buffer.from('hello')], 'ERR_PROTOCOL');
  const arr = encodeXmlPlist([1, 2]);
  rejectsWith([encodeHeader(arr.length, 1, 8, 1), arr], 'ERR_PROTOCOL');
  for (const body of [{ MessageType: 'Bogus' }, { MessageType: 'Result' }, { MessageType: 'Attached', DeviceID: 1 }, { MessageType: 7 }] as PlistDict[]) {
    const x = encodeXmlPlist(body);
    rejectsWith([encodeHeader(x.length, 1, 8, 1), x], 'ERR_PROTOCOL');
  }
  // binary payload sizes, unexpected message types from the daemon
  rejectsWith([encodeHeader(3, 0, MessageType.Result, 1), Buffer.alloc(3)], 'ERR_PROTOCOL');
  rejectsWith([encodeHeader(10, 0, MessageType.DeviceAdd, 1), Buffer.alloc(10)], 'ERR_PROTOCOL');
  rejectsWith([encodeHeader(0, 0, MessageType.Listen, 1)], 'ERR_PROTOCOL');
  // server side: garbage plist, plist without MessageType, bad binary CONNECT size
  rejectsWith([encodeHeader(5, 1, 8, 1), Buffer.from('hello')], 'ERR_PROTOCOL', () => new UsbmuxRequestDecoder());
  const noType = encodeXmlPlist({ Foo: 1 });
  rejectsWith([encodeHeader(noType.length, 1, 8, 1), noType], 'ERR_PROTOCOL', () => new UsbmuxRequestDecoder());
  rejectsWith([encodeHeader(4, 0, MessageType.Connect, 1), Buffer.alloc(4)], 'ERR_PROTOCOL', () => new UsbmuxRequestDecoder());
});

test('fast-check: random chunks either decode or throw our typed errors (never RangeError/TypeError)', () => {
  const valid = cat([...encodeResult('plist', 1, 0), ...encodeAttached('binary', 0, record), ...encodeResult('binary', 2, 3)]);
  const header = fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 9 }), fc.nat()).map(([len, v, m, t]) => {
    const h = encodeHeader(0, v, m, t);
    h.writeUInt32LE(len, 0); // any length, including < 16
    return h;
  });
  const piece = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), header, fc.constant(valid), fc.constant(valid.subarray(0, 30)));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), (pieces, server) => {
      const d = server ? new UsbmuxRequestDecoder({ maxLength: 1 << 16 }) : new UsbmuxReplyDecoder({ maxLength: 1 << 16 });
      try {
        decodeAll(d, pieces);
      } catch (e) {
        if (!(e instanceof IDeviceError)) throw e;
        assert.match(e.code, /^ERR_(PROTOCOL|PROTOCOL_TOO_LARGE|USBMUX_HEADER_VERSION)$/);
      }
    }),
    { numRuns: 400, seed: 42 },
  );
});

test('PortNumber: byte swap, signed int16 forms, bad values', () => {
  assert.equal(encodePortNumber(62078), 32498);
  assert.equal(encodePortNumber(61528), 22768);
  assert.equal(decodePortNumber(32498), 62078);
  for (const [n, port] of [[-27408, 61588], [-23824, 61602], [-23568, 61603], [-19728, 61618]]) assert.equal(decodePortNumber(n!), port);
  assert.equal(decodePortNumber(65535), 65535);
  for (const bad of [0, 65536, 1.5, -1]) assert.throws(() => encodePortNumber(bad), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
  for (const bad of [65536, -32769, 0.5]) assert.throws(() => decodePortNumber(bad), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_PROTOCOL');
});

test('UDID dash rule and sockaddr parsing', () => {
  assert.equal(dashedUdid('00008020001134490E50003A'), '00008020-001134490E50003A');
  assert.equal(dashedUdid('0123456789abcdef0123456789abcdef01234567'), '0123456789abcdef0123456789abcdef01234567');
  assert.ok(sameUdid('00008020001134490E50003A', '00008020-001134490e50003a'));
  // BSD sockaddr_in (len 16, AF_INET 2, port 62078, 192.168.1.20)
  assert.deepEqual(parseSockaddr(Buffer.from('1002f27ec0a80114' + '00'.repeat(8), 'hex')), { family: 'IPv4', port: 62078, address: '192.168.1.20' });
  // BSD sockaddr_in6 (len 28, AF_INET6 30), fe80::1 scope 4
  const v6 = Buffer.alloc(28);
  v6[0] = 28;
  v6[1] = 30;
  v6.writeUInt16BE(62078, 2);
  v6.writeUInt16BE(0xfe80, 8);
  v6.writeUInt16BE(1, 22);
  v6.writeUInt32LE(4, 24);
  assert.deepEqual(parseSockaddr(v6), { family: 'IPv6', port: 62078, address: 'fe80::1', scopeId: 4 });
  // Linux sockaddr_in (u16 LE family 2)
  assert.deepEqual(parseSockaddr(Buffer.from('0200f27e7f000001' + '00'.repeat(8), 'hex')), { family: 'IPv4', port: 62078, address: '127.0.0.1' });
  assert.equal(parseSockaddr(Buffer.from('ff')), undefined);
});

test('a message trickled in more than 65,536 chunks is refused (ERR_PROTOCOL_TOO_LARGE), not buffered', () => {
  const d = new UsbmuxReplyDecoder();
  d.push(encodeHeader(1 << 20, 1, MessageType.Plist, 1));
  const one = Buffer.alloc(1);
  assert.throws(
    () => {
      for (let i = 0; i < 70_000; i++) d.push(one);
    },
    (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_PROTOCOL_TOO_LARGE',
  );
});
