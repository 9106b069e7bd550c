/** Renders benchmark results as Markdown and as an SVG bar chart (MB/s per row). */
import type { BenchScenarioResult } from './scenario.ts';

export interface BenchRun {
  date: string;
  quick: boolean;
  node: string;
  cpus: number;
  cpuModel: string;
  scenarios: BenchScenarioResult[];
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function bytesText(n: number | undefined): string {
  if (n === undefined) return '–';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

/** Markdown report. */
export function renderMarkdown(run: BenchRun): string {
  const out: string[] = [];
  out.push(`# Benchmark results${run.quick ? ' (--quick)' : ''}`, '');
  out.push(`${run.date} · Node ${run.node} · ${run.cpus} × ${run.cpuModel}`, '');
  out.push('MB = 10^6 bytes. CPU s/GB and peak RSS are those of the client process (each client runs in a child process of its own); RSS before = peak RSS before the transfer started, growth = peak − before.', '');
  for (const s of run.scenarios) {
    out.push(`## ${s.name}`, '', s.description, '');
    if (s.date) out.push(`Run ${s.date}${s.quick ? ' with --quick' : ''}, ${s.seconds.toFixed(0)} s${loadText(s, run.cpus)}.`, '');
    if (s.reduced) out.push(`**Reduced run:** ${s.reduced}`, '');
    if (s.error) out.push(`**Error:** ${s.error}`, '');
    const pub = s.measurements.some((m) => m.published);
    out.push(`| case | link | client | payload | files | s | MB/s |${pub ? ' published MB/s | measured / published |' : ''} files/s | CPU s/GB | peak RSS MB | RSS before MB | RSS growth MB | copied/byte | notes |`);
    out.push(`|---|---|---|---|---|---|---|${pub ? '---|---|' : ''}---|---|---|---|---|---|---|`);
    for (const m of s.measurements) {
      const p = m.published;
      const pubCols = pub
        ? ` ${p ? `${p.mbPerSec.toFixed(1)} (${p.source})` : '–'} | ${p && m.mbPerSec ? `${m.mbPerSec / p.mbPerSec >= 1 ? '+' : ''}${((m.mbPerSec / p.mbPerSec - 1) * 100).toFixed(0)} %` : '–'} |`
        : '';
      out.push(
        `| ${m.case} | ${m.link} | ${m.client} | ${bytesText(m.payloadBytes)} | ${m.files ?? '–'} | ${fmt(m.seconds, 2)} | ${m.skipped ? 'skipped' : fmt(m.mbPerSec)} |${pubCols} ${fmt(m.filesPerSec, 0)} | ${fmt(m.cpuSecondsPerGB, 2)} | ${fmt(m.peakRssMB)} | ${fmt(m.rssBeforeMB)} | ${fmt(m.rssGrowthMB)} | ${m.bytesCopiedPerPayloadByte === undefined ? '–' : m.bytesCopiedPerPayloadByte.toExponential(2)} | ${[m.skipped, m.notes].filter(Boolean).join('; ')} |`,
      );
    }
    out.push('');
    if (s.targets.length > 0) {
      out.push('| target | measured | threshold | result |', '|---|---|---|---|');
      for (const t of s.targets) {
        out.push(`| ${t.name} | ${t.value === undefined ? '–' : t.value.toFixed(3)} | ${t.threshold} | ${t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'FAIL'} — ${t.detail} |`);
      }
      out.push('');
    }
  }
  return out.join('\n');
}

function loadText(s: BenchScenarioResult, cpus: number): string {
  if (!s.loadAvg) return '';
  const sampled = s.loadAvgSampled ? ` (sampled every 10 s: mean ${s.loadAvgSampled.mean.toFixed(1)}, max ${s.loadAvgSampled.max.toFixed(1)})` : '';
  return `, load average ${s.loadAvg[0].toFixed(1)} → ${s.loadAvg[1].toFixed(1)}${sampled} on ${cpus} CPUs`;
}

const COLORS: Record<string, string> = {
  iosdevice: '#2b7bb9',
  'iosdevice afc pull': '#2b7bb9',
  'iosdevice photos backup': '#1f5f8f',
  'iosdevice-afc-socket': '#7fb3dd',
  ifuse: '#d9822b',
  'appium-ios-device': '#8e5ab5',
  'raw-socket': '#7a7a7a',
  'link-rate': '#b0b0b0',
  'device-rate': '#b0b0b0',
};

const README_START = '<!-- bench:generated:start (bench/run.ts rewrites this part from bench/results/latest.json) -->';
const README_END = '<!-- bench:generated:end -->';

/**
 * The README's benchmark part, generated from a run: the calibration rows next to their published figures, the
 * peers table (MB/s and files/s per tree, link and client) and every target.
 */
export function renderReadmeSection(run: BenchRun): string {
  const out: string[] = [README_START, ''];
  const cal = run.scenarios.find((s) => s.name === 'calibration');
  const load = (s: BenchScenarioResult): string => loadText(s, run.cpus);
  if (cal) {
    out.push(`**Calibration of the \`real\` profile on the peers** (${cal.date?.slice(0, 10) ?? ''}${cal.quick ? ', --quick' : ''}${load(cal)}; docs/emulator-real.md):`, '');
    out.push('| peer on the emulator (`--link real`) | measured MB/s | published real-phone MB/s | measured / published |', '|---|---|---|---|');
    for (const m of cal.measurements) {
      const p = m.published;
      out.push(`| ${m.client}, ${m.case} | ${m.skipped ? 'skipped' : fmt(m.mbPerSec, 2)} | ${p ? `${p.mbPerSec.toFixed(2)} (${p.source})` : 'none published (prediction)'} | ${p && m.mbPerSec ? `${((m.mbPerSec / p.mbPerSec - 1) * 100).toFixed(0)} %` : '–'} |`);
    }
    out.push('');
  }
  const peers = run.scenarios.find((s) => s.name === 'peers');
  if (peers) {
    const clients = ['iosdevice afc pull', 'iosdevice photos backup', 'ifuse', 'appium-ios-device'];
    out.push(`**Peers side by side** (${peers.date?.slice(0, 10) ?? ''}${peers.quick ? ', --quick' : ''}${load(peers)}): MB/s (files/s), median of the rounds; ceiling = the same bytes with no protocol.`, '');
    if (peers.reduced) out.push(`Reduced run: ${peers.reduced}`, '');
    out.push(`| tree | link | ${clients.join(' | ')} | ceiling |`, `|---|---|${clients.map(() => '---|').join('')}---|`);
    const keys = [...new Set(peers.measurements.map((m) => `${m.case}|${m.link}`))];
    for (const k of keys) {
      const [c, l] = k.split('|') as [string, string];
      const cell = (cl: string): string => {
        const m = peers.measurements.find((x) => x.case === c && x.link === l && x.client === cl);
        if (!m) return '–';
        if (m.skipped) return m.skipped.startsWith('not run') ? 'not run' : 'skipped';
        return `${fmt(m.mbPerSec)}${m.filesPerSec !== undefined ? ` (${fmt(m.filesPerSec, 0)})` : ''}${m.notes?.includes('time limit') ? '*' : ''}`;
      };
      const ceil = peers.measurements.find((x) => x.case === c && x.link === l && ['raw-socket', 'link-rate', 'device-rate'].includes(x.client));
      out.push(`| ${c} | ${l} | ${clients.map(cell).join(' | ')} | ${ceil?.mbPerSec ? fmt(ceil.mbPerSec) : '–'} |`);
    }
    out.push('', '\\* cut at the time limit: the rate of the bytes copied by then.', '');
  }
  out.push('**Targets** (every scenario; `bench/results/latest.md` has all rows, CPU s/GB and RSS):', '');
  out.push('| scenario | target | measured | threshold | result |', '|---|---|---|---|---|');
  for (const s of run.scenarios) {
    for (const t of s.targets) {
      out.push(`| ${s.name}${s.quick ? ' (quick)' : ''} | ${t.name} | ${t.value === undefined ? '–' : t.value.toFixed(3)} | ${t.threshold} | ${t.pass === undefined ? 'n/a' : t.pass ? 'pass' : '**fail**'} — ${t.detail} |`);
    }
  }
  out.push('', README_END);
  return out.join('\n');
}

/** `readme` with its generated part replaced (unchanged when the markers are absent). */
export function replaceReadmeSection(readme: string, section: string): string {
  const a = readme.indexOf(README_START);
  const b = readme.indexOf(README_END);
  if (a < 0 || b < a) return readme;
  return readme.slice(0, a) + section + readme.slice(b + README_END.length);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Horizontal bar charts of MB/s, one section per scenario (each scaled to its own fastest row). */
export function renderSvg(run: BenchRun): string {
  const labelW = 330;
  const barW = 520;
  const rowH = 22;
  const parts: string[] = [];
  let y = 40;
  const body: string[] = [];
  for (const s of run.scenarios) {
    const rows = s.measurements;
    if (rows.length === 0) continue;
    const max = Math.max(1, ...rows.map((m) => m.mbPerSec ?? 0));
    body.push(`<text x="10" y="${y + 16}" font-size="13" font-weight="bold">${esc(s.name)}${s.quick ? ' (quick)' : ''}</text>`);
    y += 24;
    for (const m of rows) {
      const v = m.mbPerSec ?? 0;
      const w = Math.max(1, (v / max) * barW);
      body.push(`<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${esc(`${m.case} · ${m.link} · ${m.client}`)}</text>`);
      if (m.skipped) body.push(`<text x="${labelW + 4}" y="${y + 15}" fill="#a00">skipped</text>`);
      else {
        body.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[m.client] ?? '#5a9'}"/>`);
        body.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 15}">${v.toFixed(1)}</text>`);
      }
      y += rowH;
    }
    y += 10;
  }
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 120}" height="${y + 10}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">Throughput (MB/s = 10^6 B/s), ${esc(run.date)}</text>`);
  parts.push(...body, '</svg>');
  return parts.join('\n');
}
