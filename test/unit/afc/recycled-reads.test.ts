/**
 * AFC over a socket that reads into reused memory (core/read-recycler.ts): replies split at random boundaries
 * (headers across reads, several replies in one read), every reply that outlives its read (stat, listdir, a
 * buffered READ, the small-file one-READ path) intact, and a pull's streamed files written from the reused buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { AfcClient } from '../../../src/afc/client.ts';
import { encodeDataReplyHeader, encodePacket, encodeStatusReply } from '../../../src/afc/codec.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { serveAfc } from '../../../src/afc/server.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { connectRecycled } from '../../../src/afc/index.ts';
import { recyclerOf, type ReadRecycler } from '../../../src/core/read-recycler.ts';
import { fakeDevice, tempDir, treeSnapshot, type Packet } from './helpers.ts';

/** Deterministic bytes. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * serveAfc behind a unix socket whose device → host bytes leave in slices of random size (seeded), one batch of
 * slices per tick, so the client's reads split headers and bodies anywhere.
 */
async function slicingServer(root: string, sockPath: string, seed: number): Promise<{ close: () => Promise<void> }> {
  let r = seed;
  const rand = (n: number): number => {
    r = (r * 1103515245 + 12345) % 2147483648;
    return r % n;
  };
  const srv = net.createServer((s) => {
    const [host, dev] = duplexPair();
    serveAfc(dev, { root });
    s.pipe(host);
    const queue: Buffer[] = [];
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      for (let batch = 0; batch < 4 && queue.length > 0; batch++) {
        const head = queue[0]!;
        const n = Math.min(head.length, 1 + (rand(4) === 0 ? rand(40) : rand(300_000)));
        s.write(head.subarray(0, n));
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
      }
      if (queue.length > 0) schedule();
    };
    const schedule = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(flush);
    };
    host.on('data', (c: Buffer) => {
      queue.push(c);
      schedule();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((res) => srv.listen(sockPath, res));
  return { close: () => new Promise<void>((res) => srv.close(() => res())) };
}

async function recycledClient(sockPath: string): Promise<{ client: AfcClient; rec: ReadRecycler }> {
  const sock = connectRecycled({ path: sockPath }); // the public way (iosdevice/afc)
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  const rec = recyclerOf(sock);
  assert.ok(rec);
  return { client: new AfcClient(sock), rec };
}

for (const seed of [1, 7, 42]) {
  test(`AFC on recycled socket reads (seed ${seed}): pull byte-identical, stat/list/read replies intact across later reads`, async () => {
    const t = await tempDir();
    const root = join(t.dir, 'root');
    const media = join(root, 'DCIM', '100APPLE');
    await fs.mkdir(join(media, 'sub'), { recursive: true });
    const sizes = [0, 1, 100, 8191, 8193, 50_000, 300_000, 1024 * 1024 - 1, 1024 * 1024 + 3, 3 * 1024 * 1024 + 11];
    for (const [i, n] of sizes.entries()) await fs.writeFile(join(i % 3 === 0 ? join(media, 'sub') : media, `IMG_${1000 + i}.JPG`), bytes(n, seed * 100 + i));
    const srv = await slicingServer(root, join(t.dir, 'afc.sock'), seed);
    const { client, rec } = await recycledClient(join(t.dir, 'afc.sock'));
    try {
      const dest = join(t.dir, 'dest');
      // other requests in flight while the pull streams: their replies must survive the reads that follow them
      const side = (async () => {
        const results: { size: number; names: string[]; buffered: Buffer }[] = [];
        for (let k = 0; k < 5; k++) {
          const st = await client.stat('/DCIM/100APPLE/sub/IMG_1006.JPG');
          const names = (await client.readdir('/DCIM/100APPLE')).filter((n) => n !== '.' && n !== '..');
          const h = await client.open('/DCIM/100APPLE/sub/IMG_1006.JPG', 'r');
          const buffered = await client.read(h, 300_000); // > the copy-out size: its views keep their memory
          await client.closeFile(h);
          await new Promise((res) => setImmediate(res));
          results.push({ size: st.size, names: [...names].sort(), buffered });
        }
        return results;
      })();
      const [r, sideResults] = await Promise.all([client.pull('/DCIM', dest), side]);
      assert.equal(r.files, sizes.length);
      assert.deepEqual(await treeSnapshot(dest), await treeSnapshot(join(root, 'DCIM')));
      const expected = bytes(300_000, seed * 100 + 6);
      const names = (await fs.readdir(media)).sort();
      for (const s of sideResults) {
        assert.equal(s.size, 300_000);
        assert.deepEqual(s.names, names);
        assert.ok(s.buffered.equals(expected), 'a buffered READ reply was overwritten by a later socket read');
      }
      assert.ok(rec.reused > 0, `the read buffer was never reused (${rec.reads} reads)`);
    } finally {
      client.close();
      await srv.close();
      await t.cleanup();
    }
  });
}

test('read stream sink: replies of pipelined READs that arrive out of order still reach the sink in file order', async () => {
  const file = bytes(5000, 9);
  const reads: Packet[] = [];
  let pos = 0;
  const { client } = fakeDevice((p, dev) => {
    if (p.operation === AfcOpcode.FileRefOpen) dev.write(encodePacket(p.packetNum, AfcOpcode.FileRefOpenResult, { u64: [5] })[0]!);
    else if (p.operation === AfcOpcode.FileRefClose) dev.write(encodeStatusReply(p.packetNum, 0));
    else if (p.operation === AfcOpcode.FileRefRead) {
      reads.push(p);
      if (reads.length === 3) {
        // the device's file position advances in request order; the replies leave in reverse order
        const answers = reads.map((q) => {
          const n = Number(q.headerPayload.readBigUInt64LE(8));
          const d = file.subarray(pos, Math.min(file.length, pos + n));
          pos += d.length;
          return Buffer.concat([encodeDataReplyHeader(q.packetNum, d.length), d]);
        });
        reads.length = 0;
        dev.write(Buffer.concat(answers.reverse()));
      }
    }
  });
  const got: Buffer[] = [];
  const rs = client.createReadStream('/f', { size: file.length, chunkSize: 2048, maxInFlight: 3, sink: (c) => got.push(Buffer.from(c)) });
  let dataEvents = 0;
  rs.on('data', () => dataEvents++);
  await new Promise<void>((res, rej) => rs.once('end', res).once('error', rej));
  assert.equal(dataEvents, 0);
  assert.ok(Buffer.concat(got).equals(file));
  client.close();
});
