#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than a file in src/, so that the CLI child
// processes of tests, the demo and bench never run a stale build. A no-op costs a few milliseconds.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Runs the build if needed; returns false (after printing tsc's output) when it fails. */
export function ensureBuild() {
  let built = 0;
  try {
    built = statSync(join(root, 'dist/.tsbuildinfo')).mtimeMs;
  } catch {
    // never built
  }
  const inputs = Math.max(newest(join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(root, f)).mtimeMs));
  if (built >= inputs) return true;
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) return false;
  const now = new Date();
  utimesSync(join(root, 'dist/.tsbuildinfo'), now, now); // tsc leaves it alone when no output changed
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(ensureBuild() ? 0 : 1);
