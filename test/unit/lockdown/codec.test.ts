import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { IDeviceError } from '../../../src/core/errors.ts';
import { encodeLockdownFrame, lockdownBodyFormat, LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import { LOCKDOWN_MAX_FRAME } from '../../../src/lockdown/protocol.ts';
import { encodeBinaryPlist, encodeXmlPlist } from '../../../src/plist/index.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { mulberry32 as rng } from '../../../src/core/prng.ts';


function decodeChunks(chunks: Buffer[], maxFrame?: number): PlistDict[] {
  const d = new LockdownFrameDecoder({ maxFrame });
  const out: PlistDict[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let m = d.next(); m; m = d.next()) out.push(m);
  }
  assert.equal(d.midFrame, false, 'bytes left over');
  return out;
}

function randomSplit(buf: Buffer, rand: () => number, max = 97): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(rand() * max);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function frame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
}

test('encode: u32 BE length + XML body starting exactly with <?xml, round trip', () => {
  const msg = { Label: 'iosdevice', ProtocolVersion: '2', Request: 'GetValue', Key: 'ProductVersion' };
  const [h, b] = encodeLockdownFrame(msg);
  assert.equal(h.length, 4);
  assert.equal(h.readUInt32BE(0), b.length);
  assert.equal(b.subarray(0, 5).toString(), '<?xml');
  assert.deepEqual(decodeChunks([h, b]), [msg]);
});

test('binary plist bodies are accepted (bplist00)', () => {
  const msg = { Request: 'QueryType' };
  const body = encodeBinaryPlist(msg);
  assert.equal(lockdownBodyFormat(body), 'binary');
  assert.deepEqual(decodeChunks([frame(body)]), [msg]);
});

test('every 2-way split and a 1-byte drip decode the same frame', () => {
  const buf = Buffer.concat([frame(encodeXmlPlist({ Request: 'GetValue', Key: 'DeviceName', Value: 'x' })), frame(encodeXmlPlist({ Request: 'QueryType' }))]);
  for (let i = 0; i <= buf.length; i++) {
    assert.equal(decodeChunks([buf.subarray(0, i), buf.subarray(i)]).length, 2);
  }
  const drip = [...buf].map((b) => Buffer.from([b]));
  assert.equal(decodeChunks(drip).length, 2);
});

const hostile: [string, Buffer, string][] = [
  ['length over the cap (checked before the body arrives)', Buffer.from([0x16, 0x03, 0x01, 0x02]), 'ERR_PROTOCOL_TOO_LARGE'],
  ['zero length', Buffer.from([0, 0, 0, 0]), 'ERR_PROTOCOL'],
  ['leading whitespace before <?xml', frame(Buffer.concat([Buffer.from(' '), encodeXmlPlist({ a: 1 })])), 'ERR_PROTOCOL'],
  ['UTF-8 BOM', frame(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), encodeXmlPlist({ a: 1 })])), 'ERR_PROTOCOL'],
  ['<plist without <?xml', frame(Buffer.from('<plist version="1.0"><dict/></plist>')), 'ERR_PROTOCOL'],
  ['not a dict', frame(encodeXmlPlist(['a'])), 'ERR_PROTOCOL'],
  ['broken XML', frame(Buffer.from('<?xml version="1.0"?><plist><dict><key>a</key>')), 'ERR_PROTOCOL'],
  ['broken bplist', frame(Buffer.from('bplist00garbagegarbagegarbagegarbage')), 'ERR_PROTOCOL'],
];
for (const [name, bytes, code] of hostile) {
  test(`hostile: ${name} → ${code}`, () => {
    const d = new LockdownFrameDecoder();
    d.push(bytes);
    assert.throws(() => d.next(), (e: unknown) => e instanceof IDeviceError && e.code === code);
    assert.throws(() => d.next(), (e: unknown) => e instanceof IDeviceError && e.code === code, 'stays failed');
  });
}

test('a custom cap applies to the length prefix', () => {
  const d = new LockdownFrameDecoder({ maxFrame: 100 });
  d.push(frame(encodeXmlPlist({ Request: 'GetValue', Key: 'DeviceName' })).subarray(0, 4));
  assert.throws(() => d.next(), { code: 'ERR_PROTOCOL_TOO_LARGE' });
  assert.equal(LOCKDOWN_MAX_FRAME, 16 * 1024 * 1024);
});

test('property: random bytes in random chunks decode or throw an IDeviceError (never RangeError/TypeError)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 50 }), fc.boolean(), (bytes, step, withPrefix) => {
      let buf: Buffer = Buffer.from(bytes);
      if (withPrefix) buf = frame(Buffer.concat([Buffer.from('<?xml version="1.0"?>'), buf]));
      const d = new LockdownFrameDecoder();
      try {
        for (let i = 0; i < buf.length; i += step) {
          d.push(buf.subarray(i, i + step));
          while (d.next());
        }
      } catch (e) {
        if (!(e instanceof IDeviceError)) throw e;
      }
    }),
    { numRuns: 300, seed: 42 },
  );
});

