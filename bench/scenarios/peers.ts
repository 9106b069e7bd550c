/**
 * Peers side by side: ours (`afc pull`, `photos backup`), ifuse + cp -r and appium-ios-device pulling /DCIM from
 * the emulator, on three trees (2,000 mixed files, 20,000 small files, one 4 GiB .MOV) over the `real` profile
 * (usb2 bus + afcd service times, calibrated in ./calibration.ts), `usb2` and unshaped. Per tree and link the
 * clients run in interleaved rounds (A B C D, A B C D, …) and the median round is reported; the ceiling row (the
 * same bytes with no protocol: a plain unix socket, through the usb2 shaper, and for `real` also paced at the
 * device's read ceiling) runs once. --quick: smaller trees, one round.
 *
 * A reduced run (when the full matrix does not fit the time at hand) is chosen on the command line and recorded in
 * the results (`reduced`, and a `not run` row for every cell left out), never implied:
 *   --rounds N          rounds per cell (default 3)
 *   --peer-limit-s S    time limit of one client run (default 180)
 *   --cells SPEC        the cells to run: `link:trees:clients` entries joined by `;`, trees and clients comma lists
 *                       or `*`; clients afc, backup, ifuse, appium. E.g. `real:*:*;usb2:large:afc;none:*:*`.
 */
import { afcdReadBound, READ_BYTES_PER_SECOND, REAL_AFCD } from '../../src/virtual-iphone/afcd-model.ts';
import { linkProfile, type LinkProfile } from '../../src/virtual-iphone/link.ts';
import { CLIENTS, runClient, type ClientName } from '../afc/clients.ts';
import { prepareEmulator } from '../afc/ifuse.ts';
import { startRawServer } from '../afc/servers.ts';
import { makeTree, type Tree } from '../afc/trees.ts';
import { runChild } from '../child.ts';
import { medianRound, row, type ClientResult } from '../measure.ts';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const LINKS: LinkProfile[] = ['real', 'usb2', 'none'];
const TREES = ['mixed', 'small', 'large'] as const;
const SHORT: Record<string, ClientName> = { afc: 'iosdevice afc pull', backup: 'iosdevice photos backup', ifuse: 'ifuse', appium: 'appium-ios-device' };

/** Parsed --cells: which clients run on (link, tree); undefined = all. */
export function parseCells(spec: string | undefined): ((link: string, tree: string) => ClientName[]) {
  if (spec === undefined) return () => [...CLIENTS];
  const entries = spec.split(';').filter(Boolean).map((e) => {
    const [l, t, c] = e.split(':');
    if (!l || !t || !c) throw new Error(`--cells: '${e}' is not link:trees:clients`);
    const list = (x: string): string[] | undefined => (x === '*' ? undefined : x.split(','));
    const clients = list(c)?.map((n) => {
      const full = SHORT[n];
      if (!full) throw new Error(`--cells: unknown client '${n}' (afc, backup, ifuse, appium)`);
      return full;
    });
    return { links: list(l), trees: list(t), clients };
  });
  return (link, tree) => {
    const on = new Set<ClientName>();
    for (const e of entries) {
      if ((e.links && !e.links.includes(link)) || (e.trees && !e.trees.includes(tree))) continue;
      for (const c of e.clients ?? CLIENTS) on.add(c);
    }
    return CLIENTS.filter((c) => on.has(c));
  };
}

function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
const CEILING = { none: 'raw-socket', usb2: 'link-rate', real: 'device-rate' } as const;

function caseName(t: Pick<Tree, 'name' | 'files' | 'bytes'>): string {
  return t.name === 'large' ? `large-${t.bytes >= 2 ** 30 ? `${t.bytes / 2 ** 30}GiB` : `${t.bytes / 2 ** 20}MiB`}` : `${t.name}-${t.files.length}`;
}

