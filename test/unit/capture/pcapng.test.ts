/** pcapng reader/writer: round trips, both byte orders, SPB/NRB/DSB, truncation, hostile lengths, fuzz. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LinkType, MAX_BLOCK, PcapngWriter, SECRETS_TLS_KEYLOG, readPcapng } from '../../../src/capture/pcapng.ts';
import { CaptureError } from '../../../src/capture/errors.ts';
import { IDeviceError } from '../../../src/core/errors.ts';

function block(type: number, body: Buffer, be = false): Buffer {
  const n = 12 + body.length;
  const b = Buffer.alloc(n);
  const w = (v: number, o: number): number => (be ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  w(type, 0);
  w(n, 4);
  body.copy(b, 8);
  w(n, n - 4);
  return b;
}

/** A hand-built big-endian file: SHB, IDB (Ethernet, ns), EPB, SPB, NRB, DSB. */
function bigEndianFile(): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32BE(0x1a2b3c4d, 0);
  shb.writeUInt16BE(1, 4);
  shb.writeBigInt64BE(-1n, 8);
  const idb = Buffer.alloc(8 + 8);
  idb.writeUInt16BE(LinkType.ETHERNET, 0);
  idb.writeUInt32BE(65535, 4);
  idb.writeUInt16BE(9, 8); // if_tsresol
  idb.writeUInt16BE(1, 10);
  idb[12] = 9; // 10^-9
  const data = Buffer.from('0123456789', 'latin1');
  const epb = Buffer.alloc(20 + 12);
  epb.writeUInt32BE(0, 0);
  epb.writeUInt32BE(1, 4); // ts high
  epb.writeUInt32BE(2, 8); // ts low
  epb.writeUInt32BE(data.length, 12);
  epb.writeUInt32BE(data.length, 16);
  data.copy(epb, 20);
  const spb = Buffer.alloc(4 + 4);
  spb.writeUInt32BE(3, 0);
  Buffer.from('abc').copy(spb, 4);
  const nrb = Buffer.alloc(4 + 4 + 12 + 4);
  nrb.writeUInt16BE(1, 0);
  nrb.writeUInt16BE(4 + 10, 2);
  Buffer.from([127, 0, 0, 1]).copy(nrb, 4);
  Buffer.from('localhost\0', 'latin1').copy(nrb, 8);
  const keys = Buffer.from('CLIENT_RANDOM aa bb\n', 'latin1');
  const dsb = Buffer.alloc(8 + 20);
  dsb.writeUInt32BE(SECRETS_TLS_KEYLOG, 0);
  dsb.writeUInt32BE(keys.length, 4);
  keys.copy(dsb, 8);
  return Buffer.concat([block(0x0a0d0d0a, shb, true), block(1, idb, true), block(6, epb, true), block(3, spb, true), block(4, nrb, true), block(0x0a, dsb, true)]);
}

test('pcapng: writer → reader round trip (µs and ns), DSB with the key log', () => {
  for (const resolution of ['us', 'ns'] as const) {
    const w = new PcapngWriter({ linkType: LinkType.RAW, resolution, interfaceName: 'usbmux' });
    const t = 1_700_000_000_123_456_789n;
    const file = Buffer.concat([w.header(), w.keylog('CLIENT_RANDOM 00 11\n'), w.packet(t, Buffer.from('hello')), w.packet(t + 1000n, Buffer.alloc(0))]);
    const r = readPcapng(file, { strict: true });
    assert.equal(r.interfaces.length, 1);
    assert.equal(r.interfaces[0]!.linkType, LinkType.RAW);
    assert.equal(r.interfaces[0]!.name, 'usbmux');
    assert.equal(r.packets.length, 2);
    assert.deepEqual(r.packets[0]!.data, Buffer.from('hello'));
    assert.equal(r.packets[0]!.timestampNs, resolution === 'ns' ? t : (t / 1000n) * 1000n);
    assert.equal(r.packets[1]!.data.length, 0);
    assert.equal(r.secrets.length, 1);
    assert.equal(r.secrets[0]!.type, SECRETS_TLS_KEYLOG);
    assert.equal(r.secrets[0]!.data.toString(), 'CLIENT_RANDOM 00 11\n');
    assert.equal(file.length % 4, 0);
  }
});