interface IndexFrame {
  offset: number;
  length: number;
  format: 'xml' | 'bplist';
  plist: PlistDict;
}
interface IndexStream {
  tcp_stream: number;
  c2s_lockdown_plaintext?: IndexFrame[];
  s2c_lockdown_plaintext?: IndexFrame[];
}

test('every plaintext lockdown frame of the 207 recorded conversations decodes to the indexed plist', { skip: skipUnlessCaptures() }, () => {
  const index = JSON.parse(readFileSync(capturePath('usbmuxd_debug/derived/midi_usbmux_index.json'), 'utf8')) as { streams: IndexStream[] };
  const rand = rng(7);
  let frames = 0;
  let binary = 0;
  for (const s of index.streams) {
    for (const dir of ['c2s', 's2c'] as const) {
      const list = s[`${dir}_lockdown_plaintext`];
      if (!list?.length) continue;
      const file = capturePath('usbmuxd_debug/derived/all-streams', `stream${String(s.tcp_stream).padStart(3, '0')}_${dir}.bin`);
      assert.ok(existsSync(file), file);
      const bytes = readFileSync(file);
      const first = list[0]!;
      const last = list[list.length - 1]!;
      const region = bytes.subarray(first.offset, last.offset + 4 + last.length);
      const decoded = decodeChunks(randomSplit(region, rand));
      assert.equal(decoded.length, list.length, `stream ${s.tcp_stream} ${dir}`);
      list.forEach((f, i) => {
        assert.deepEqual(decoded[i], f.plist, `stream ${s.tcp_stream} ${dir} frame ${i}`);
        const body = bytes.subarray(f.offset + 4, f.offset + 4 + f.length);
        assert.equal(lockdownBodyFormat(body), f.format === 'bplist' ? 'binary' : 'xml');
        if (f.format === 'bplist') binary++;
      });
      frames += list.length;
    }
  }
  assert.equal(frames, 530);
  assert.equal(binary, 8);
});

test('SteveTrewick: GetValue DeviceName reply with length and body in separate writes', { skip: skipUnlessCaptures() }, () => {
  const buf = readFileSync(capturePath('SteveTrewick-USBmuxd/lockdown_getvalue_devicename_response.bin'));
  const [msg] = decodeChunks([buf.subarray(0, 4), buf.subarray(4)]);
  assert.equal(msg?.Request, 'GetValue');
  assert.equal(msg?.Key, 'DeviceName');
  assert.equal(typeof msg?.Value, 'string');
});

test('appium: first lockdown frame coalesced with the usbmux Result in one buffer', { skip: skipUnlessCaptures() }, () => {
  const buf = readFileSync(capturePath('appium-ios-device/usbmuxconnectandlockdown.bin'));
  const usbmuxLen = buf.readUInt32LE(0); // usbmux header: u32 LE total length
  const msgs = decodeChunks([buf.subarray(usbmuxLen)]);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]?.Request, 'GetValue');
  assert.equal(msgs[0]?.Key, 'TimeIntervalSince1970');
  assert.equal(typeof msgs[0]?.Value, 'number');
});

test('appium: lockdown replies with string, <real> and other value types', { skip: skipUnlessCaptures() }, () => {
  const qt = decodeChunks([readFileSync(capturePath('appium-ios-device/lockdownquerytypemessage.bin'))]);
  assert.equal(qt[0]?.Type, 'com.apple.mobile.lockdown');
  const pv = decodeChunks([readFileSync(capturePath('appium-ios-device/lockdowngetvaluemessage.bin'))]);
  assert.equal(pv[0]?.Request, 'GetValue');
  const time = decodeChunks([readFileSync(capturePath('appium-ios-device/lockdowngettimemessage.bin'))]);
  assert.equal(typeof time[0]?.Value, 'number');
  assert.ok(!Number.isInteger(time[0]?.Value as number));
});

test('buffered input is bounded: pipelined bytes beyond two frames, or a trickle of tiny chunks, fail with ERR_PROTOCOL_TOO_LARGE', () => {
  const one = frame(encodeXmlPlist({ Request: 'QueryType' }));
  const d = new LockdownFrameDecoder({ maxFrame: one.length });
  // a peer that keeps sending while nobody decodes (a handler is busy) cannot grow the buffer without bound
  for (let i = 0; i < 10; i++) d.push(one);
  assert.throws(() => d.next(), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_PROTOCOL_TOO_LARGE');
  assert.equal(d.buffered <= 3 * one.length, true);
  const t = new LockdownFrameDecoder();
  const head = Buffer.alloc(4);
  head.writeUInt32BE(1_000_000);
  t.push(head);
  assert.equal(t.next(), undefined);
  for (let i = 0; i < 70_000; i++) t.push(Buffer.from('x'));
  assert.throws(() => t.next(), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_PROTOCOL_TOO_LARGE');
});
