/**
 * `node --import tsx bench/render.ts [--merge OTHER.json]`: re-renders bench/results/latest.{md,svg} and the README's
 * benchmark part from bench/results/latest.json, without running anything. With --merge, the scenarios of OTHER.json
 * that latest.json does not have are added first (e.g. when two branches each ran different scenarios; each scenario
 * keeps its own date, load and figures).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, renderReadmeSection, renderSvg, replaceReadmeSection, type BenchRun } from './report.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = join(here, 'results');
const run = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchRun;
const i = process.argv.indexOf('--merge');
if (i >= 0) {
  const other = JSON.parse(await readFile(process.argv[i + 1]!, 'utf8')) as BenchRun;
  const have = new Set(run.scenarios.map((s) => s.name));
  run.scenarios = [...run.scenarios, ...other.scenarios.filter((s) => !have.has(s.name))].sort((x, y) => (x.name < y.name ? -1 : 1));
}
await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
await writeFile(join(outDir, 'latest.md'), `${renderMarkdown(run)}\n`);
await writeFile(join(outDir, 'latest.svg'), `${renderSvg(run)}\n`);
const readmePath = join(here, '..', 'README.md');
const readme = await readFile(readmePath, 'utf8');
const next = replaceReadmeSection(readme, renderReadmeSection(run));
if (next !== readme) await writeFile(readmePath, next);
console.log(`rendered ${run.scenarios.map((s) => s.name).join(', ')}`);