/** The ceiling: the tree's bytes through a plain socket (+ shaper, + device pacing for `real`). */
async function ceiling(ctx: BenchContext, t: Tree, link: LinkProfile): Promise<BenchMeasurement> {
  const srv = await startRawServer(ctx.tmpDir, t.files, linkProfile(link), link === 'real' ? READ_BYTES_PER_SECOND : undefined);
  const out = join(ctx.tmpDir, 'raw.bin');
  try {
    const r = await runChild<ClientResult>('bench/afc/raw-child.ts', ['--socket', srv.path, '--out', out], { cwd: ctx.repoRoot, timeoutMs: 40 * 60_000 });
    if (r.bytes !== t.bytes) throw new Error(`raw row moved ${r.bytes} of ${t.bytes} bytes`);
    return row(caseName(t), link, CEILING[link], { ...r, files: t.files.length }, 'same bytes, no protocol, one stream; one round');
  } finally {
    await srv.close();
    await rm(out, { force: true });
  }
}

function ratio(name: string, num: BenchMeasurement | undefined, den: BenchMeasurement | undefined, min: number, floorMbPerSec = 0): BenchTarget {
  if (num?.mbPerSec && den && !den.skipped && den.mbPerSec === 0 && floorMbPerSec === 0) {
    // measured, but the peer copied nothing within its time limit: the ratio is unbounded
    return { name, value: undefined, threshold: `>= ${min}`, pass: true, detail: `${num.mbPerSec.toFixed(1)} / 0.0 MB/s: ${den.client} copied 0 bytes within its time limit (unbounded ratio)` };
  }
  if (!num?.mbPerSec || !den?.mbPerSec) {
    return { name, value: undefined, threshold: `>= ${min}`, pass: undefined, detail: `not measured (${num?.skipped ?? den?.skipped ?? 'row missing'})` };
  }
  const d = Math.max(den.mbPerSec, floorMbPerSec);
  const v = num.mbPerSec / d;
  const how = floorMbPerSec > 0 ? ` (max of measured ${den.mbPerSec.toFixed(1)} and configured ${floorMbPerSec.toFixed(1)})` : '';
  return { name, value: v, threshold: `>= ${min}`, pass: v >= min, detail: `${num.mbPerSec.toFixed(1)} / ${d.toFixed(1)} MB/s${how}` };
}

function atMost(name: string, m: BenchMeasurement | undefined, key: 'peakRssMB' | 'cpuSecondsPerGB', max: number, unit: string): BenchTarget {
  const v = m?.[key];
  if (v === undefined) return { name, value: undefined, threshold: `<= ${max}`, pass: undefined, detail: `not measured (${m?.skipped ?? 'row missing'})` };
  return { name, value: v, threshold: `<= ${max}`, pass: v <= max, detail: `${v.toFixed(2)} ${unit}` };
}

/**
 * The best rate any client could reach on `real` for a tree, MB/s: the lower of the profile's bus and device ceiling
 * and the afcd service bound (afcdReadBound: OPEN + READ + CLOSE per file, READDIR per folder, served one after
 * another). Undefined for a tree not generated in this run.
 */
export function realBestMbPerSec(t: Tree): number | undefined {
  if (!t.media || t.files.length === 0) return undefined;
  const sizes = t.files.map((f) => statSync(f).size);
  const entries = new Map<string, number>();
  for (const f of t.files) entries.set(dirname(f), (entries.get(dirname(f)) ?? 0) + 1);
  const bus = Math.min(READ_BYTES_PER_SECOND, linkProfile('real')!.bytesPerSecond);
  return Math.min(bus, afcdReadBound(REAL_AFCD, sizes, [...entries.values()])) / 1e6;
}

/** Adds to a "≥ N× a peer" target on `real` the most that ratio can be on the profile (best rate / the peer's). */
function withBound(t: BenchTarget, peer: BenchMeasurement | undefined, bestMbPerSec: number | undefined): BenchTarget {
  if (bestMbPerSec === undefined || !peer?.mbPerSec) return t;
  const most = bestMbPerSec / peer.mbPerSec;
  return { ...t, detail: `${t.detail}; the most any client can reach on this profile is ${bestMbPerSec.toFixed(1)} MB/s = ${most.toFixed(2)}× ${peer.client}` };
}

/**
 * The issue-14 targets, from one run's rows (exported for re-deriving them from saved results). `best`: per case
 * name, {@link realBestMbPerSec} (shown next to the ratios to peers on `real`).
 */
