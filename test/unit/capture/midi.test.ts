/**
 * `decode` on the real macOS capture (../shared/captures/third-party/usbmuxd_debug/midi.pcapng) against the derived
 * index: all 207 usbmux connections, their usbmux messages, plaintext lockdown frames, the TLS boundary, and both AFC
 * sessions. Skips when the third-party folder is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { decodeCapture, type DecodedCapture } from '../../../src/capture/decode.ts';
import { readPcapng } from '../../../src/capture/pcapng.ts';
import { reassemble } from '../../../src/capture/tcp.ts';
import type { AfcEvent, LockdownEvent, TlsEvent, UsbmuxEvent } from '../../../src/capture/events.ts';
import type { PlistValue } from '../../../src/plist/types.ts';

const skip = skipUnlessCaptures();

interface IndexMsg { offset: number; length: number; version?: number; type?: number; tag?: number; format?: string; plist: Record<string, unknown> }
interface IndexEntry {
  tcp_stream: number; first_frame: number; c2s_len: number; s2c_len: number; c2s_sha256: string; s2c_sha256: string;
  connect_port_host_order?: number; c2s_usbmux: IndexMsg[]; s2c_usbmux: IndexMsg[];
  c2s_lockdown_plaintext?: IndexMsg[]; s2c_lockdown_plaintext?: IndexMsg[];
  c2s_tail_offset?: number; s2c_tail_offset?: number; c2s_tail_kind?: string; s2c_tail_kind?: string;
}

let cached: { index: IndexEntry[]; decoded: DecodedCapture; file: Buffer } | undefined;
function load(): { index: IndexEntry[]; decoded: DecodedCapture; file: Buffer } {
  if (!cached) {
    const file = readFileSync(capturePath('usbmuxd_debug', 'midi.pcapng'));
    const index = (JSON.parse(readFileSync(capturePath('usbmuxd_debug', 'derived', 'midi_usbmux_index.json'), 'utf8')) as { streams: IndexEntry[] }).streams;
    cached = { index, decoded: decodeCapture(file), file };
  }
  return cached;
}

/** Our plist in the index's JSON form (data as sha256 + len when the index omitted it). */
function norm(v: PlistValue, ref: unknown): unknown {
  if (Buffer.isBuffer(v)) {
    const r = ref as { $bytes_sha256?: string } | undefined;
    if (r && typeof r === 'object' && r.$bytes_sha256) return { $bytes_sha256: createHash('sha256').update(v).digest('hex'), len: v.length };
    return v.toString('base64');
  }
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x, i) => norm(x, (ref as unknown[] | undefined)?.[i]));
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = norm(x as PlistValue, (ref as Record<string, unknown> | undefined)?.[k]);
    return o;
  }
  return v;
}

function stripNotes(ref: unknown): unknown {
  if (Array.isArray(ref)) return ref.map(stripNotes);
  if (ref && typeof ref === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(ref)) if (k !== 'note') o[k] = stripNotes(x);
    return o;
  }
  return ref;
}

test('midi.pcapng: TCP reassembly gives the 207 usbmux connections byte-exactly (length and sha256 per direction)', { skip }, () => {
  const { index, file } = load();
  const pc = readPcapng(file);
  assert.equal(pc.interfaces[0]!.linkType, 0); // DLT_NULL, macOS lo0
  assert.equal(pc.packets.length, 6886);
  const streams = reassemble(pc.packets, () => 0, { port: 9876 });
  assert.equal(streams.length, 207);
  const byIndex = new Map(streams.map((s) => [s.index, s]));
  for (const e of index) {
    const s = byIndex.get(e.tcp_stream);
    assert.ok(s, `stream ${e.tcp_stream}`);
    assert.equal(s.c2s.data.length, e.c2s_len);
    assert.equal(s.s2c.data.length, e.s2c_len);
    assert.equal(createHash('sha256').update(s.c2s.data).digest('hex'), e.c2s_sha256);
    assert.equal(createHash('sha256').update(s.s2c.data).digest('hex'), e.s2c_sha256);
    const firstData = Math.min(s.c2s.chunks[0]?.frame ?? Infinity, s.s2c.chunks[0]?.frame ?? Infinity);
    assert.equal(firstData, e.first_frame, `first data frame of stream ${e.tcp_stream}`);
  }
});

