/**
 * The known-size fast path of the AFC read stream: READs asking for exactly size + 1 bytes in all, the CLOSE sent
 * right behind the last READ (before its reply), and the fallback that reopens and reads to the real EOF when the
 * device answers short or the file changed size since the stat. Requests are observed on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AfcDecoder } from '../../../src/afc/codec.ts';
import { AfcOpcode, opcodeName } from '../../../src/afc/protocol.ts';
import type { AfcServerOptions } from '../../../src/afc/server.ts';
import { pairedClient, tempDir } from './helpers.ts';

async function collect(rs: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of rs) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** A client/server pair over one folder whose wire traffic is logged in order: 'req:<op> <READ size>' / 'rep:<op>'. */
async function tracedPair(files: Record<string, Buffer>, opts: Partial<AfcServerOptions> = {}) {
  const t = await tempDir();
  for (const [name, data] of Object.entries(files)) await fs.writeFile(join(t.dir, name), data);
  const p = pairedClient({ root: t.dir, ...opts });
  const log: string[] = [];
  const watch = (side: 'req' | 'rep', s: NodeJS.ReadableStream): void => {
    const d = new AfcDecoder({ maxData: 1 << 26 });
    s.on('data', (c: Buffer) => {
      d.push(c);
      for (let ev; (ev = d.next()); ) {
        if (ev.kind !== 'header') continue;
        const op = opcodeName(ev.header.operation);
        log.push(ev.header.operation === AfcOpcode.FileRefRead && side === 'req' ? `req:${op} ${ev.headerPayload.readBigUInt64LE(8)}` : `${side}:${op}`);
      }
    });
  };
  watch('req', p.raw[1]);
  watch('rep', p.raw[0]);
  return {
    ...p,
    dir: t.dir,
    log,
    async done() {
      p.client.close();
      await p.server.done;
      await t.cleanup();
    },
  };
}

test('a small file of known size: OPEN, then READ(size + 1) and CLOSE pipelined (CLOSE before the READ reply)', async () => {
  const data = randomBytes(40_000);
  const p = await tracedPair({ f: data });
  try {
    assert.ok((await collect(p.client.createReadStream('/f', { size: data.length }))).equals(data));
    assert.deepEqual(p.log, ['req:FileRefOpen', 'rep:FileRefOpenResult', 'req:FileRefRead 40001', 'req:FileRefClose', 'rep:Data', 'rep:Status']);
  } finally {
    await p.done();
  }
});

test('a larger file of known size: chunked READs summing to size + 1, CLOSE right behind the last, no EOF read', async () => {
  const data = randomBytes(3 * 65536 + 10);
  const p = await tracedPair({ f: data });
  try {
    assert.ok((await collect(p.client.createReadStream('/f', { size: data.length, chunkSize: 65536, maxInFlight: 8 }))).equals(data));
    const reqs = p.log.filter((l) => l.startsWith('req:'));
    assert.deepEqual(reqs, ['req:FileRefOpen', 'req:FileRefRead 65536', 'req:FileRefRead 65536', 'req:FileRefRead 65536', 'req:FileRefRead 11', 'req:FileRefClose']);
    assert.ok(p.log.indexOf('req:FileRefClose') < p.log.indexOf('rep:Data'), 'CLOSE sent before the first DATA reply');
  } finally {
    await p.done();
  }
});

test('fallbacks: short device reads, a file that grew and one that shrank since the stat all give the real bytes', async () => {
  const data = randomBytes(300_001);
  const short = await tracedPair({ f: data }, { readChunkLimit: 10_000 });
  try {
    assert.ok((await collect(short.client.createReadStream('/f', { size: data.length, chunkSize: 65536 }))).equals(data));
    assert.ok(short.log.filter((l) => l === 'req:FileRefOpen').length >= 2, 'reopened to read on');
  } finally {
    await short.done();
  }
  const p = await tracedPair({ grew: data, shrank: data.subarray(0, 1000) });
  try {
    assert.ok((await collect(p.client.createReadStream('/grew', { size: 5000 }))).equals(data), 'grew: read to the real EOF');
    assert.ok((await collect(p.client.createReadStream('/shrank', { size: 5000 }))).equals(data.subarray(0, 1000)), 'shrank: the bytes there are');
    assert.equal(p.log.filter((l) => l === 'req:FileRefOpen').length, p.log.filter((l) => l === 'req:FileRefClose').length, 'every handle closed');
  } finally {
    await p.done();
  }
});

test('an empty file of known size 0: READ(1) + CLOSE, no data', async () => {
  const p = await tracedPair({ e: Buffer.alloc(0) });
  try {
    assert.equal((await collect(p.client.createReadStream('/e', { size: 0 }))).length, 0);
    assert.deepEqual(p.log.filter((l) => l.startsWith('req:')), ['req:FileRefOpen', 'req:FileRefRead 1', 'req:FileRefClose']);
  } finally {
    await p.done();
  }
});
