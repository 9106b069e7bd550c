import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../../src/core/fifo.ts';
import { Limiter, runPool } from '../../../src/photos/limit.ts';
import { mulberry32 } from '../../../src/core/prng.ts';

test('fifo: interleaved push/shift keeps order across ring growth and wrap-around', () => {
  const q = new Fifo<number>();
  const model: number[] = [];
  const rnd = mulberry32(12);
  let next = 0;
  for (let i = 0; i < 20_000; i++) {
    if (rnd() < 0.55) {
      q.push(next);
      model.push(next++);
    } else assert.equal(q.shift(), model.shift());
    assert.equal(q.length, model.length);
    assert.equal(q.peek(), model[0]);
  }
  assert.deepEqual(q.drain(), model);
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
});

test('limiter: at most n in flight, FIFO order; runPool pulls lazily and stops after a failure', async () => {
  const l = new Limiter(3);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      l.run(async () => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        await new Promise((r) => setImmediate(r));
        active--;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));

  let pulled = 0;
  function* items(): Generator<number> {
    for (let i = 0; i < 1e9; i++) {
      pulled++;
      yield i;
    }
  }
  const seen: number[] = [];
  await assert.rejects(
    runPool(items(), 4, async (i) => {
      await new Promise((r) => setImmediate(r));
      if (i === 10) throw new Error('boom');
      seen.push(i);
    }),
    /boom/,
  );
  assert.ok(pulled < 20, `pulled ${pulled} items from an endless source`);
  assert.ok(!seen.includes(10));
});
