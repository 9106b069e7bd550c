/**
 * Every usbmux message of the 207 recorded conversations (macOS usbmuxd ↔ Apple clients) decoded by our
 * client decoder (daemon → client) and server decoder (client → daemon), compared with the index, fed
 * whole, split at every offset (sampled for big streams) and byte by byte; plus the appium and
 * SteveTrewick vectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { UsbmuxReplyDecoder, type UsbmuxReply } from '../../../src/usbmux/codec.ts';
import { UsbmuxRequestDecoder, type UsbmuxRequest } from '../../../src/usbmux/server-codec.ts';
import { UsbmuxFrameDecoder } from '../../../src/usbmux/frame.ts';
import { decodePortNumber, encodePortNumber } from '../../../src/usbmux/port.ts';
import type { PlistValue } from '../../../src/plist/types.ts';
import { bytes, splitAt, splitOffsets } from './split.ts';

interface IndexMsg {
  offset: number;
  length: number;
  version: number;
  type: number;
  tag: number;
  plist: unknown;
}
interface IndexEntry {
  tcp_stream: number;
  c2s_len: number;
  s2c_len: number;
  c2s_sha256: string;
  s2c_sha256: string;
  c2s_usbmux: IndexMsg[];
  s2c_usbmux: IndexMsg[];
  connect_port_host_order?: number;
  c2s_tail_offset?: number;
  s2c_tail_offset?: number;
  c2s_lockdown_plaintext?: { offset: number; length: number }[];
  s2c_lockdown_plaintext?: { offset: number; length: number }[];
}

const skip = skipUnlessCaptures();
const index = skip ? [] : (JSON.parse(readFileSync(capturePath('usbmuxd_debug/derived/midi_usbmux_index.json'), 'utf8')) as { streams: IndexEntry[] }).streams;

function stream(n: number, dir: 'c2s' | 's2c'): Buffer {
  return readFileSync(capturePath('usbmuxd_debug/derived/all-streams', `stream${String(n).padStart(3, '0')}_${dir}.bin`));
}

/** Our plist value in the index's JSON form (data blobs compared by sha256 and length). */
function toIndexJson(v: PlistValue, want: unknown): unknown {
  if (Buffer.isBuffer(v)) {
    const w = want as { $bytes_sha256?: string; len?: number };
    if (w && typeof w === 'object' && w.$bytes_sha256) return { ...w, $bytes_sha256: createHash('sha256').update(v).digest('hex'), len: v.length };
    return v.toString('base64');
  }
  if (Array.isArray(v)) return v.map((x, i) => toIndexJson(x, (want as unknown[] | undefined)?.[i]));
  if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toIndexJson(x as PlistValue, (want as Record<string, unknown> | undefined)?.[k]);
    return o;
  }
  if (typeof v === 'bigint') return Number(v);
  return v;
}

type Decoded = { offset: number; version: number; tag: number; plist: unknown; kind: string };

/** Feeds `chunks` and pulls `count` messages (or all when count is undefined); returns them and the leftover byte count. */
function decodeS2c(chunks: Buffer[], count?: number): { msgs: Decoded[]; leftover: number } {
  const d = new UsbmuxReplyDecoder();
  const msgs: Decoded[] = [];
  for (const c of chunks) {
    d.push(c);
    for (;;) {
      if (count !== undefined && msgs.length === count) break;
      const off = d.offset;
      const r: UsbmuxReply | undefined = d.next();
      if (!r) break;
      msgs.push({ offset: off, version: r.version, tag: r.tag, plist: r.plist, kind: r.kind });
    }
  }
  if (count === undefined) d.end();
  return { msgs, leftover: d.drain().reduce((n, b) => n + b.length, 0) };
}

function decodeC2s(chunks: Buffer[], count?: number): { msgs: Decoded[]; leftover: number } {
  const d = new UsbmuxRequestDecoder();
  const msgs: Decoded[] = [];
  for (const c of chunks) {
    d.push(c);
    for (;;) {
      if (count !== undefined && msgs.length === count) break;
      const off = d.offset;
      const r: UsbmuxRequest | undefined = d.next();
      if (!r) break;
      msgs.push({ offset: off, version: r.version, tag: r.tag, plist: r.kind === 'plist' ? r.plist : undefined, kind: r.kind });
    }
  }
  if (count === undefined) d.end();
  return { msgs, leftover: d.drain().reduce((n, b) => n + b.length, 0) };
}

