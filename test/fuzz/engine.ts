/**
 * Runs one fuzz target: N mutated inputs from its seeds (deterministic for a seed), each timed in CPU time; a finding
 * is any throw that is not an IDeviceError carrying a known code (src/core/codes.ts), any broken invariant, and any
 * input costing more than `maxInputMs` of CPU. Findings are grouped by kind + message shape + the first stack frame
 * inside src/, with the first (smallest) reproducer kept. RSS is sampled to report the peak and the growth.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IDeviceError } from '../../src/core/errors.ts';
import { isErrorCode } from '../../src/core/codes.ts';
import { Rng, mutate } from './mutate.ts';
import { FuzzInvariantError, loadCorpus, takeCodes, type FuzzTarget } from './targets.ts';

/** One group of findings. */
export interface Finding {
  key: string;
  kind: 'untyped' | 'unknown-code' | 'invariant' | 'slow';
  message: string;
  stack?: string;
  count: number;
  /** Smallest input that triggered it (hex, at most 4 KiB shown). */
  inputHex: string;
  inputLength: number;
  /** Where the reproducer was saved (with `saveDir`). */
  saved?: string;
}

/** Result of {@link runTarget}. */
export interface FuzzReport {
  target: string;
  seed: number;
  runs: number;
  seeds: number;
  seconds: number;
  inputsPerSecond: number;
  /** Typed errors seen (code → count, over every decoder call of the target): what the decoders said. */
  codes: Record<string, number>;
  /** Inputs every decoder call of the target accepted without an error. */
  accepted: number;
  findings: Finding[];
  /** Slowest input, CPU ms. */
  slowestMs: number;
  rssStartMB: number;
  rssPeakMB: number;
  rssEndMB: number;
}

/** Options of {@link runTarget}. */
export interface RunOptions {
  runs: number;
  seed: number;
  /** CPU time one input may take (default 1000 ms). */
  maxInputMs?: number;
  /** Leave the third-party captures out of the seeds. */
  noThirdParty?: boolean;
  /** Folder for reproducers (one file per finding group). */
  saveDir?: string;
  /** Called about once a second. */
  onProgress?(done: number, r: FuzzReport): void;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function frame(stack: string | undefined): string {
  const line = stack?.split('\n').find((l) => l.includes('/src/'));
  return line ? line.trim().replace(/^at /, '').replace(/:\d+\)?$/, '').replace(/.*\/src\//, 'src/') : '?';
}

function shape(msg: string): string {
  return msg.replace(/0x[0-9a-f]+/gi, 'X').replace(/\d+/g, 'N').replace(/"[^"]*"/g, 'S').slice(0, 120);
}

/** Fuzzes `t` for `o.runs` inputs. */
export async function runTarget(t: FuzzTarget, o: RunOptions): Promise<FuzzReport> {
  const seeds = t.seeds(() => loadCorpus(o.noThirdParty ? { thirdParty: false } : {})).filter((s) => s.length <= t.maxLen);
  const rng = new Rng(o.seed);
  const maxMs = o.maxInputMs ?? 1000;
  const groups = new Map<string, Finding>();
  const codes: Record<string, number> = {};
  let accepted = 0;
  let slowest = 0;
  const mb = (n: number): number => Math.round((n / 1e6) * 10) / 10;
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const t0 = performance.now();
  let lastTick = t0;
  const report = (): FuzzReport => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      target: t.name, seed: o.seed, runs: done, seeds: seeds.length, seconds: Math.round(seconds * 10) / 10,
      inputsPerSecond: Math.round(done / Math.max(seconds, 1e-3)), codes, accepted, findings: [...groups.values()],
      slowestMs: Math.round(slowest), rssStartMB: mb(rss0), rssPeakMB: mb(peak), rssEndMB: mb(process.memoryUsage.rss()),
    };
  };
  const record = (kind: Finding['kind'], message: string, stack: string | undefined, input: Buffer): void => {
    const key = `${kind}: ${shape(message)} @ ${frame(stack)}`;
    const g = groups.get(key);
    if (g) {
      g.count++;
      if (input.length < g.inputLength) Object.assign(g, { inputHex: input.subarray(0, 4096).toString('hex'), inputLength: input.length });
      return;
    }
    const f: Finding = { key, kind, message: message.slice(0, 500), ...(stack ? { stack: stack.split('\n').slice(0, 8).join('\n') } : {}), count: 1, inputHex: input.subarray(0, 4096).toString('hex'), inputLength: input.length };
    if (o.saveDir) {
      mkdirSync(o.saveDir, { recursive: true });
      f.saved = join(o.saveDir, `${t.name}-${groups.size + 1}.bin`);
      writeFileSync(f.saved, input);
    }
    groups.set(key, f);
  };
  let done = 0;
  for (; done < o.runs; done++) {
    const input = mutate(rng, seeds, { maxLen: t.maxLen, ...(t.dict ? { dict: t.dict } : {}) });
    const sub = new Rng(rng.int(2 ** 32));
    const c0 = cpuMs();
    takeCodes();
    try {
      const p = t.run(input, sub);
      if (p) await p;
      const got = takeCodes();
      if (got.length === 0) accepted++;
      for (const c of got) {
        codes[c] = (codes[c] ?? 0) + 1;
        if (!isErrorCode(c)) record('unknown-code', `${c} is not in src/core/codes.ts`, undefined, input);
      }
    } catch (e) {
      if (e instanceof FuzzInvariantError) record('invariant', e.message, e.stack, input);
      else if (e instanceof IDeviceError) {
        if (!isErrorCode(e.code)) record('unknown-code', `${e.code}: ${e.message}`, e.stack, input);
        codes[e.code] = (codes[e.code] ?? 0) + 1;
      } else {
        const err = e instanceof Error ? e : new Error(String(e));
        record('untyped', `${err.name}: ${err.message}`, err.stack, input);
      }
    }
    const spent = cpuMs() - c0;
    if (spent > slowest) slowest = spent;
    if (spent > maxMs) record('slow', `one input took ${Math.round(spent)} ms of CPU (limit ${maxMs})`, undefined, input);
    if ((done & 255) === 0) {
      const rss = process.memoryUsage.rss();
      if (rss > peak) peak = rss;
      const now = performance.now();
      if (o.onProgress && now - lastTick > 1000) {
        lastTick = now;
        o.onProgress(done, report());
      }
    }
  }
  const rss = process.memoryUsage.rss();
  if (rss > peak) peak = rss;
  return report();
}
