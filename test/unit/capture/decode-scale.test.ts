/**
 * decode on large streams: a connection with 130k AFC operations (all with the same packet number, as a hostile or
 * odd client may send) decodes completely: no call-stack overflow from spreading big event lists, replies matched
 * to requests in order without re-scanning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCapture } from '../../../src/capture/decode.ts';
import { encodeConnectRequest } from '../../../src/usbmux/codec.ts';
import { encodeResult } from '../../../src/usbmux/server-codec.ts';
import { encodePacket, encodeStatusReply } from '../../../src/afc/codec.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import type { AfcEvent } from '../../../src/capture/events.ts';
import { streamCapture } from '../../support/crafted-captures.ts';

test('decode: 65k AFC requests + 65k replies on one packet number decode to 130k events, matched in order', () => {
  const n = 65_000;
  const reqs: Buffer[] = [];
  const reps: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    reqs.push(...encodePacket(0, AfcOpcode.GetFileInfo, { strings: [`/DCIM/${i}`] }));
    reps.push(encodeStatusReply(0, i % 2 === 0 ? 0 : 8));
  }
  const cap = streamCapture(Buffer.concat([...encodeConnectRequest(1, 1, 1234), ...reqs]), Buffer.concat([...encodeResult('plist', 1, 0), ...reps]));
  const d = decodeCapture(cap);
  assert.equal(d.streams.length, 1);
  const afc = d.streams[0]!.events.filter((e): e is AfcEvent => e.layer === 'afc');
  assert.equal(afc.length, 2 * n);
  const replies = afc.filter((e) => e.dir === 's2c');
  assert.equal(replies.length, n);
  assert.ok(replies.every((e) => e.inReplyTo === 'GetFileInfo'));
  assert.equal(replies.filter((e) => e.status === 8).length, n / 2);
  assert.equal(d.streams[0]!.events.filter((e) => e.layer === 'note' && e.kind !== 'connect').length, 0);
});
