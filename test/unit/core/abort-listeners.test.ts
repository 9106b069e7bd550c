/**
 * One abort listener per signal, however many calls are in flight on it (core/abort.ts onAbort): 11+
 * concurrent requests with one signal print no MaxListenersExceededWarning, aborting still rejects every
 * pending call, and finished calls leave nothing behind on a long-lived signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { onAbort, withCallOpts } from '../../../src/core/abort.ts';
import { AfcClient } from '../../../src/afc/client.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { runBackup } from '../../../src/photos/backup.ts';
import { MemDevice } from '../photos/fake-device.ts';
import { addLibrary } from '../photos/helpers.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Collects the warnings Node emits while `fn` runs (and a few turns after). */
async function warningsDuring(fn: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const on = (w: Error): void => void seen.push(w);
  process.on('warning', on);
  try {
    await fn();
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length;

test('withCallOpts: 50 pending calls on one signal hold one listener; abort rejects each with ERR_ABORTED; no warning', async () => {
  const ac = new AbortController();
  const warnings = await warningsDuring(async () => {
    const cancelled: number[] = [];
    const calls = Array.from({ length: 50 }, (_, i) => withCallOpts(`op ${i}`, new Promise<never>(() => {}), { signal: ac.signal }, () => cancelled.push(i)));
    assert.equal(listeners(ac.signal), 1);
    ac.abort(new Error('stop'));
    const results = await Promise.allSettled(calls);
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ERR_ABORTED'));
    assert.equal(cancelled.length, 50, 'every call was cancelled');
  });
  assert.deepEqual(warnings.map((w) => w.name), []);
});

test('withCallOpts: calls that finish leave no listener on a long-lived signal', async () => {
  const ac = new AbortController();
  await Promise.all(Array.from({ length: 30 }, (_, i) => withCallOpts('op', Promise.resolve(i), { signal: ac.signal })));
  assert.equal(listeners(ac.signal), 0);
  const un = onAbort(ac.signal, () => assert.fail('unsubscribed'));
  assert.equal(listeners(ac.signal), 1);
  un();
  un(); // idempotent
  assert.equal(listeners(ac.signal), 0);
  ac.abort();
  let ran = 0;
  onAbort(ac.signal, () => ran++); // already aborted: runs at once
  assert.equal(ran, 1);
});

test('AFC: 20 stats and 12 read streams in flight on one signal against a silent device: one listener, no warning, all aborted', async () => {
  const [host, dev] = duplexPair();
  dev.on('data', () => undefined); // reads every request, never answers
  const afc = new AfcClient(host, { maxInFlight: 64 });
  const ac = new AbortController();
  try {
    const warnings = await warningsDuring(async () => {
      const stats = Array.from({ length: 20 }, (_, i) => afc.stat(`/f${i}`, { signal: ac.signal }));
      const streams = Array.from({ length: 12 }, (_, i) => afc.createReadStream(`/r${i}`, { signal: ac.signal }));
      const ends = streams.map((s) => new Promise<string | undefined>((resolve) => {
        s.on('error', (e) => resolve((e as { code?: string }).code));
        s.on('close', () => resolve(undefined));
        s.resume();
      }));
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      assert.equal(listeners(ac.signal), 1, 'one shared listener');
      ac.abort(new Error('Ctrl-C'));
      const r = await Promise.allSettled(stats);
      assert.ok(r.every((x) => x.status === 'rejected' && (x.reason as { code?: string }).code === 'ERR_ABORTED'), 'every stat rejected');
      assert.deepEqual(await Promise.all(ends), streams.map(() => 'ERR_ABORTED'), 'every stream ended with ERR_ABORTED');
    });
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    afc.close();
  }
});

test('photos: a backup over 4 connections (16 files in flight) with one signal prints no warning', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'abort-listeners-'));
  try {
    const dev = new MemDevice();
    addLibrary(dev, 60);
    const ac = new AbortController();
    let peak = 0;
    const warnings = await warningsDuring(async () => {
      const s = await runBackup({ dest, device: dev, connections: 4, signal: ac.signal, onEvent: () => (peak = Math.max(peak, listeners(ac.signal))) });
      assert.equal(s.status, 'complete');
    });
    assert.deepEqual(warnings.map((w) => w.name), []);
    assert.ok(peak <= 1, `at most one listener on the run's signal (saw ${peak})`);
    assert.equal(listeners(ac.signal), 0, 'none left after the run');
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
});
