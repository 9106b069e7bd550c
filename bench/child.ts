/**
 * Runs a benchmark child (a TypeScript file under bench/) as plain JavaScript in a child Node process with a
 * hard timeout, and parses the JSON object the child prints as its last stdout line. Each child script is
 * bundled once per bench run with esbuild (npm packages left external), so the child's CPU and peak RSS are
 * those of our code on plain Node — not of the tsx loader used at development time. Children measure
 * themselves with selfUsage (./self-usage.ts), so every client is measured in a process of its own.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

export { selfUsage, type SelfUsage } from './self-usage.ts';

let bundleDir: Promise<string> | undefined;
const bundles = new Map<string, Promise<string>>();

/**
 * Bundles `script` (path relative to `repoRoot`) to one ESM .mjs file, once per process; returns its path.
 * The output lives in a temporary folder under node_modules/.cache so that the external npm packages still
 * resolve from the bundle; {@link disposeChildBundles} removes it.
 */
export function bundleChild(script: string, repoRoot: string): Promise<string> {
  const entry = resolve(repoRoot, script);
  let p = bundles.get(entry);
  if (!p) {
    p = (async () => {
      bundleDir ??= (async () => {
        const cache = join(repoRoot, 'node_modules', '.cache');
        await mkdir(cache, { recursive: true });
        return mkdtemp(join(cache, 'iosdevice-bench-js-'));
      })();
      const dir = await bundleDir;
      const outfile = join(dir, `${basename(entry).replace(/\.ts$/, '')}-${bundles.size}.mjs`);
      // esbuild is installed as tsx's dependency; loaded lazily so importing this file stays cheap.
      const { build } = await import('esbuild');
      await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'error' });
      return outfile;
    })();
    bundles.set(entry, p);
  }
  return p;
}

/** Removes the bundles made by {@link bundleChild} in this process. */
export async function disposeChildBundles(): Promise<void> {
  const dir = bundleDir;
  bundleDir = undefined;
  bundles.clear();
  if (dir) await rm(await dir, { recursive: true, force: true });
}

/**
 * Bundles `script` (relative to opts.cwd, see {@link bundleChild}) and runs `node bundle.mjs args…`; resolves
 * with the last stdout line parsed as JSON. The child is SIGKILLed after opts.timeoutMs.
 */
export async function runChild<T>(script: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<T> {
  const js = await bundleChild(script, opts.cwd);
  const child = spawn(process.execPath, [js, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  try {
    const code = await new Promise<number | null>((res, rej) => {
      child.once('error', rej);
      child.once('exit', (c) => res(c));
    });
    if (code !== 0) throw new Error(`${script} exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`);
    const last = out.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as T;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
