import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import { parsePairRecord } from '../../../src/pairing/pair-record.ts';
import type { PlistDict } from '../../../src/plist/types.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';

interface IndexFrame {
  offset: number;
  length: number;
  plist: PlistDict;
}

/**
 * Replays the device side of the real iOS 15 conversation (capture stream 002: Apple's "Audio MIDI Setup"
 * reading values, then StartSession). Each request our client sends is checked against the recorded
 * request before the recorded reply bytes are sent back verbatim.
 */
test('stream002: our requests equal Apple\'s; after the StartSession reply our next bytes are a TLS ClientHello', { skip: skipUnlessCaptures() }, async () => {
  const index = JSON.parse(readFileSync(capturePath('usbmuxd_debug/derived/midi_usbmux_index.json'), 'utf8')) as {
    streams: { tcp_stream: number; c2s_lockdown_plaintext: IndexFrame[]; s2c_lockdown_plaintext: IndexFrame[]; c2s_tail_offset: number; s2c_tail_offset: number }[];
  };
  const s = index.streams.find((x) => x.tcp_stream === 2)!;
  const c2s = readFileSync(capturePath('usbmuxd_debug/derived/streams/stream002_lockdown_getvalues_startsession_tls_c2s.bin'));
  const s2c = readFileSync(capturePath('usbmuxd_debug/derived/streams/stream002_lockdown_getvalues_startsession_tls_s2c.bin'));
  const record = parsePairRecord(readFileSync(capturePath('usbmuxd_debug/derived/pair_record_from_readpairrecord.plist')));
  const requests = s.c2s_lockdown_plaintext;
  const replies = s.s2c_lockdown_plaintext;
  assert.equal(requests.length, replies.length);
  const lastReply = replies[replies.length - 1]!;
  assert.equal(lastReply.offset + 4 + lastReply.length, s.s2c_tail_offset, 'recorded StartSession reply ends where TLS starts');

  const [hostSide, deviceSide] = duplexPair();
  const decoder = new LockdownFrameDecoder();
  let step = 0;
  let afterSession: Buffer[] | undefined;
  let clientHello!: () => void;
  const gotHello = new Promise<void>((r) => (clientHello = r));
  const mismatches: string[] = [];
  deviceSide.on('data', (chunk: Buffer) => {
    if (afterSession) {
      afterSession.push(chunk);
      if (Buffer.concat(afterSession).length >= 6) clientHello();
      return;
    }
    decoder.push(chunk);
    for (let req = decoder.next(); req; req = decoder.next()) {
      const expected = requests[step]!;
      try {
        assert.deepEqual(req, expected.plist);
      } catch {
        mismatches.push(`request ${step}: ${JSON.stringify(req)} != ${JSON.stringify(expected.plist)}`);
      }
      const reply = replies[step]!;
      deviceSide.write(s2c.subarray(reply.offset, reply.offset + 4 + reply.length));
      step++;
      if (step === requests.length) afterSession = decoder.drain();
    }
  });

  const client = new LockdownClient(hostSide, { label: 'Audio MIDI Setup', env: {} });
  try {
    assert.equal(await client.queryType(), 'com.apple.mobile.lockdown');
    assert.equal(await client.getValue('DeviceName'), 'LFK-4359');
    assert.equal(await client.getValue('HardwareModel'), 'D331pAP');
    assert.equal(await client.getValue('ProductType'), 'iPhone11,6');
    assert.equal(await client.getValue('DeviceColor'), '1');
    assert.equal(await client.getValue('DeviceEnclosureColor'), '2');
    assert.equal(await client.getValue('IDAMCapable'), true);
    await assert.rejects(client.getValue('IDAMCapability'), { code: 'ERR_LOCKDOWN_GET_PROHIBITED', name: 'ValueError' });
    const session = client.startSession(record).catch((e: unknown) => e);
    await gotHello;
    assert.deepEqual(mismatches, []);
    const ours = Buffer.concat(afterSession!);
    // TLS record header: ContentType handshake (0x16), legacy version 0x03 0x01..0x03; then HandshakeType client_hello (1).
    assert.equal(ours[0], 0x16);
    assert.equal(ours[1], 0x03);
    assert.equal(ours[5], 0x01);
    // Apple's client did the same at c2s offset 4138, right after its StartSession request.
    const lastReq = requests[requests.length - 1]!;
    assert.equal(lastReq.offset + 4 + lastReq.length, s.c2s_tail_offset);
    assert.equal(c2s[s.c2s_tail_offset], 0x16);
    assert.equal(c2s[s.c2s_tail_offset + 5], 0x01);
    client.close();
    const err = await session;
    assert.ok(err instanceof Error);
  } finally {
    client.close();
    deviceSide.destroy();
  }
});
