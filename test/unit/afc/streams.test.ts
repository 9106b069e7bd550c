import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AfcClient } from '../../../src/afc/client.ts';
import { AfcDecoder, encodeDataReplyHeader, encodeOpenResultReply, encodeStatusReply } from '../../../src/afc/codec.ts';
import { AfcError } from '../../../src/afc/errors.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { pairedClient, tempDir } from './helpers.ts';

async function collect(rs: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of rs) out.push(c as Buffer);
  return out;
}

/** Lets every queued callback and I/O completion run (not a timed sleep). */
async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * An in-memory device serving one endless file: every READ gets `size` bytes that are views of one
 * static buffer. Counts READs.
 */
function endlessDevice(): { client: AfcClient; reads: () => number; payload: Buffer } {
  const [a, dev] = duplexPair();
  const payload = randomBytes(1024 * 1024);
  const dec = new AfcDecoder();
  let reads = 0;
  dev.on('data', (c: Buffer) => {
    dec.push(c);
    for (let ev; (ev = dec.next()); ) {
      if (ev.kind !== 'header') continue;
      const { operation, packetNum } = ev.header;
      if (operation === AfcOpcode.FileRefOpen) dev.write(encodeOpenResultReply(packetNum, 1));
      else if (operation === AfcOpcode.FileRefRead) {
        reads++;
        const size = Number(ev.headerPayload.readBigUInt64LE(8));
        dev.write(encodeDataReplyHeader(packetNum, size));
        dev.write(payload.subarray(0, size));
      } else dev.write(encodeStatusReply(packetNum, 0));
    }
  });
  return { client: new AfcClient(a), reads: () => reads, payload };
}