export function targets(rows: BenchMeasurement[], trees: Pick<Tree, 'name' | 'files' | 'bytes'>[], best: Record<string, number | undefined> = {}): BenchTarget[] {
  const [mixed, small, large] = ['mixed', 'small', 'large'].map((n) => caseName(trees.find((t) => t.name === n)!));
  const f = (c: string, l: string, cl: string): BenchMeasurement | undefined => rows.find((m) => m.case === c && m.link === l && m.client === cl);
  const realCeiling = Math.min(READ_BYTES_PER_SECOND, linkProfile('real')!.bytesPerSecond) / 1e6;
  const usb2 = linkProfile('usb2')!.bytesPerSecond / 1e6;
  const out: BenchTarget[] = [];
  for (const ours of ['iosdevice afc pull', 'iosdevice photos backup']) {
    out.push(
      ratio(`real, ${mixed}: ${ours} / profile ceiling`, f(mixed!, 'real', ours), f(mixed!, 'real', 'device-rate'), 0.9, realCeiling),
      ratio(`real, ${large}: ${ours} / profile ceiling`, f(large!, 'real', ours), f(large!, 'real', 'device-rate'), 0.9, realCeiling),
    );
    for (const c of [mixed!, small!]) {
      out.push(withBound(ratio(`real, ${c}: ${ours} / ifuse`, f(c, 'real', ours), f(c, 'real', 'ifuse'), 3), f(c, 'real', 'ifuse'), best[c]));
      out.push(withBound(ratio(`real, ${c}: ${ours} / appium-ios-device`, f(c, 'real', ours), f(c, 'real', 'appium-ios-device'), 2), f(c, 'real', 'appium-ios-device'), best[c]));
    }
  }
  out.push(
    ratio(`unshaped, ${small}: iosdevice afc pull / raw socket`, f(small!, 'none', 'iosdevice afc pull'), f(small!, 'none', 'raw-socket'), 0.7),
    ratio(`unshaped, ${large}: iosdevice afc pull / raw socket`, f(large!, 'none', 'iosdevice afc pull'), f(large!, 'none', 'raw-socket'), 0.9),
    atMost(`peak RSS, ${large}, iosdevice afc pull (max over links), MB`, [...rows].filter((m) => m.case === large && m.client === 'iosdevice afc pull' && m.peakRssMB !== undefined).sort((a, b) => b.peakRssMB! - a.peakRssMB!)[0], 'peakRssMB', 64, 'MB (VmHWM, plain Node running the bundled client)'),
    atMost(`CPU, unshaped ${large}, iosdevice afc pull, s/GB`, f(large!, 'none', 'iosdevice afc pull'), 'cpuSecondsPerGB', 1.0, 's/GB'),
    ratio(`usb2, ${large}: iosdevice afc pull / link rate`, f(large!, 'usb2', 'iosdevice afc pull'), f(large!, 'usb2', 'link-rate'), 0.95, usb2),
    ratio(`usb2, ${mixed}: iosdevice afc pull / link rate`, f(mixed!, 'usb2', 'iosdevice afc pull'), f(mixed!, 'usb2', 'link-rate'), 0.85, usb2),
    ratio(`usb2, ${mixed}: iosdevice photos backup / link rate`, f(mixed!, 'usb2', 'iosdevice photos backup'), f(mixed!, 'usb2', 'link-rate'), 0.85, usb2),
  );
  return out;
}

