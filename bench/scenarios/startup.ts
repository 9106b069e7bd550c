/**
 * Start-up of the `iosdevice` command (bin/iosdevice.mjs on the built dist/, as a user runs it): `iosdevice --help`
 * next to `node -e 0` (the runtime's own start-up, measured in the same run, interleaved so both see the same
 * machine load), and `iosdevice list --socket …` end to end against a running virtual iPhone (spawn to exit: start-up,
 * connect to usbmuxd, ListDevices, print). Each child gets a user's environment (no npm variables, no loader flags).
 * Targets: --help median <= 150 ms and <= 3 × node -e 0; list median <= 250 ms.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, getPriority, loadavg } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/virtual-iphone/emulator.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const HELP_MAX_MS = 150;
const HELP_MAX_RATIO = 3;
const LIST_MAX_MS = 250;

/**
 * CPU ms (user + system) of this process's reaped children so far: cutime + cstime of /proc/self/stat, in clock
 * ticks (100 per second on Linux); undefined elsewhere. Less sensitive to a shared machine's load than wall time.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[13]) + Number(f[14])) * 10; // fields 16 and 17
  } catch {
    return undefined;
  }
}

interface Timed {
  wallMs: number;
  cpuMs: number | undefined;
}

/** Wall-clock ms from spawn to exit (stdio closed) of one child, and its CPU ms; rejects on a non-zero exit. */
function timeChild(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const c0 = childrenCpuMs();
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - t0;
      const c1 = childrenCpuMs();
      if (code === 0) resolve({ wallMs, cpuMs: c0 === undefined || c1 === undefined ? undefined : c1 - c0 });
      else reject(new Error(`node ${args.join(' ')} exited ${code}: ${out.slice(0, 500)}`));
    });
  });
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
};

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function summaryRow(c: string, client: string, ms: number[], cpu: number[], extra?: string): BenchMeasurement {
  const med = quantile(ms, 0.5);
  const cpuText = cpu.length ? `; CPU (user+sys of the child) mean ${mean(cpu).toFixed(0)} ms` : '';
  return {
    case: c,
    link: 'none',
    client,
    seconds: med / 1000,
    notes: `median ${med.toFixed(0)} ms of ${ms.length} runs (min ${Math.min(...ms).toFixed(0)}, p90 ${quantile(ms, 0.9).toFixed(0)}, max ${Math.max(...ms).toFixed(0)} ms)${cpuText}${extra ? `; ${extra}` : ''}`,
  };
}

const scenario: BenchScenario = {
  name: 'startup',
  description:
    'Start-up of the `iosdevice` command (node bin/iosdevice.mjs, the built JavaScript): `--help` next to `node -e 0` in the same run ' +
    '(interleaved), and `list` end to end (spawn to exit) against a running virtual iPhone. Seconds = the median run.',
  async run(ctx: BenchContext) {
    const runs = ctx.quick ? 10 : 30;
    const warmup = 3;
    const bin = join(ctx.repoRoot, 'bin/iosdevice.mjs');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$|NODE_TEST_CONTEXT$|USBMUXD_SOCKET_ADDRESS$)/i.test(k)));
    const emu = await startEmulator({ dcimCount: 1, name: 'Bench iPhone', socket: `UNIX:${join(ctx.tmpDir, 'usbmuxd.sock')}` });
    const cmds = {
      node: ['-e', '0'],
      help: [bin, '--help'],
      list: [bin, 'list', '--socket', emu.address],
    };
    const ms: Record<keyof typeof cmds, number[]> = { node: [], help: [], list: [] };
    const cpu: Record<keyof typeof cmds, number[]> = { node: [], help: [], list: [] };
    const load0 = loadavg()[0]!;
    try {
      const order = Object.keys(cmds) as (keyof typeof cmds)[];
      for (let i = 0; i < warmup + runs; i++) {
        // rotate the order so that no command always runs right after another
        for (let j = 0; j < order.length; j++) {
          const k = order[(i + j) % order.length]!;
          const t = await timeChild(cmds[k], env, ctx.tmpDir);
          if (i < warmup) continue;
          ms[k].push(t.wallMs);
          if (t.cpuMs !== undefined) cpu[k].push(t.cpuMs);
        }
      }
    } finally {
      await emu.close();
    }
    const nice = getPriority();
    const load = `load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs${nice !== 0 ? `, run at nice ${nice}` : ''}`;
    const node = quantile(ms.node, 0.5);
    const help = quantile(ms.help, 0.5);
    const list = quantile(ms.list, 0.5);
    ctx.log(`median: node -e 0 ${node.toFixed(0)} ms, iosdevice --help ${help.toFixed(0)} ms, iosdevice list ${list.toFixed(0)} ms (${runs} runs each)`);
    const measurements = [
      summaryRow('node -e 0', 'node', ms.node, cpu.node, 'the runtime alone'),
      summaryRow('iosdevice --help', 'iosdevice', ms.help, cpu.help),
      summaryRow('iosdevice list', 'iosdevice', ms.list, cpu.list, 'a running virtual iPhone (in-process emulator, unix socket)'),
    ];
    const targets: BenchTarget[] = [
      { name: '`iosdevice --help` start-up, median ms', value: help, threshold: `<= ${HELP_MAX_MS}`, pass: help <= HELP_MAX_MS, detail: `${help.toFixed(0)} ms over ${runs} runs, ${load}` },
      {
        name: '`iosdevice --help` / `node -e 0`, medians in one run',
        value: help / node,
        threshold: `<= ${HELP_MAX_RATIO}`,
        pass: help / node <= HELP_MAX_RATIO,
        detail: `${help.toFixed(0)} / ${node.toFixed(0)} ms`,
      },
      { name: '`iosdevice list` against a running emulator, median ms end to end', value: list, threshold: `<= ${LIST_MAX_MS}`, pass: list <= LIST_MAX_MS, detail: `${list.toFixed(0)} ms over ${runs} runs, ${load}` },
    ];
    if (cpu.help.length && cpu.node.length && cpu.list.length) {
      // on a shared machine the wall-clock medians above mostly measure the wait for a CPU; the children's own
      // CPU time is what an idle machine would roughly show as wall time
      const [n, h, l] = [mean(cpu.node), mean(cpu.help), mean(cpu.list)];
      targets.push(
        { name: '(diagnostic) `iosdevice --help` CPU time of the child, mean ms', value: h, threshold: `<= ${HELP_MAX_MS}`, pass: h <= HELP_MAX_MS, detail: `${h.toFixed(0)} ms; node -e 0: ${n.toFixed(0)} ms (ratio ${(h / n).toFixed(2)})` },
        { name: '(diagnostic) `iosdevice list` CPU time of the child, mean ms', value: l, threshold: `<= ${LIST_MAX_MS}`, pass: l <= LIST_MAX_MS, detail: `${l.toFixed(0)} ms` },
      );
    }
    return { measurements, targets };
  },
};

export default scenario;
