import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('the test runner fails a test file that makes Node print a warning', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', './test/support/fail-on-warning.mjs', '-e', "process.emitWarning('boom', 'MaxListenersExceededWarning'); setTimeout(() => {}, 50)"], { cwd: root, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Node printed a warning during the tests: MaxListenersExceededWarning: boom/);
});
