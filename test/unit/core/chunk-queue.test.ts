import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChunkQueue } from '../../../src/core/chunk-queue.ts';

test('takeSome returns views of the pushed chunk (no copy)', () => {
  const q = new ChunkQueue();
  const a = Buffer.from('hello world');
  q.push(a);
  const v = q.takeSome(5);
  assert.equal(v.toString(), 'hello');
  assert.equal(v.buffer, a.buffer);
  assert.equal(v.byteOffset, a.byteOffset);
  assert.equal(q.length, 6);
  assert.equal(q.bytesCopied, 0);
});

test('take across chunks copies and counts; within one chunk it is a view', () => {
  const q = new ChunkQueue();
  q.push(Buffer.from('ab'));
  q.push(Buffer.from('cdef'));
  const h = q.take(3);
  assert.equal(h.toString(), 'abc');
  assert.equal(q.bytesCopied, 3);
  const v = q.take(3);
  assert.equal(v.toString(), 'def');
  assert.equal(q.bytesCopied, 3);
  assert.equal(q.length, 0);
});

test('peek and peekUInt32 do not consume, across chunk borders', () => {
  const q = new ChunkQueue();
  q.push(Buffer.from([1, 0]));
  q.push(Buffer.from([0, 0, 2, 0, 0, 0]));
  assert.equal(q.peekUInt32LE(0), 1);
  assert.equal(q.peekUInt32LE(4), 2);
  assert.deepEqual([...q.peek(3, 1)], [0, 0, 0]);
  assert.equal(q.length, 8);
});

test('drain hands over every remaining byte in order', () => {
  const q = new ChunkQueue();
  q.push(Buffer.from('xy'));
  q.push(Buffer.from('z'));
  q.take(1);
  assert.equal(Buffer.concat(q.drain()).toString(), 'yz');
  assert.equal(q.length, 0);
});

test('property: any chunking and any take sizes reproduce the stream', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 50 })), (chunks, sizes) => {
      const q = new ChunkQueue();
      for (const c of chunks) q.push(Buffer.from(c));
      const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
      const out: Buffer[] = [];
      let i = 0;
      while (q.length > 0) {
        const n = Math.min(sizes.length ? sizes[i++ % sizes.length]! : 7, q.length);
        out.push(i % 2 ? q.take(n) : q.takeSome(n));
      }
      assert.deepEqual(Buffer.concat(out), all);
    }),
  );
});