const scenario: BenchScenario = {
  name: 'peers',
  description:
    'Ours (afc pull, photos backup) next to ifuse + cp -r and appium-ios-device, all pulling /DCIM from the emulator: 2,000 mixed files ' +
    '(log-uniform 50 KB – 8 MB), 20,000 small files (30–50 KB) and one 4 GiB .MOV, over `real` (usb2 + afcd service times), usb2 and ' +
    'unshaped. Median of 3 interleaved rounds; peers are cut at a time limit (then the rate of the bytes copied by then). Ceiling rows: ' +
    'the same bytes with no protocol (raw socket; usb2 shaper; for real also paced at the device read ceiling).',
  async run(ctx: BenchContext) {
    const fullRounds = ctx.quick ? 1 : 3;
    const fullLimitS = ctx.quick ? 60 : 180;
    const rounds = Number(argValue(ctx.args, '--rounds') ?? fullRounds);
    const limitS = Number(argValue(ctx.args, '--peer-limit-s') ?? fullLimitS);
    if (!(rounds >= 1) || !(limitS > 0)) throw new Error('--rounds and --peer-limit-s must be positive numbers');
    const limitMs = limitS * 1000;
    const cellsSpec = argValue(ctx.args, '--cells');
    const cells = parseCells(cellsSpec);
    const left: string[] = [];
    for (const l of LINKS) for (const n of TREES) {
      const off = CLIENTS.filter((c) => !cells(l, n).includes(c));
      if (off.length) left.push(`${l}/${n}: ${off.length === CLIENTS.length ? 'all clients and the ceiling' : off.join(', ')}`);
    }
    const reducedParts = [
      rounds !== fullRounds ? `${rounds} round${rounds > 1 ? 's' : ''} per cell instead of ${fullRounds}${rounds === 1 ? " (no median: the single run's figures)" : ""}` : '',
      limitS !== fullLimitS ? `client time limit ${limitS} s instead of ${fullLimitS} s (a client still running then reports the rate of the bytes copied by then)` : '',
      left.length ? `cells not run (--cells ${cellsSpec}): ${left.join('; ')}` : '',
    ].filter(Boolean);
    const reduced = reducedParts.length ? reducedParts.join('; ') : undefined;
    if (reduced) ctx.log(`reduced: ${reduced}`);
    const trees: Tree[] = [];
    for (const n of TREES) {
      if (!LINKS.some((l) => cells(l, n).length > 0)) {
        trees.push({ name: n, media: '', files: n === 'large' ? [''] : [], bytes: n === 'large' ? 4 * 2 ** 30 : 0 });
        continue;
      }
      trees.push(await makeTree(n, join(ctx.tmpDir, 'trees'), ctx.quick));
      ctx.log(`tree ${n}: ${trees.at(-1)!.files.length} files, ${(trees.at(-1)!.bytes / 1e6).toFixed(0)} MB`);
    }
    const best = Object.fromEntries(trees.map((t) => [caseName(t), realBestMbPerSec(t)]));
    const rows: BenchMeasurement[] = [];
    for (const link of LINKS) {
      for (const t of trees) {
        const on = cells(link, t.name);
        for (const c of CLIENTS) if (!on.includes(c)) rows.push({ case: caseName(t), link, client: c, skipped: 'not run (reduced matrix, see reduced)' });
        if (on.length === 0) continue;
        const prep = await prepareEmulator(t.media, link);
        if ('reason' in prep) {
          for (const c of on) rows.push({ case: caseName(t), link, client: c, skipped: prep.reason });
          continue;
        }
        try {
          const byClient = new Map<string, BenchMeasurement[]>();
          for (let i = 0; i < rounds; i++) {
            for (const c of on) {
              const m = await runClient(c, { repoRoot: ctx.repoRoot, tmpDir: ctx.tmpDir, emu: prep.emu, tree: t, caseName: caseName(t), link, limitMs });
              byClient.set(c, [...(byClient.get(c) ?? []), m]);
              ctx.log(`${link} ${caseName(t)} ${c} round ${i + 1}: ${m.skipped ?? `${m.mbPerSec!.toFixed(1)} MB/s`}`);
            }
          }
          for (const ms of byClient.values()) rows.push(medianRound(ms));
        } finally {
          await prep.emu.close();
        }
        rows.push(await ceiling(ctx, t, link));
        ctx.log(`${link} ${caseName(t)} ceiling: ${rows.at(-1)!.mbPerSec!.toFixed(1)} MB/s`);
      }
    }
    await rm(join(ctx.tmpDir, 'trees'), { recursive: true, force: true });
    return { measurements: rows, targets: targets(rows, trees, best), ...(reduced ? { reduced } : {}) };
  },
};

export default scenario;
