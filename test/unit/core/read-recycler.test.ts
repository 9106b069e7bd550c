import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { join } from 'node:path';
import { ReadRecycler, recyclerOf } from '../../../src/core/read-recycler.ts';
import { tempDir } from '../afc/helpers.ts';

/** A unix socket server that writes `payload` in `pieces`-byte writes (one per tick), then ends. */
async function sender(dir: string, payload: Buffer, piece: number): Promise<{ path: string; close: () => Promise<void> }> {
  const path = join(dir, 's.sock');
  const srv = net.createServer((s) => {
    let off = 0;
    const go = (): void => {
      while (off < payload.length) {
        const ok = s.write(payload.subarray(off, off + piece));
        off += piece;
        if (!ok) return void s.once('drain', go);
        if (off % (piece * 8) === 0) return void setImmediate(go);
      }
      s.end();
    };
    go();
  });
  await new Promise<void>((res) => srv.listen(path, res));
  return { path, close: () => new Promise<void>((res) => srv.close(() => res())) };
}

function connect(path: string): { sock: net.Socket; rec: ReadRecycler } {
  const rec = new ReadRecycler();
  const sock = net.connect({ path, onread: rec.onread });
  rec.attach(sock);
  return { sock, rec };
}

const sha = (b: Buffer | Buffer[]): string => {
  const h = createHash('sha256');
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest('hex');
};

test('read recycler without a sink: a plain socket (data events own their bytes, pause/resume, end)', async () => {
  const t = await tempDir();
  const payload = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 11)) & 0xff;
  const srv = await sender(t.dir, payload, 40_000);
  try {
    const { sock, rec } = connect(srv.path);
    assert.equal(recyclerOf(sock), rec);
    const got: Buffer[] = [];
    let paused = 0;
    sock.on('data', (c: Buffer) => {
      got.push(c); // kept: must stay valid although the socket reads into reused memory
      if (got.length % 5 === 0) {
        paused++;
        sock.pause();
        setTimeout(() => sock.resume(), 2);
      }
    });
    await new Promise<void>((res, rej) => sock.once('end', res).once('error', rej));
    assert.ok(paused > 0);
    assert.equal(Buffer.concat(got).length, payload.length);
    assert.equal(sha(got), sha(payload));
    assert.ok(rec.reads > 1);
  } finally {
    await srv.close();
    await t.cleanup();
  }
});

test('read recycler with a sink: one buffer reused while nothing keeps a view; a kept view is never overwritten', async () => {
  const t = await tempDir();
  const payload = Buffer.alloc(8 * 1024 * 1024 + 5);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
  const srv = await sender(t.dir, payload, 64 * 1024);
  try {
    const { sock, rec } = connect(srv.path);
    const hash = createHash('sha256');
    let n = 0;
    const kept: { view: Buffer; copy: Buffer }[] = [];
    const memories = new Set<ArrayBufferLike>();
    // the sink takes over before any byte arrived: nothing waits in the Readable buffer
    assert.deepEqual(rec.setSink((view) => {
      hash.update(view);
      n += view.length;
      memories.add(view.buffer);
      if (rec.reads % 10 === 0) {
        kept.push({ view, copy: Buffer.from(view) });
        return true;
      }
      return false;
    }), []);
    sock.resume();
    await new Promise<void>((res, rej) => sock.once('end', res).once('error', rej));
    assert.equal(n, payload.length);
    assert.equal(hash.digest('hex'), sha(payload));
    assert.ok(rec.reads > 20, `${rec.reads} reads`);
    assert.ok(rec.reused > rec.reads / 2, `${rec.reused} of ${rec.reads} reads reused the buffer`);
    // one memory per kept read at most, plus the reused one(s): far fewer than reads
    assert.ok(memories.size <= kept.length * 2 + 2, `${memories.size} memories for ${rec.reads} reads, ${kept.length} kept`);
    for (const k of kept) assert.ok(k.view.equals(k.copy), 'a kept view was overwritten by a later read');
  } finally {
    await srv.close();
    await t.cleanup();
  }
});
