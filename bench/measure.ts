/**
 * Turning what a client child reported into benchmark rows, and rounds into one row (the median round).
 * Units as in ./scenario.ts: MB = 10^6 bytes.
 */
import type { BenchMeasurement } from './scenario.ts';

/** What a measured client process reports (bench children, ifuse rows). */
export interface ClientResult {
  bytes: number;
  files?: number;
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  bytesCopied?: number;
  /** Peak RSS before the transfer started (Node + bundled code + connection set-up). */
  baselineRssBytes?: number;
  /** Sampled peaks of the JS heap and of ArrayBuffers/Buffers during the transfer (diagnostic). */
  heapUsedBytes?: number;
  arrayBuffersBytes?: number;
  /** A time limit ended the run: the rate is that of the bytes copied by then. */
  partial?: boolean;
}

/** One row from one run. */
export function row(c: string, link: string, client: string, r: ClientResult, notes?: string): BenchMeasurement {
  const m: BenchMeasurement = {
    case: c,
    link,
    client,
    payloadBytes: r.bytes,
    seconds: r.seconds,
    mbPerSec: r.bytes / r.seconds / 1e6,
    cpuSecondsPerGB: r.cpuSeconds / (r.bytes / 1e9),
    peakRssMB: r.peakRssBytes / 1e6,
  };
  if (r.files !== undefined) {
    m.files = r.files;
    if (r.files > 1) m.filesPerSec = r.files / r.seconds;
  }
  if (r.bytesCopied !== undefined) m.bytesCopiedPerPayloadByte = r.bytesCopied / r.bytes;
  if (r.baselineRssBytes !== undefined) {
    m.rssBeforeMB = r.baselineRssBytes / 1e6;
    m.rssGrowthMB = (r.peakRssBytes - r.baselineRssBytes) / 1e6;
  }
  const mem =
    r.heapUsedBytes !== undefined && r.arrayBuffersBytes !== undefined
      ? `sampled peaks: JS heap ${(r.heapUsedBytes / 1e6).toFixed(0)} MB, Buffers ${(r.arrayBuffersBytes / 1e6).toFixed(0)} MB`
      : undefined;
  const all = [r.partial ? `time limit reached: rate of the ${r.bytes} bytes copied by then` : undefined, notes, mem].filter(Boolean).join('; ');
  if (all) m.notes = all;
  return m;
}

/**
 * The median round of a row measured several times (by MB/s; with an even count the slower middle one), with
 * the spread in its notes. Skipped rounds are ignored; all skipped → the first skipped row.
 */
export function medianRound(rounds: BenchMeasurement[]): BenchMeasurement {
  const ok = rounds.filter((r) => !r.skipped && r.mbPerSec !== undefined);
  if (ok.length === 0) return rounds[0]!;
  const sorted = [...ok].sort((a, b) => a.mbPerSec! - b.mbPerSec!);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  if (ok.length === 1) return mid;
  const spread = `median of ${ok.length} rounds (${sorted[0]!.mbPerSec!.toFixed(1)}–${sorted.at(-1)!.mbPerSec!.toFixed(1)} MB/s)`;
  return { ...mid, notes: [spread, mid.notes].filter(Boolean).join('; ') };
}
