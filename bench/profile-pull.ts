/**
 * `node --import tsx bench/profile-pull.ts [--tree small|mixed|large] [--quick] [--runs N] [--top N] [--out FILE]`:
 * CPU profile of our `afc pull` (bench/afc/client-child.ts, esbuild-bundled plain JavaScript, library defaults) pulling
 * a peers tree (bench/afc/trees.ts; default the 20,000 small files) from the unshaped emulator, with
 * `node --cpu-prof` on the client child only. Prints (and with --out writes) the top self-time functions, summed over
 * the runs, as a Markdown table, plus MB/s, files/s and CPU s/GB of each run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleChild, disposeChildBundles } from './child.ts';
import { prepareEmulator } from './afc/ifuse.ts';
import { makeTree, type Tree } from './afc/trees.ts';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Maps a line of an esbuild bundle to the source file it came from (esbuild's `// path` comments). */
function sourceOf(bundle: string): (line: number) => string | undefined {
  const marks: [number, string][] = [];
  bundle.split('\n').forEach((l, i) => {
    const m = /^\/\/ ((?:src|bench|node_modules)\/\S+\.(?:ts|js|mjs|cjs))$/.exec(l);
    if (m) marks.push([i + 1, m[1]!]);
  });
  return (line) => {
    let found: string | undefined;
    for (const [at, path] of marks) {
      if (at > line) break;
      found = path;
    }
    return found;
  };
}

/** Self time per function (µs), keyed by name + file + line, from a .cpuprofile. */
export function selfTimes(p: CpuProfile, mapBundle?: (line: number) => string | undefined): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const f = n.callFrame;
    const url = f.url.replace(/^file:\/\//, '');
    const line = f.lineNumber + 1;
    let where = '';
    if (/\/node_modules\/\.cache\/iosdevice-bench-js-/.test(url)) where = `${mapBundle?.(line) ?? 'bundle'} (bundle line ${line})`;
    else if (url) where = `${url.startsWith('/') ? relative(repoRoot, url) : url}:${line}`;
    const key = `${f.functionName || '(anonymous)'}|${where}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return out;
}

async function main(): Promise<void> {
  const treeName = (arg('--tree') ?? 'small') as Tree['name'];
  const runs = Number(arg('--runs') ?? 1);
  const top = Number(arg('--top') ?? 25);
  const tmp = await mkdtemp(join(tmpdir(), 'iosdevice-profile-'));
  try {
    const tree = await makeTree(treeName, join(tmp, 'trees'), process.argv.includes('--quick'));
    const prep = await prepareEmulator(tree.media, 'none');
    if ('reason' in prep) throw new Error(prep.reason);
    const js = await bundleChild('bench/afc/client-child.ts', repoRoot);
    const mapBundle = sourceOf(await readFile(js, 'utf8'));
    const total = new Map<string, number>();
    const lines: string[] = [];
    let totalUs = 0;
    try {
      for (let r = 0; r < runs; r++) {
        const profDir = join(tmp, `prof-${r}`);
        const local = join(tmp, 'out', 'DCIM');
        const l0 = loadavg()[0]!;
        const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, js, '--usbmuxd', prep.emu.address, '--remote', '/DCIM', '--local', local], {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        const code = await new Promise<number | null>((res) => child.once('exit', res));
        if (code !== 0) throw new Error(`client child exited with ${code}`);
        const res = JSON.parse(out.trim().split('\n').at(-1)!) as { bytes: number; files: number; seconds: number; cpuSeconds: number };
        if (res.bytes !== tree.bytes) throw new Error(`pulled ${res.bytes} of ${tree.bytes} bytes`);
        lines.push(
          `run ${r + 1}: ${res.files} files, ${(res.bytes / 1e6).toFixed(0)} MB in ${res.seconds.toFixed(2)} s = ${(res.bytes / res.seconds / 1e6).toFixed(1)} MB/s, ` +
            `${(res.files / res.seconds).toFixed(0)} files/s, CPU ${res.cpuSeconds.toFixed(2)} s = ${(res.cpuSeconds / (res.bytes / 1e9)).toFixed(2)} s/GB, load average ${l0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (profiled: --cpu-prof adds overhead)`,
        );
        const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'))!;
        const prof = JSON.parse(await readFile(join(profDir, file), 'utf8')) as CpuProfile;
        for (const [k, v] of selfTimes(prof, mapBundle)) {
          total.set(k, (total.get(k) ?? 0) + v);
          totalUs += v;
        }
        await rm(join(tmp, 'out'), { recursive: true, force: true });
      }
    } finally {
      await prep.emu.close();
    }
    const rows = [...total].sort((a, b) => b[1] - a[1]).slice(0, top);
    const md = [
      `Tree \`${treeName}\` (${tree.files.length} files, ${(tree.bytes / 1e6).toFixed(0)} MB), unshaped emulator, client child = bundled bench/afc/client-child.ts, ${runs} run(s), Node ${process.version}.`,
      '',
      ...lines.map((l) => `- ${l}`),
      '',
      `Whole profile: ${(totalUs / 1e6).toFixed(2)} s of samples (the child's whole life, connection set-up included).`,
      '',
      '| # | self ms | self % | function | where |',
      '|---|---|---|---|---|',
      ...rows.map(([k, v], i) => {
        const [fn, where] = k.split('|');
        return `| ${i + 1} | ${(v / 1000).toFixed(0)} | ${((v / totalUs) * 100).toFixed(1)} | \`${fn}\` | ${where || '(native/VM)'} |`;
      }),
    ].join('\n');
    console.log(md);
    const outFile = arg('--out');
    if (outFile) await writeFile(outFile, `${md}\n`);
  } finally {
    await disposeChildBundles();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
