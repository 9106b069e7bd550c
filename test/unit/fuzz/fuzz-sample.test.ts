/**
 * A seeded sample of the decoder fuzzer (scripts/fuzz.ts, test/fuzz/): a few thousand mutated inputs per decoder from
 * the seed corpora (captures/ and, when present, ../shared/captures/third-party); no input may escape as anything but
 * an IDeviceError with a known code, break an invariant (chunked = whole, round trips, date folders) or take over a
 * second of CPU. The harness itself is checked too: it must catch untyped throws, unknown codes, broken invariants and
 * slow inputs, and be deterministic for a seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import type { ErrorCode } from '../../../src/core/codes.ts';
import { runTarget } from '../../fuzz/engine.ts';
import { Rng, chunks, mutate } from '../../fuzz/mutate.ts';
import { FuzzInvariantError, TARGETS, targetByName, type FuzzTarget } from '../../fuzz/targets.ts';
import { PlistReal, encodeBinaryPlist, parsePlist } from '../../../src/plist/index.ts';

const RUNS = Number(process.env.IOSDEVICE_FUZZ_SAMPLE ?? 2000);
const SEED = 0x12a;

test('fuzz harness: deterministic mutation; chunks cover the input exactly', () => {
  const seeds = [Buffer.from('hello world, a seed'), Buffer.alloc(300, 7)];
  const a = new Rng(5);
  const b = new Rng(5);
  for (let i = 0; i < 500; i++) {
    const x = mutate(a, seeds, { maxLen: 512, dict: ['<dict>'] });
    assert.deepEqual(x, mutate(b, seeds, { maxLen: 512, dict: ['<dict>'] }));
    assert.ok(x.length <= 512);
    const parts = chunks(a, x);
    assert.deepEqual(chunks(b, x), parts);
    assert.ok(parts.length <= 4096);
    assert.deepEqual(Buffer.concat(parts), x);
  }
});

test('fuzz harness: untyped throws, unknown codes, broken invariants and slow inputs are findings', async () => {
  const mk = (run: FuzzTarget['run']): FuzzTarget => ({ name: 'probe', about: '', maxLen: 64, seeds: () => [Buffer.from('abcdefgh')], run });
  const r1 = await runTarget(mk((input) => {
    if (input.length % 2) throw new TypeError('boom');
    throw new IDeviceError('ERR_PROTOCOL', 'fine');
  }), { runs: 200, seed: 1, noThirdParty: true });
  assert.ok(r1.findings.some((f) => f.kind === 'untyped' && /TypeError: boom/.test(f.message)));
  assert.ok(r1.codes.ERR_PROTOCOL! > 0);
  const r2 = await runTarget(mk(() => {
    throw new IDeviceError('ERR_NOT_A_CODE' as ErrorCode, 'x'); // a code missing from the table
  }), { runs: 10, seed: 1, noThirdParty: true });
  assert.equal(r2.findings[0]?.kind, 'unknown-code');
  const r3 = await runTarget(mk(() => {
    throw new FuzzInvariantError('chunked differs');
  }), { runs: 10, seed: 1, noThirdParty: true });
  assert.equal(r3.findings[0]?.kind, 'invariant');
  const r4 = await runTarget(mk(() => {
    const end = process.cpuUsage().user + 30_000;
    while (process.cpuUsage().user < end);
  }), { runs: 3, seed: 1, maxInputMs: 10, noThirdParty: true });
  assert.equal(r4.findings[0]?.kind, 'slow');
  assert.equal(r4.findings[0]?.count, 3);
});

test('fuzz round trip: a decoded <real> beyond 2^53 (7.7e18) re-encodes as <integer> by the documented number rule; not a finding (found by the 10^6 run)', () => {
  const xml = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>T</key><real>17956211111111113000</real></dict></plist>');
  const bin = encodeBinaryPlist({ T: new PlistReal(7715015761402100000), a: [new PlistReal(-(2 ** 60))] });
  const rng = new Rng(1);
  assert.doesNotThrow(() => targetByName('plist-xml')!.run(xml, rng));
  assert.doesNotThrow(() => targetByName('plist-binary')!.run(bin, rng));
  // the invariant still bites on a real mismatch
  assert.deepEqual(parsePlist(encodeBinaryPlist(7715015761402100000)), 7715015761402099712n);
});

for (const t of TARGETS) {
  test(`fuzz sample: ${t.name} — ${RUNS} inputs, only typed errors, invariants hold (${t.about})`, async () => {
    const r = await runTarget(t, { runs: RUNS, seed: SEED });
    assert.ok(r.seeds > 0, 'the target has seeds');
    assert.deepEqual(r.findings.map((f) => `${f.key}\n${f.message}\n${f.stack ?? ''}\ninput (${f.inputLength} bytes): ${f.inputHex.slice(0, 400)}`), []);
  });
}