test('midi.pcapng: decode finds exactly the 207 usbmux connections (port 9876) and skips the unrelated traffic', { skip }, () => {
  const { index, decoded } = load();
  assert.equal(decoded.streams.length, 207);
  assert.deepEqual(decoded.streams.map((s) => s.stream), index.map((e) => e.tcp_stream).sort((a, b) => a - b));
  assert.ok(decoded.streams.every((s) => s.server.endsWith(':9876')));
  assert.equal(decoded.truncated, false);
  const kinds = new Map<string, number>();
  for (const s of decoded.streams) kinds.set(s.request ?? '', (kinds.get(s.request ?? '') ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(kinds), { Listen: 3, ReadBUID: 30, ReadPairRecord: 30, Connect: 144 });
  assert.equal(decoded.streams.filter((s) => s.port === 62078).length, 133);
});

test('midi.pcapng: usbmux messages, ports and plaintext lockdown frames match the index', { skip }, () => {
  const { index, decoded } = load();
  const byStream = new Map(decoded.streams.map((s) => [s.stream, s]));
  let usbmux = 0;
  let lockdown = 0;
  for (const e of index) {
    const s = byStream.get(e.tcp_stream)!;
    for (const dir of ['c2s', 's2c'] as const) {
      const ours = s.events.filter((x): x is UsbmuxEvent => x.layer === 'usbmux' && x.dir === dir);
      const ref = e[`${dir}_usbmux`];
      assert.equal(ours.length, ref.length, `usbmux count ${e.tcp_stream} ${dir}`);
      for (const [i, m] of ref.entries()) {
        const o = ours[i]!;
        assert.deepEqual([o.offset, o.length, o.version, o.message, o.tag], [m.offset, m.length, m.version, m.type, m.tag]);
        assert.deepEqual(norm(o.plist!, m.plist), stripNotes(m.plist));
        usbmux++;
      }
      const ld = s.events.filter((x): x is LockdownEvent => x.layer === 'lockdown' && x.dir === dir);
      const lref = e[`${dir}_lockdown_plaintext`] ?? [];
      assert.equal(ld.length, lref.length, `lockdown count ${e.tcp_stream} ${dir}`);
      for (const [i, m] of lref.entries()) {
        const o = ld[i]!;
        assert.deepEqual([o.offset, o.length - 4, o.format === 'binary' ? 'bplist' : o.format, o.tls], [m.offset, m.length, m.format, false]);
        assert.deepEqual(norm(o.plist, m.plist), stripNotes(m.plist));
        lockdown++;
      }
    }
    if (e.connect_port_host_order !== undefined) assert.equal(s.port, e.connect_port_host_order);
    if (e.c2s_tail_kind === 'tls') {
      assert.equal(s.c2sTls, e.c2s_tail_offset);
      assert.equal(s.s2cTls, e.s2c_tail_offset);
      const first = s.events.find((x): x is TlsEvent => x.layer === 'tls' && x.dir === 'c2s')!;
      assert.equal(first.boundary, true);
      assert.deepEqual(first.what, ['ClientHello']);
      const sh = s.events.find((x): x is TlsEvent => x.layer === 'tls' && x.dir === 's2c')!;
      assert.equal(sh.version, 0x0303);
      assert.equal(sh.cipherSuite, 'ECDHE-RSA-AES256-GCM-SHA384');
    }
    if (e.c2s_tail_kind === 'afc') {
      assert.equal(s.protocol, 'afc');
      assert.equal(s.c2sTail, e.c2s_tail_offset);
      assert.equal(s.s2cTail, e.s2c_tail_offset);
    }
  }
  assert.ok(usbmux > 400 && lockdown > 500, `${usbmux} usbmux, ${lockdown} lockdown`);
});

test('midi.pcapng: both AFC sessions (streams 91 and 190) decode to open/read/close/open', { skip }, () => {
  const { decoded } = load();
  for (const n of [91, 190]) {
    const s = decoded.streams.find((x) => x.stream === n)!;
    const afc = s.events.filter((x): x is AfcEvent => x.layer === 'afc');
    const req = afc.filter((x) => x.dir === 'c2s').map((x) => [x.packetNum, x.opName, x.paths?.[0] ?? null, x.args ?? []]);
    assert.deepEqual(req, [
      [0, 'FileRefOpen', '/iTunes_Control/iTunes/iTunesPrefs', [1]],
      [1, 'FileRefRead', null, [1, 1232]],
      [2, 'FileRefClose', null, [1]],
      [3, 'FileRefOpen', '/iTunes_Control/iTunes/SyncAfterRestore', [1]],
    ]);
    const rep = afc.filter((x) => x.dir === 's2c').map((x) => [x.packetNum, x.opName, x.inReplyTo, x.status ?? null, x.dataLength]);
    assert.deepEqual(rep, [
      [0, 'FileRefOpenResult', 'FileRefOpen', 1, 0],
      [1, 'Data', 'FileRefRead', null, 1232],
      [2, 'Status', 'FileRefClose', 0, 0],
      [3, 'Status', 'FileRefOpen', 8, 0],
    ]);
    assert.equal(s.port, n === 91 ? 61528 : 61602);
  }
});

test('midi.pcapng: a truncated copy decodes what is complete and reports the truncation', { skip }, () => {
  const { file } = load();
  const cut = file.subarray(0, Math.floor(file.length * 0.6) + 3);
  const d = decodeCapture(cut);
  assert.equal(d.truncated, true);
  assert.ok(d.streams.length > 100 && d.streams.length < 207, String(d.streams.length));
  // Streams cut in the middle say so instead of failing.
  assert.ok(d.streams.some((s) => s.events.some((e) => e.layer === 'note' && e.kind === 'truncated')) || d.streams.length > 0);
});
