import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommonArgs, deviceSelector, writeJson } from '../../../src/cli/common.ts';
import { InvalidArgumentError } from '../../../src/core/errors.ts';

test('parseCommonArgs: common options, both value forms, positionals, --', () => {
  const p = parseCommonArgs(['--socket', 'UNIX:/tmp/x', '-u', 'ABC', '--json', 'pos', '--out=dir', '--force', '--', '--json'], {
    flags: ['--force'],
    options: ['--out'],
  });
  assert.deepEqual(p.common, { socket: 'UNIX:/tmp/x', udid: 'ABC', json: true, usb: false });
  assert.deepEqual([...p.flags], ['--force']);
  assert.equal(p.options.get('--out'), 'dir');
  assert.deepEqual(p.positionals, ['pos', '--json']);
  assert.deepEqual(deviceSelector(p.common), { socket: 'UNIX:/tmp/x', udid: 'ABC' });
  assert.deepEqual(deviceSelector(parseCommonArgs(['--usb', '--udid=X']).common), { udid: 'X', usb: true });
});

test('parseCommonArgs: aliases map short names', () => {
  const p = parseCommonArgs(['-f', '-o', 'x'], { flags: ['--force'], options: ['--out'], aliases: { '-f': '--force', '-o': '--out' } });
  assert.ok(p.flags.has('--force'));
  assert.equal(p.options.get('--out'), 'x');
});

test('parseCommonArgs: bad input gives ERR_INVALID_ARG', () => {
  for (const args of [['--nope'], ['--socket'], ['-u'], ['--json=1'], ['--socket=']]) {
    assert.throws(() => parseCommonArgs(args), (e: unknown) => e instanceof InvalidArgumentError && e.code === 'ERR_INVALID_ARG');
  }
});

test('writeJson: one line, Buffers as base64, bigint as string', () => {
  let out = '';
  writeJson({ stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream }, { a: Buffer.from('hi'), b: 1n << 60n });
  assert.equal(out, '{"a":"aGk=","b":"1152921504606846976"}\n');
});

test('parseCommonArgs: maxPositionals rejects extra positionals with ERR_INVALID_ARG', () => {
  assert.deepEqual(parseCommonArgs(['a'], { maxPositionals: 1 }).positionals, ['a']);
  assert.throws(() => parseCommonArgs(['--json', 'extra'], { maxPositionals: 0 }), { code: 'ERR_INVALID_ARG' });
  assert.throws(() => parseCommonArgs(['--', '--json'], { maxPositionals: 0 }), { code: 'ERR_INVALID_ARG' });
  assert.deepEqual(parseCommonArgs(['a', 'b', 'c']).positionals, ['a', 'b', 'c']);
});
