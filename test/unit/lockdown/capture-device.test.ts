import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import type { PlistDict, PlistValue } from '../../../src/plist/types.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { makeDevice } from './helpers.ts';

interface IndexFrame {
  offset: number;
  length: number;
  format: string;
  plist: PlistDict;
}

function kind(v: PlistValue | undefined): string {
  if (v === undefined) return 'none';
  if (Buffer.isBuffer(v)) return 'data';
  return typeof v;
}

/**
 * Apple's own client requests (the recorded bytes, XML and bplist) sent to our virtual lockdownd: every
 * reply must have the shape the real iOS 15 device gave: same keys, same Request/Key echo, same Error
 * string, same value type.
 */
test('recorded Apple requests get replies shaped like the real device\'s (QueryType, GetValue, GetProhibited)', { skip: skipUnlessCaptures() }, async () => {
  const index = JSON.parse(readFileSync(capturePath('usbmuxd_debug/derived/midi_usbmux_index.json'), 'utf8')) as {
    streams: { tcp_stream: number; c2s_lockdown_plaintext?: IndexFrame[]; s2c_lockdown_plaintext?: IndexFrame[] }[];
  };
  const device = makeDevice();
  let compared = 0;
  let bplist = 0;
  for (const s of index.streams) {
    const reqs = s.c2s_lockdown_plaintext ?? [];
    const reps = s.s2c_lockdown_plaintext ?? [];
    if (reqs.length === 0) continue;
    const c2s = readFileSync(capturePath('usbmuxd_debug/derived/all-streams', `stream${String(s.tcp_stream).padStart(3, '0')}_c2s.bin`));
    const [host, dev] = duplexPair();
    const server = serveLockdown(dev, device);
    const decoder = new LockdownFrameDecoder();
    host.on('data', (c: Buffer) => decoder.push(c));
    for (let i = 0; i < reqs.length; i++) {
      const req = reqs[i]!;
      const rep = reps[i]!;
      if (req.plist.Request === 'StartSession') continue; // the recorded HostID is not trusted by our device
      host.write(c2s.subarray(req.offset, req.offset + 4 + req.length));
      let ours = decoder.next();
      while (!ours) {
        await once(host, 'data');
        ours = decoder.next();
      }
      const where = `stream ${s.tcp_stream} frame ${i} (${JSON.stringify(req.plist)})`;
      assert.deepEqual(Object.keys(ours).sort(), Object.keys(rep.plist).sort(), where);
      assert.equal(ours.Request, rep.plist.Request, where);
      assert.equal(ours.Key, rep.plist.Key, where);
      assert.equal(ours.Error, rep.plist.Error, where);
      assert.equal(kind(ours.Value), kind(rep.plist.Value), where);
      if (req.format === 'bplist') bplist++;
      compared++;
    }
    host.destroy();
    await server.closed;
  }
  assert.equal(compared, 252);
  assert.equal(bplist, 8);
});
