/** Progress-based transfer timeouts (watch.ts) and the consecutive-timeout rule of ConnectionSlots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClosedError, TimeoutError } from '../../../src/core/errors.ts';
import { ConnectionSlots } from '../../../src/photos/connections.ts';
import type { PhotoAfc, PhotoDevice } from '../../../src/photos/source.ts';
import { TransferTimeoutError, watched } from '../../../src/photos/watch.ts';

/** A stream that pushes `chunk` bytes every `everyMs` (forever, or `total` bytes). */
function dribble(chunk: number, everyMs: number, total = Infinity): Readable {
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (sent >= total) return void this.push(null);
        sent += chunk;
        this.push(Buffer.alloc(chunk, 1));
      }, everyMs);
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
}

async function drain(it: AsyncIterable<Buffer>, perChunkMs = 0): Promise<number> {
  let n = 0;
  for await (const c of it) {
    n += c.length;
    if (perChunkMs) await sleep(perChunkMs);
  }
  return n;
}

test('watch: a trickling stream is cut off with ERR_TIMEOUT naming the file and the rate', async () => {
  const rs = dribble(8, 20);
  const e = await drain(watched(rs, 'reading /DCIM/100APPLE/IMG_0001.JPG', { idleMs: 5000, minBytesPerSec: 4096, windowMs: 300 })).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(e instanceof TransferTimeoutError, String(e));
  assert.ok(e instanceof TimeoutError);
  assert.equal(e.code, 'ERR_TIMEOUT');
  assert.ok(e.bytesPerSec < 4096 && e.bytesPerSec > 0, String(e.bytesPerSec));
  assert.match(e.message, /^reading \/DCIM\/100APPLE\/IMG_0001\.JPG timed out: [\d.]+ B\/s over the last [\d.]+ s, below the minimum of 4\.0 KiB\/s$/);
  assert.ok(rs.destroyed);
});

test('watch: no byte at all fails after the idle time ("no data"); a healthy stream passes', async () => {
  const silent = new Readable({ read() {} });
  await assert.rejects(drain(watched(silent, 'reading /x', { idleMs: 150, minBytesPerSec: 0, windowMs: 10_000 })), (e: unknown) => e instanceof TransferTimeoutError && /timed out: no data for 0\.\d s/.test(e.message));
  assert.equal(await drain(watched(dribble(4096, 1, 40 * 4096), 'reading /y', { idleMs: 150, minBytesPerSec: 1024, windowMs: 100 })), 40 * 4096);
});

test('watch: a slow consumer (slow DEST) is not counted against the device', async () => {
  // The device answers at once; the consumer spends 60 ms per chunk, far beyond the 40 ms window.
  const rs = Readable.from((function* () {
    for (let i = 0; i < 8; i++) yield Buffer.alloc(16);
  })());
  assert.equal(await drain(watched(rs, 'reading /z', { idleMs: 40, minBytesPerSec: 1e9, windowMs: 40 }), 60), 128);
});

class StubAfc implements PhotoAfc {
  stat(): never {
    throw new Error('unused');
  }
  readdir(): never {
    throw new Error('unused');
  }
  createReadStream(): never {
    throw new Error('unused');
  }
  remove(): never {
    throw new Error('unused');
  }
  close(): void {}
}

test('slots: a timeout is retried on a new connection once; a second one without progress gives up with "stopped answering … timed out"', async () => {
  let opened = 0;
  const dev: PhotoDevice = { udid: 'u', openAfc: async () => (opened++, new StubAfc()) };
  const slots = new ConnectionSlots(dev, 2, 10);
  const a = await slots.get(0);
  const b = await slots.get(1);
  const t = (): TimeoutError => new TimeoutError('AFC GetFileInfo', 15000);
  slots.broken(0, a, t());
  slots.broken(1, b, t()); // both slots of the first stall: not yet "again"
  assert.equal(slots.dead, undefined);
  const a2 = await slots.get(0);
  slots.ok(); // the device answered in between: the rule starts over
  slots.broken(0, a2, t());
  assert.equal(slots.dead, undefined);
  const a3 = await slots.get(0);
  slots.broken(0, a3, t());
  const dead = slots.dead as Error & { code: string } | undefined;
  assert.equal(dead?.code, 'ERR_PHOTOS_DISCONNECTED');
  assert.match(dead!.message, /^the device stopped answering: AFC GetFileInfo timed out after 15000 ms \(again on a new connection\)$/);
  await assert.rejects(slots.get(1), /stopped answering/);
  assert.equal(opened, 4);

  // drops are not timeouts: they spend the budget, and the final message says what happened last
  const slots2 = new ConnectionSlots(dev, 1, 1);
  slots2.broken(0, await slots2.get(0), new ClosedError('afc'));
  slots2.broken(0, await slots2.get(0), new ClosedError('afc'));
  await assert.rejects(slots2.get(0), /reconnect budget is spent \(last: afc: connection closed\)/);
});

test("watch, with the connection's byte count: a file waiting behind other files' reads on a connection that is sending is not timed out; a connection that stops or trickles still is", async () => {
  let conn = 0;
  const o = { idleMs: 150, minBytesPerSec: 4096, windowMs: 200 };
  // the device sends other files' data on this connection (64 KiB every 10 ms) for 600 ms; this file's bytes come after
  const busy = setInterval(() => (conn += 65536), 10);
  const late = new Readable({ read() {} });
  setTimeout(() => {
    clearInterval(busy);
    conn += 1000;
    late.push(Buffer.alloc(1000, 1));
    late.push(null);
  }, 600);
  assert.equal(await drain(watched(late, 'reading /DCIM/100APPLE/IMG_0008.JPG', o, () => conn)), 1000);
  // without the connection's count the same wait is "no data"
  const alone = new Readable({ read() {} });
  setTimeout(() => alone.push(null), 600).unref();
  await assert.rejects(drain(watched(alone, 'reading /a', o)), (e: unknown) => e instanceof TransferTimeoutError && /no data/.test(e.message));
  // the connection goes quiet: no data
  const quiet = new Readable({ read() {} });
  await assert.rejects(drain(watched(quiet, 'reading /b', o, () => conn)), (e: unknown) => e instanceof TransferTimeoutError && /timed out: no data for 0\.\d s/.test(e.message));
  assert.ok(quiet.destroyed);
  // the connection trickles (8 bytes every 20 ms, for another file or this one): below the rate
  const trickle = setInterval(() => (conn += 8), 20);
  const starved = new Readable({ read() {} });
  try {
    await assert.rejects(drain(watched(starved, 'reading /c', o, () => conn)), (e: unknown) => e instanceof TransferTimeoutError && /B\/s over the last [\d.]+ s, below the minimum of 4\.0 KiB\/s$/.test(e.message));
  } finally {
    clearInterval(trickle);
  }
});