function check(entry: IndexEntry, dir: 'c2s' | 's2c', buf: Buffer): void {
  const want = entry[`${dir}_usbmux`];
  const tail = entry[`${dir}_tail_offset`];
  const decode = dir === 's2c' ? decodeS2c : decodeC2s;
  // Connect conversations: stop after the usbmux part; everything after the Result is device data.
  const count = tail !== undefined ? want.length : undefined;
  const whole = decode([buf], count);
  const what = `stream ${entry.tcp_stream} ${dir}`;
  assert.equal(whole.msgs.length, want.length, what);
  whole.msgs.forEach((m, i) => {
    const w = want[i]!;
    assert.equal(m.offset, w.offset, `${what} #${i} offset`);
    assert.equal(m.version, w.version, `${what} #${i} version`);
    assert.equal(w.type, 8, `${what} #${i} type`);
    assert.equal(m.tag, w.tag, `${what} #${i} tag`);
    assert.deepEqual(toIndexJson(m.plist as PlistValue, w.plist), w.plist, `${what} #${i} plist`);
  });
  if (tail !== undefined) {
    // After the Connect Result the stream belongs to the device: plaintext lockdown frames (if any), then the
    // TLS/AFC tail. The decoder must stop exactly where the first of them starts and hand every byte over.
    const stop = buf.length - whole.leftover;
    const last = want[want.length - 1]!;
    assert.equal(stop, last.offset + last.length, what);
    const lockdown = entry[`${dir}_lockdown_plaintext`] ?? [];
    if (lockdown.length > 0) {
      assert.equal(lockdown[0]!.offset, stop, `${what}: first lockdown frame starts where usbmux stops`);
      assert.equal(buf.readUInt32BE(stop), lockdown[0]!.length, `${what}: handed-over bytes start with the lockdown length prefix`);
    } else {
      assert.equal(stop, tail, `${what}: decoding must stop exactly at the tail offset`);
    }
  } else assert.equal(whole.leftover, 0, what);
  const ref = JSON.stringify(whole.msgs, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  // Split feeding: the usbmux part (+ some device bytes for Connect streams). The framing (the incremental
  // part) is checked at every 2-way split (sampled above 4 KiB); the full decoders incl. plist parsing at
  // sampled splits and byte by byte.
  const part = tail !== undefined ? buf.subarray(0, Math.min(buf.length, tail + 64)) : buf;
  const expectLeft = whole.leftover - (buf.length - part.length);
  const refFrames = frames([part], count);
  for (const at of splitOffsets(part.length)) {
    const r = frames(splitAt(part, at), count);
    assert.equal(r.leftover, refFrames.leftover, `${what} frames split at ${at}`);
    assert.equal(r.frames.length, refFrames.frames.length, `${what} frames split at ${at}`);
    r.frames.forEach((f, i) => {
      const g = refFrames.frames[i]!;
      assert.ok(f.head === g.head && f.payload.equals(g.payload), `${what} frame ${i} split at ${at}`);
    });
  }
  for (const at of splitOffsets(part.length, 0, 12)) {
    const r = decode(splitAt(part, at), count);
    assert.equal(r.leftover, expectLeft, `${what} split at ${at}`);
    assert.equal(JSON.stringify(r.msgs, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), ref, `${what} split at ${at}`);
  }
  const drip = decode(bytes(part), count);
  assert.equal(drip.leftover, expectLeft, `${what} byte by byte`);
  assert.equal(JSON.stringify(drip.msgs, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), ref, `${what} byte by byte`);
}

/** Frames only (header fields + payload hex), pulling `count` frames or all. */
function frames(chunks: Buffer[], count?: number): { frames: { head: string; payload: Buffer }[]; leftover: number } {
  const d = new UsbmuxFrameDecoder({ strictVersion: false });
  const out: { head: string; payload: Buffer }[] = [];
  for (const c of chunks) {
    d.push(c);
    while (count === undefined || out.length < count) {
      const f = d.next();
      if (!f) break;
      out.push({ head: `${f.offset}/${f.header.length}/${f.header.version}/${f.header.message}/${f.header.tag}`, payload: f.payload });
    }
  }
  return { frames: out, leftover: d.drain().reduce((n, b) => n + b.length, 0) };
}

test('all 207 recorded conversations: both directions decode as indexed, whole / split / byte by byte', { skip }, () => {
  assert.equal(index.length, 207);
  let messages = 0;
  for (const e of index) {
    for (const dir of ['c2s', 's2c'] as const) {
      const buf = stream(e.tcp_stream, dir);
      assert.equal(buf.length, e[`${dir}_len`]);
      assert.equal(createHash('sha256').update(buf).digest('hex'), e[`${dir}_sha256`]);
      check(e, dir, buf);
      messages += e[`${dir}_usbmux`].length;
    }
  }
  assert.ok(messages >= 414);
});

test('Connect PortNumber of all 144 Connects (incl. negative int16 values) decodes to the host-order port', { skip }, () => {
  const connects = index.filter((e) => e.connect_port_host_order !== undefined);
  assert.equal(connects.length, 144);
  const negatives = new Set<number>();
  for (const e of connects) {
    const req = decodeC2s([stream(e.tcp_stream, 'c2s')], 1).msgs[0]!;
    const plist = req.plist as { MessageType: string; PortNumber: number };
    assert.equal(plist.MessageType, 'Connect');
    assert.equal(decodePortNumber(plist.PortNumber), e.connect_port_host_order, `stream ${e.tcp_stream}`);
    assert.equal(decodePortNumber(encodePortNumber(e.connect_port_host_order!)), e.connect_port_host_order);
    assert.equal(encodePortNumber(e.connect_port_host_order!), plist.PortNumber & 0xffff);
    if (plist.PortNumber < 0) negatives.add(plist.PortNumber);
  }
  assert.deepEqual([...negatives].sort((a, b) => a - b), [-27408, -23824, -23568, -19728]);
});

test('appium vectors: DeviceList (40-hex UDID), Connect Result, Result coalesced with lockdown, binary pair record', { skip }, () => {
  const read = (f: string): Buffer => readFileSync(capturePath('appium-ios-device', f));
  for (const f of ['usbmuxlistdevicemessage.bin', 'usbmuxlistdevicemessage2.bin']) {
    const r = decodeS2c([read(f)]);
    assert.equal(r.msgs.length, 1);
    assert.equal(r.msgs[0]!.kind, 'plist');
    const list = (r.msgs[0]!.plist as { DeviceList: { DeviceID: number; Properties: { SerialNumber: string } }[] }).DeviceList;
    assert.ok(list.length >= 1);
    assert.match(list[0]!.Properties.SerialNumber, /^[0-9a-f]{40}$/);
  }
  const c = decodeS2c([read('usbmuxconnectmessage.bin')]);
  assert.deepEqual(c.msgs.map((m) => [m.kind, m.plist]), [['result', { MessageType: 'Result', Number: 0 }]]);
  const both = read('usbmuxconnectandlockdown.bin');
  for (const at of splitOffsets(both.length)) {
    const r = decodeS2c(splitAt(both, at), 1);
    assert.equal(r.msgs[0]!.kind, 'result');
    assert.equal(r.leftover, both.length - 294, `split at ${at}`);
  }
  const pair = decodeS2c([read('usbmuxreadpairmessage.bin')]).msgs[0]!.plist as { PairRecordData: Buffer };
  assert.equal(pair.PairRecordData.subarray(0, 8).toString('latin1'), 'bplist00');
});

test('SteveTrewick vectors: DeviceList, Listen Result, Attached, Detached (events with tag 0)', { skip }, () => {
  const read = (f: string): Buffer => readFileSync(capturePath('SteveTrewick-USBmuxd', f));
  const list = decodeS2c([read('listdevices_response.bin')]).msgs[0]!;
  assert.equal(list.kind, 'plist');
  assert.equal((list.plist as { DeviceList: { DeviceID: number }[] }).DeviceList[0]!.DeviceID, 38);
  assert.equal(decodeS2c([read('listen_result.bin')]).msgs[0]!.kind, 'result');
  const att = new UsbmuxReplyDecoder();
  att.push(read('attached_notification.bin'));
  const a = att.next()!;
  assert.equal(a.kind, 'attached');
  assert.equal(a.tag, 0);
  if (a.kind === 'attached') {
    assert.equal(a.device.deviceId, 38);
    assert.equal(a.device.connectionType, 'USB');
    assert.match(a.device.udid, /^[0-9A-F]{8}-[0-9A-F]{16}$/);
  }
  const det = new UsbmuxReplyDecoder();
  det.push(read('detached_notification.bin'));
  const d = det.next()!;
  assert.equal(d.kind, 'detached');
  assert.equal(d.kind === 'detached' && d.deviceId, 38);
  // The client-generated ListDevices request decodes on the server side.
  const req = new UsbmuxRequestDecoder();
  req.push(read('listdevices_request_client_generated.bin'));
  const q = req.next()!;
  assert.equal(q.kind === 'plist' && q.messageType, 'ListDevices');
  assert.equal(q.tag, 0xdeadbeef);
  assert.equal(new UsbmuxFrameDecoder().buffered, 0);
});
