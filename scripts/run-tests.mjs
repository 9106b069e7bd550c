#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test (TypeScript through tsx; builds dist/ first if stale), prints the spec report and
// ends with one line "N passed, N failed, N skipped" counted from the runner's own events.
// Usage: npm test [-- PATH_OR_SUBSTRING ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuild } from './ensure-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
let files = walk(join(root, 'test')).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => relative(root, f).includes(x.replace(/^\.\//, ''))));
if (files.length === 0) {
  console.error('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
// tests that run the `iosdevice` command as a child process run the build (bin/ -> dist/): never a stale one
if (!ensureBuild()) {
  console.error('the build (tsc -p tsconfig.build.json) failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const args = [
  '--import', 'tsx',
  '--conditions=source', // `import 'iosdevice/…'` (examples, self-references) resolves to src/ through tsx
  '--import', './test/support/fail-on-warning.mjs',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/summary-reporter.mjs', '--test-reporter-destination=stdout',
  ...files.map((f) => relative(root, f)),
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