test('pcapng: big-endian section with EPB, SPB, NRB and DSB', () => {
  const r = readPcapng(bigEndianFile(), { strict: true });
  assert.equal(r.interfaces[0]!.linkType, LinkType.ETHERNET);
  assert.equal(r.interfaces[0]!.unitsPerSecond, 1_000_000_000n);
  assert.equal(r.packets.length, 2);
  assert.equal(r.packets[0]!.timestampNs, (1n << 32n) + 2n);
  assert.equal(r.packets[0]!.data.toString(), '0123456789');
  assert.equal(r.packets[1]!.timestampNs, undefined);
  assert.equal(r.packets[1]!.data.toString(), 'abc');
  assert.deepEqual(r.names.get('127.0.0.1'), ['localhost']);
  assert.equal(r.secrets[0]!.data.toString(), 'CLIENT_RANDOM aa bb\n');
});

test('pcapng: a truncated file returns the complete blocks (or ERR_CAPTURE_TRUNCATED in strict mode)', () => {
  const file = bigEndianFile();
  for (const cut of [file.length - 1, file.length - 20, 40, 30]) {
    const r = readPcapng(file.subarray(0, cut));
    assert.equal(r.truncated, true);
    assert.throws(() => readPcapng(file.subarray(0, cut), { strict: true }), (e: unknown) => e instanceof CaptureError && e.code === 'ERR_CAPTURE_TRUNCATED');
  }
});

test('pcapng: hostile input gives typed errors', () => {
  const good = bigEndianFile();
  const cases: [string, Buffer, string][] = [
    ['not pcapng', Buffer.from('GIF89a........................'), 'ERR_CAPTURE_FORMAT'],
    ['bad byte-order magic', (() => { const b = Buffer.from(good); b.writeUInt32LE(0x11223344, 8); return b; })(), 'ERR_CAPTURE_FORMAT'],
    ['block length not a multiple of 4', (() => { const b = Buffer.from(good); b.writeUInt32BE(29, 4); return b; })(), 'ERR_CAPTURE_FORMAT'],
    ['block length below 12', (() => { const b = Buffer.from(good); b.writeUInt32BE(8, 4); return b; })(), 'ERR_CAPTURE_FORMAT'],
    ['block over the cap', (() => { const b = Buffer.from(good); b.writeUInt32BE(MAX_BLOCK + 4, 4); return b; })(), 'ERR_CAPTURE_TOO_LARGE'],
    ['trailing length differs', (() => { const b = Buffer.from(good); b.writeUInt32BE(99, 28 - 4); return b; })(), 'ERR_CAPTURE_FORMAT'],
  ];
  const w = new PcapngWriter();
  const epb = w.packet(0n, Buffer.from('x'));
  const badCap = Buffer.from(epb);
  badCap.writeUInt32LE(1000, 8 + 12);
  cases.push(['captured length beyond the block', Buffer.concat([w.header(), badCap]), 'ERR_CAPTURE_FORMAT']);
  const badIf = Buffer.from(epb);
  badIf.writeUInt32LE(7, 8);
  cases.push(['packet for an unknown interface', Buffer.concat([w.header(), badIf]), 'ERR_CAPTURE_FORMAT']);
  const dsb = Buffer.from(w.keylog('abc'));
  dsb.writeUInt32LE(5000, 12);
  cases.push(['secrets length beyond the block', Buffer.concat([w.header(), dsb]), 'ERR_CAPTURE_FORMAT']);
  for (const [name, buf, code] of cases) {
    assert.throws(() => readPcapng(buf), (e: unknown) => e instanceof CaptureError && e.code === code, name);
  }
});

test('pcapng: random bytes after a valid header either parse or throw a CaptureError (never RangeError)', () => {
  const head = new PcapngWriter().header();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, mangleHead) => {
      const buf = Buffer.concat([mangleHead ? head.subarray(0, 12) : head, Buffer.from(bytes)]);
      try {
        readPcapng(buf);
      } catch (e) {
        assert.ok(e instanceof IDeviceError && e.code.startsWith('ERR_CAPTURE_'), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
