/**
 * `npm run bench [-- --quick] [-- --only NAME] [-- scenario options]`: runs every bench/scenarios/*.ts (default
 * export: a BenchScenario), prints a Markdown summary and writes bench/results/latest.{json,md,svg}. The whole
 * command line reaches each scenario as ctx.args (peers: --rounds, --peer-limit-s, --cells; see its header).
 */
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { disposeChildBundles } from './child.ts';
import { renderMarkdown, renderReadmeSection, renderSvg, replaceReadmeSection, type BenchRun } from './report.ts';
import type { BenchScenario, BenchScenarioResult } from './scenario.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(here, '..');

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = argValue(args, '--only');
  const scenarioDir = join(here, 'scenarios');
  const files = (await readdir(scenarioDir)).filter((f) => f.endsWith('.ts')).sort();
  const results: BenchScenarioResult[] = [];
  let failed = false;
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(scenarioDir, f)).href)) as { default?: BenchScenario };
    const sc = mod.default;
    if (!sc || typeof sc.run !== 'function') {
      console.error(`bench: ${f} has no default-exported scenario; skipped`);
      continue;
    }
    if (only && sc.name !== only && !f.startsWith(only)) continue;
    const tmp = await mkdtemp(join(tmpdir(), `iosdevice-bench-${sc.name}-`));
    const t0 = performance.now();
    const l0 = loadavg()[0]!;
    const loads = [l0];
    const sampler = setInterval(() => loads.push(loadavg()[0]!), 10_000);
    sampler.unref();
    const sampled = (): { mean: number; max: number; samples: number } => ({
      mean: loads.reduce((a, b) => a + b, 0) / loads.length,
      max: Math.max(...loads),
      samples: loads.length,
    });
    console.error(`bench: ${sc.name}${quick ? ' (quick)' : ''}`);
    try {
      const r = await sc.run({ quick, tmpDir: tmp, repoRoot, args, log: (l) => console.error(`  ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(1)} ${sc.name}: ${l}`) });
      loads.push(loadavg()[0]!);
      results.push({
        name: sc.name,
        description: sc.description,
        date: new Date().toISOString(),
        quick,
        loadAvg: [l0, loadavg()[0]!],
        loadAvgSampled: sampled(),
        seconds: (performance.now() - t0) / 1000,
        measurements: r.measurements,
        targets: r.targets ?? [],
        ...(r.reduced ? { reduced: r.reduced } : {}),
      });
    } catch (e) {
      failed = true;
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      console.error(`bench: ${sc.name} failed: ${msg}`);
      results.push({ name: sc.name, description: sc.description, date: new Date().toISOString(), quick, seconds: (performance.now() - t0) / 1000, measurements: [], targets: [], error: msg });
    } finally {
      clearInterval(sampler);
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const run: BenchRun = {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    scenarios: results,
  };
  const outDir = join(here, 'results');
  await mkdir(outDir, { recursive: true });
  if (only) {
    // A partial run keeps the other scenarios' previous results (each carries its own date).
    try {
      const prev = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchRun;
      const ran = new Set(results.map((r) => r.name));
      run.scenarios = [...prev.scenarios.filter((x) => !ran.has(x.name)), ...results].sort((x, y) => (x.name < y.name ? -1 : 1));
    } catch {
      // no previous results
    }
  }
  const md = renderMarkdown(run);
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.md'), `${md}\n`);
  await writeFile(join(outDir, 'latest.svg'), `${renderSvg(run)}\n`);
  if (!quick) {
    // The README's benchmark tables are generated from the (merged) results of full runs only.
    const readmePath = join(repoRoot, 'README.md');
    const readme = await readFile(readmePath, 'utf8');
    const next = replaceReadmeSection(readme, renderReadmeSection(run));
    if (next !== readme) await writeFile(readmePath, next);
  }
  console.log(md);
  return failed ? 1 : 0;
}

main()
  .catch((e: unknown) => {
    console.error(e);
    return 1;
  })
  .then(async (code) => {
    await disposeChildBundles().catch(() => undefined);
    process.exit(code);
  });
