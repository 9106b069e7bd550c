/** The adaptive transfer window: file and byte caps, FIFO admission, growth when starved, abort, runWindowed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import { AdaptiveWindow, runWindowed } from '../../../src/core/window.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('admits up to the file window, then FIFO as files are released', async () => {
  const w = new AdaptiveWindow({ initialFiles: 2, maxFiles: 8, maxBytes: 1000 });
  const a = await w.acquire(10);
  const b = await w.acquire(10);
  const order: string[] = [];
  const c = w.acquire(10).then((r) => (order.push('c'), r));
  const d = w.acquire(10).then((r) => (order.push('d'), r));
  await tick();
  assert.deepEqual(order, []);
  assert.equal(w.inFlight, 2);
  a();
  a(); // a second call is ignored
  await tick();
  assert.deepEqual(order, ['c']);
  b();
  await tick();
  assert.deepEqual(order, ['c', 'd']);
  (await c)();
  (await d)();
  assert.equal(w.inFlight, 0);
  assert.equal(w.bytesInFlight, 0);
  assert.equal(w.limit, 2, 'no growth without a starved signal');
});

test('byte budget: a file waits for bytes; one larger than the budget goes alone', async () => {
  const w = new AdaptiveWindow({ initialFiles: 8, maxFiles: 8, maxBytes: 100 });
  const big = await w.acquire(1000); // alone: admitted
  let small = false;
  const s = w.acquire(1).then((r) => ((small = true), r));
  await tick();
  assert.equal(small, false, 'nothing next to an over-budget file');
  big();
  (await s)();
  const x = await w.acquire(60);
  let y = false;
  const yp = w.acquire(60).then((r) => ((y = true), r));
  await tick();
  assert.equal(y, false);
  x();
  (await yp)();
});

test('the window grows by one per file released while the device is starved, up to maxFiles', async () => {
  let starved = true;
  const w = new AdaptiveWindow({ initialFiles: 1, maxFiles: 3, maxBytes: 1e9, starved: () => starved });
  for (let i = 0; i < 5; i++) (await w.acquire(1))();
  assert.equal(w.limit, 3);
  starved = false;
  const w2 = new AdaptiveWindow({ initialFiles: 2, maxFiles: 10, maxBytes: 1e9, starved: () => starved });
  for (let i = 0; i < 5; i++) (await w2.acquire(1))();
  assert.equal(w2.limit, 2);
  assert.throws(() => new AdaptiveWindow({ maxFiles: 0, maxBytes: 1 }), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('abort while waiting rejects with ERR_ABORTED and does not hold a slot', async () => {
  const w = new AdaptiveWindow({ initialFiles: 1, maxFiles: 1, maxBytes: 1e9 });
  const a = await w.acquire(1);
  const ac = new AbortController();
  const waiting = w.acquire(1, ac.signal);
  const next = w.acquire(1);
  ac.abort();
  await assert.rejects(waiting, (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_ABORTED');
  a();
  (await next)();
  assert.equal(w.inFlight, 0);
  await assert.rejects(w.acquire(1, ac.signal), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_ABORTED');
});

test('runWindowed: every item once, never more in flight than the window, lazily pulled, first failure stops admission', async () => {
  const w = new AdaptiveWindow({ initialFiles: 3, maxFiles: 3, maxBytes: 1e9 });
  let active = 0;
  let peak = 0;
  let pulled = 0;
  const seen: number[] = [];
  async function* source(): AsyncGenerator<number> {
    for (let i = 0; i < 20; i++) {
      pulled++;
      yield i;
    }
  }
  await runWindowed(source(), w, () => 1, async (i) => {
    active++;
    peak = Math.max(peak, active);
    assert.ok(pulled - seen.length <= 4, 'items are pulled only as they are admitted');
    await tick();
    seen.push(i);
    active--;
  });
  assert.equal(peak, 3);
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  const started: number[] = [];
  await assert.rejects(
    runWindowed(Array.from({ length: 50 }, (_, i) => i), new AdaptiveWindow({ initialFiles: 2, maxFiles: 2, maxBytes: 1e9 }), () => 0, async (i) => {
      started.push(i);
      await tick();
      if (i === 3) throw new Error('boom');
    }),
    /boom/,
  );
  assert.ok(started.length < 10, `stopped admitting after the failure (${started.length} started)`);
});
