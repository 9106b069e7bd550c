/**
 * The recordings in captures/ decode completely: every stream, no errors or truncation, every TLS record decrypted
 * with the embedded key log, the lockdown requests inside TLS, and the AFC operations of the DCIM reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeCapture } from '../../../src/capture/decode.ts';
import type { AfcEvent, CaptureEvent, LockdownEvent } from '../../../src/capture/events.ts';

const dir = fileURLToPath(new URL('../../../captures/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.pcapng')).sort();

function all(file: string): { events: CaptureEvent[]; streams: number; keys: number } {
  const d = decodeCapture(readFileSync(`${dir}${file}`));
  assert.equal(d.truncated, false);
  assert.equal(d.skipped, 0);
  return { events: d.streams.flatMap((s) => s.events), streams: d.streams.length, keys: d.keylogEntries };
}

function requests(events: CaptureEvent[], tls: boolean): string[] {
  return events.filter((e): e is LockdownEvent => e.layer === 'lockdown' && e.dir === 'c2s' && e.tls === tls).map((e) => String(e.plist.Request));
}

test('own captures: all six are present', () => {
  assert.deepEqual(files, ['ours-afc-pull-dcim.pcapng', 'ours-info.pcapng', 'ours-pair.pcapng', 'tools-ideviceinfo.pcapng', 'tools-idevicepair-pair.pcapng', 'tools-ifuse-dcim.pcapng']);
});

for (const file of files) {
  test(`own captures: ${file} decodes completely (no errors, every TLS record decrypted)`, () => {
    const { events, streams, keys } = all(file);
    assert.ok(streams >= 3);
    const bad = events.filter((e) => (e.layer === 'note' && ['error', 'truncated', 'gap'].includes(e.kind)) || (e.layer === 'tls' && e.decrypted === false) || e.layer === 'data');
    assert.deepEqual(bad, []);
    const tlsNotes = events.filter((e) => e.layer === 'note' && e.kind === 'tls-keys');
    if (file === 'tools-idevicepair-pair.pcapng') {
      assert.equal(tlsNotes.length, 0); // idevicepair pair starts no session
      return;
    }
    assert.ok(tlsNotes.length >= 1, 'a TLS session');
    assert.ok(keys >= tlsNotes.length);
    assert.ok(tlsNotes.every((e) => e.layer === 'note' && e.note.includes('decrypting')), 'secrets for every session');
    // Each decrypted session carries lockdown frames both ways.
    const inTls = events.filter((e): e is LockdownEvent => e.layer === 'lockdown' && e.tls);
    assert.ok(inTls.some((e) => e.dir === 'c2s') && inTls.some((e) => e.dir === 's2c'));
  });
}

test('own captures: pairing by the real tool and by our client', () => {
  for (const f of ['tools-idevicepair-pair.pcapng', 'ours-pair.pcapng']) {
    const { events } = all(f);
    const plain = requests(events, false);
    assert.ok(plain.includes('Pair'), f);
    const pair = events.find((e): e is LockdownEvent => e.layer === 'lockdown' && e.dir === 'c2s' && e.plist.Request === 'Pair')!;
    assert.deepEqual(Object.keys(pair.plist.PairRecord as object).sort(), ['DeviceCertificate', 'HostCertificate', 'HostID', 'RootCertificate', 'SystemBUID']);
    assert.ok(events.some((e) => e.layer === 'usbmux' && e.messageType === 'SavePairRecord'), f);
  }
  assert.deepEqual(requests(all('ours-pair.pcapng').events, true), ['StopSession']);
});

test('own captures: full ideviceinfo and our info read every value inside TLS', () => {
  for (const f of ['tools-ideviceinfo.pcapng', 'ours-info.pcapng']) {
    const { events } = all(f);
    assert.deepEqual(requests(events, false).slice(-1), ['StartSession'], f);
    assert.deepEqual(requests(events, true), ['GetValue', 'StopSession'], f);
    const reply = events.find((e): e is LockdownEvent => e.layer === 'lockdown' && e.dir === 's2c' && e.tls && e.plist.Request === 'GetValue')!;
    assert.equal((reply.plist.Value as Record<string, unknown>).ProductVersion, '17.5');
  }
});

test('own captures: ifuse and our pull read every DCIM file through AFC after StartService inside TLS', () => {
  for (const f of ['tools-ifuse-dcim.pcapng', 'ours-afc-pull-dcim.pcapng']) {
    const { events } = all(f);
    assert.ok(requests(events, true).includes('StartService'), f);
    const afc = events.filter((e): e is AfcEvent => e.layer === 'afc');
    const opened = afc.filter((e) => e.dir === 'c2s' && e.opName === 'FileRefOpen').map((e) => e.paths![0]!);
    assert.ok(opened.filter((p) => p.startsWith('/DCIM/')).length >= 3, `${f}: ${opened.join(' ')}`);
    const read = afc.filter((e) => e.dir === 's2c' && e.inReplyTo === 'FileRefRead').reduce((n, e) => n + e.dataLength, 0);
    assert.ok(read > 10_000, `${f}: ${read} bytes read`);
    assert.ok(afc.some((e) => e.dir === 's2c' && e.inReplyTo === 'ReadDir' && e.names?.includes('100APPLE')));
    const connect = events.find((e) => e.layer === 'note' && e.kind === 'connect' && e.protocol === 'afc');
    assert.ok(connect && connect.layer === 'note' && connect.note.includes('com.apple.afc'), 'service name learned from the decrypted StartService');
  }
});
