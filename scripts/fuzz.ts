/**
 * `npm run fuzz -- [--target NAME[,NAME…]] [--runs N] [--seed S] [--max-input-ms MS] [--no-third-party] [--save DIR] [--json]`
 *
 * Mutation fuzzing of every decoder (test/fuzz/targets.ts) from seed corpora built at run time from captures/ and,
 * when present, ../shared/captures/third-party (read in place, never copied). One target at a time; prints inputs/s,
 * the typed error codes seen, findings (untyped throws, unknown codes, broken invariants, inputs over the CPU limit)
 * and peak RSS. Exit code 1 when there is any finding. Long runs: `nice -n 10 npm run fuzz -- --runs 1000000`.
 */
import { runTarget, type FuzzReport } from '../test/fuzz/engine.ts';
import { TARGETS, targetByName, type FuzzTarget } from '../test/fuzz/targets.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function usage(msg: string): never {
  console.error(`fuzz: ${msg}\nusage: npm run fuzz -- [--target ${TARGETS.map((t) => t.name).join('|')}[,…]] [--runs N] [--seed S] [--max-input-ms MS] [--no-third-party] [--save DIR] [--json]`);
  process.exit(2);
}

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) usage('help');
  const names = arg('--target')?.split(',');
  const targets: FuzzTarget[] = names ? names.map((n) => targetByName(n) ?? usage(`unknown target ${n}`)) : [...TARGETS];
  const int = (v: string | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    if (!/^\d+$/.test(v)) usage(`${what} must be a non-negative integer`);
    return Number(v);
  };
  const runs = int(arg('--runs'), 10_000, '--runs');
  const seed = int(arg('--seed'), 1, '--seed');
  const maxInputMs = int(arg('--max-input-ms'), 1000, '--max-input-ms');
  const json = process.argv.includes('--json');
  const saveDir = arg('--save') ?? '/tmp/iosdevice-fuzz';
  const reports: FuzzReport[] = [];
  for (const t of targets) {
    const r = await runTarget(t, {
      runs, seed, maxInputMs, saveDir, ...(process.argv.includes('--no-third-party') ? { noThirdParty: true } : {}),
      onProgress: json ? undefined : (done, p) => process.stderr.write(`\r${t.name}: ${done}/${runs} (${p.inputsPerSecond}/s, ${p.findings.length} findings, RSS ${p.rssPeakMB} MB)   `),
    });
    reports.push(r);
    if (json) console.log(JSON.stringify(r));
    else {
      process.stderr.write('\r\x1b[K');
      const top = Object.entries(r.codes).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, n]) => `${c} ${n}`).join(', ');
      console.log(`${t.name}: ${r.runs} inputs in ${r.seconds} s (${r.inputsPerSecond}/s) from ${r.seeds} seeds; ${r.accepted} accepted; slowest ${r.slowestMs} ms; RSS ${r.rssStartMB} → peak ${r.rssPeakMB} MB; ${r.findings.length} findings${top ? `; errors: ${top}` : ''}`);
      for (const f of r.findings) console.log(`  [${f.kind}] ×${f.count} ${f.key}\n    ${f.message}${f.saved ? `\n    reproducer: ${f.saved} (${f.inputLength} bytes)` : ''}`);
    }
  }
  return reports.some((r) => r.findings.length > 0) ? 1 : 0;
}

process.exitCode = await main();
