import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readU64LE, writeU64LE, readI64LE } from '../../../src/core/u64.ts';
import { IDeviceError, ProtocolError, TimeoutError, AbortError } from '../../../src/core/errors.ts';
import { withCallOpts } from '../../../src/core/abort.ts';

test('u64 round trip up to 2^53-1 and rejects a high word above 0x1fffff', () => {
  const b = Buffer.alloc(8);
  for (const v of [0, 1, 0xffffffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER]) {
    writeU64LE(b, v, 0);
    assert.equal(readU64LE(b, 0), v);
  }
  b.writeUInt32LE(0x200000, 4);
  assert.throws(() => readU64LE(b, 0), (e: unknown) => e instanceof ProtocolError && e.code === 'ERR_PROTOCOL');
  assert.throws(() => writeU64LE(b, -1, 0), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_PROTOCOL');
  b.writeBigInt64LE(-5n, 0);
  assert.equal(readI64LE(b, 0), -5);
});

test('errors keep code, class name and cause', () => {
  const cause = new Error('x');
  const e = new ProtocolError('afc', 'bad magic', 3, { cause });
  assert.equal(e.code, 'ERR_PROTOCOL');
  assert.equal(e.name, 'ProtocolError');
  assert.equal(e.cause, cause);
  assert.ok(e instanceof IDeviceError);
  assert.ok(!(new Error('y') instanceof IDeviceError));
});

test('withCallOpts: timeout and abort give typed errors and run onCancel', async () => {
  let cancelled = 0;
  await assert.rejects(withCallOpts('op', new Promise(() => {}), { timeoutMs: 10 }, () => cancelled++), (e: unknown) => e instanceof TimeoutError && e.code === 'ERR_TIMEOUT');
  const ac = new AbortController();
  const p = withCallOpts('op', new Promise(() => {}), { signal: ac.signal }, () => cancelled++);
  ac.abort();
  await assert.rejects(p, (e: unknown) => e instanceof AbortError && e.code === 'ERR_ABORTED');
  assert.equal(cancelled, 2);
  assert.equal(await withCallOpts('op', Promise.resolve(5), { timeoutMs: 1000 }), 5);
});