test('createReadStream hands out views of the received chunks (bytesCopied stays 0 for 8 MiB of payload)', async () => {
  const t = await tempDir();
  const data = randomBytes(8 * 1024 * 1024 + 17);
  await fs.writeFile(join(t.dir, 'f'), data);
  const { client, server } = pairedClient({ root: t.dir });
  try {
    const chunks = await collect(client.createReadStream('/f', { chunkSize: 1024 * 1024, maxInFlight: 4 }));
    assert.ok(Buffer.concat(chunks).equals(data));
    // Each chunk is a whole 1 MiB read from the server (the exact buffer it read into), not a re-assembled copy.
    assert.equal(chunks[0]!.length, 1024 * 1024);
    assert.equal(client.bytesCopied, 0);
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('the consumer gets the very buffers the device wrote (views, same ArrayBuffer)', async () => {
  const { client, payload } = endlessDevice();
  const rs = client.createReadStream('/f', { chunkSize: 64 * 1024, maxInFlight: 2 });
  const first = (await rs[Symbol.asyncIterator]().next()).value as Buffer;
  assert.equal(first.buffer, payload.buffer);
  rs.destroy();
  client.close();
});

test('a slow consumer keeps memory bounded: no READ is issued while push() returns false', async () => {
  const { client, reads } = endlessDevice();
  const chunk = 256 * 1024;
  const maxInFlight = 3;
  const hwm = 512 * 1024;
  const rs = client.createReadStream('/f', { chunkSize: chunk, maxInFlight, highWaterMark: hwm });
  rs.pause();
  rs.on('readable', () => undefined); // make the stream fill its buffer, but never read from it
  await settle();
  const issued = reads();
  const bound = maxInFlight + Math.ceil(hwm / chunk) + 1;
  assert.ok(issued > 0 && issued <= bound, `issued ${issued} READs, bound ${bound}`);
  await settle();
  assert.equal(reads(), issued, 'no READ while the consumer is stalled');
  assert.ok(rs.readableLength <= hwm + maxInFlight * chunk);
  // Consume 40 chunks slowly: bytes requested but not consumed stay under the bound.
  let consumed = 0;
  rs.removeAllListeners('readable');
  for await (const c of rs) {
    consumed += (c as Buffer).length;
    assert.ok(reads() * chunk - consumed <= (bound + 1) * chunk, `outstanding ${reads() * chunk - consumed}`);
    if (consumed >= 40 * chunk) break;
    await settle(2);
  }
  client.close();
});

test('short reads from the device (readChunkLimit) and start offsets still give the exact bytes', async () => {
  const t = await tempDir();
  const data = randomBytes(300_001);
  await fs.writeFile(join(t.dir, 'f'), data);
  const { client, server } = pairedClient({ root: t.dir, readChunkLimit: 10_000 });
  try {
    assert.ok(Buffer.concat(await collect(client.createReadStream('/f', { chunkSize: 65536 }))).equals(data));
    assert.ok(Buffer.concat(await collect(client.createReadStream('/f', { start: 123_456, size: data.length }))).equals(data.subarray(123_456)));
    assert.equal(Buffer.concat(await collect(client.createReadStream('/f', { start: data.length }))).length, 0);
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('a wrong known size (file grew) still reads to the real EOF', async () => {
  const t = await tempDir();
  const data = randomBytes(100_000);
  await fs.writeFile(join(t.dir, 'f'), data);
  const { client, server } = pairedClient({ root: t.dir });
  try {
    assert.ok(Buffer.concat(await collect(client.createReadStream('/f', { size: 10, chunkSize: 4096 }))).equals(data));
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('read stream of a missing file errors with ERR_AFC_OBJECT_NOT_FOUND; of a directory with ERR_AFC_OBJECT_IS_DIR', async () => {
  const t = await tempDir();
  await fs.mkdir(join(t.dir, 'd'));
  const { client, server } = pairedClient({ root: t.dir });
  try {
    await assert.rejects(collect(client.createReadStream('/missing')), (e: unknown) => e instanceof AfcError && e.status === 8);
    await assert.rejects(collect(client.createReadStream('/d')), (e: unknown) => e instanceof AfcError && e.code === 'ERR_AFC_OBJECT_IS_DIR');
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('createWriteStream sends WRITE packets of at most chunkSize; content identical', async () => {
  const t = await tempDir();
  const { client, server, raw } = pairedClient({ root: t.dir });
  const dec = new AfcDecoder({ maxData: 1 << 26 });
  const writes: number[] = [];
  raw[1].on('data', (c: Buffer) => {
    dec.push(c);
    for (let ev; (ev = dec.next()); ) {
      if (ev.kind === 'header' && ev.header.operation === AfcOpcode.FileRefWrite) writes.push(ev.header.entireLength - ev.header.thisLength);
    }
  });
  const data = randomBytes(1024 * 1024 + 5);
  try {
    const ws = client.createWriteStream('/out.bin', { chunkSize: 64 * 1024 });
    await pipeline(
      (async function* () {
        for (let off = 0; off < data.length; off += 10_000) yield data.subarray(off, off + 10_000);
      })(),
      ws,
    );
    assert.ok((await fs.readFile(join(t.dir, 'out.bin'))).equals(data));
    assert.equal(writes.length, Math.ceil(data.length / (64 * 1024)));
    assert.ok(writes.every((n) => n <= 64 * 1024));
    // Appending through a second stream.
    const ws2 = client.createWriteStream('/out.bin', { mode: 'a' });
    await pipeline([Buffer.from('tail')], ws2);
    assert.equal((await fs.readFile(join(t.dir, 'out.bin'))).subarray(-4).toString(), 'tail');
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('write stream into a missing directory fails with ERR_AFC_OBJECT_NOT_FOUND', async () => {
  const t = await tempDir();
  const { client, server } = pairedClient({ root: t.dir });
  try {
    await assert.rejects(pipeline([Buffer.from('x')], client.createWriteStream('/no/such/file')), (e: unknown) => e instanceof AfcError && e.status === 8);
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('aborting a read stream destroys it with ERR_ABORTED', async () => {
  const { client } = endlessDevice();
  const ac = new AbortController();
  const rs = client.createReadStream('/f', { chunkSize: 65536, signal: ac.signal });
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const c of rs) {
        n += (c as Buffer).length;
        if (n > 1024 * 1024) ac.abort();
      }
    })(),
    (e: unknown) => (e as { code?: string }).code === 'ERR_ABORTED',
  );
  client.close();
});

test('a read stream destroyed while its open is in flight ends quietly when the connection then closes (no unhandled error)', async () => {
  const [a, dev] = duplexPair();
  dev.on('data', () => undefined); // never answers the open
  const client = new AfcClient(a);
  const rs = client.createReadStream('/f');
  const errors: unknown[] = [];
  const closed = new Promise<void>((r) => rs.once('close', () => r()));
  await settle(5);
  rs.destroy(); // the consumer gives up (no error listener from here on would be a crash before the fix)
  rs.on('error', (e) => errors.push(e));
  client.close(); // the pending open now rejects with ERR_CLOSED
  await closed;
  await settle(5);
  assert.deepEqual(errors, []);
});
