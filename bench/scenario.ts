/**
 * The interface every benchmark scenario implements. `npm run bench` (bench/run.ts) imports each
 * bench/scenarios/*.ts, calls the default export's `run()`, and writes bench/results/latest.{json,md,svg}.
 *
 * Units: MB = 10^6 bytes; seconds are wall-clock; CPU seconds are user + system of the measured process.
 */

/** One measured (or skipped) row. */
export interface BenchMeasurement {
  /** Scenario-specific case, e.g. 'afc-large-file'. */
  case: string;
  /** Link profile: 'none' (unshaped) or 'usb2' (40 MB/s + 0.5 ms RTT), or another label. */
  link: string;
  /** What moved the bytes: 'iosdevice', 'ifuse', 'raw-socket', 'link-rate', … */
  client: string;
  payloadBytes?: number;
  files?: number;
  seconds?: number;
  /** payloadBytes / seconds / 10^6. */
  mbPerSec?: number;
  /** files / seconds. */
  filesPerSec?: number;
  /** Calibration rows: the published real-phone figure this row reproduces (MB/s) and where it comes from. */
  published?: { mbPerSec: number; source: string };
  /** CPU seconds (user + system) of the client process per 10^9 payload bytes. */
  cpuSecondsPerGB?: number;
  /** Peak resident set size of the client process, MB (10^6 bytes). */
  peakRssMB?: number;
  /** Peak RSS of the client process before the transfer started (runtime + imports + connection set-up), MB. */
  rssBeforeMB?: number;
  /** peakRssMB − rssBeforeMB: what the transfer itself added, MB. */
  rssGrowthMB?: number;
  /** Bytes the client copied per payload byte (0 = zero-copy). */
  bytesCopiedPerPayloadByte?: number;
  /** Set when the row could not be measured: the reason. */
  skipped?: string;
  notes?: string;
}

/** A target checked from one run's measurements. */
export interface BenchTarget {
  name: string;
  /** Measured value (a ratio or an absolute number), undefined when a row was skipped. */
  value: number | undefined;
  /** Human-readable threshold, e.g. '>= 0.95'. */
  threshold: string;
  /** undefined when it could not be evaluated. */
  pass: boolean | undefined;
  detail: string;
}

/** What run() gets. */
export interface BenchContext {
  /** Smaller data sets for fast iteration (--quick). */
  quick: boolean;
  /** A private temporary folder for this scenario (removed afterwards). */
  tmpDir: string;
  /** Repository root. */
  repoRoot: string;
  /** The command line after `npm run bench --` (scenario-specific options, e.g. peers' --rounds). */
  args: readonly string[];
  log(line: string): void;
}

/** A scenario file's default export. */
export interface BenchScenario {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<{ measurements: BenchMeasurement[]; targets?: BenchTarget[]; reduced?: string }>;
}

/** Result of one scenario in latest.json. */
export interface BenchScenarioResult {
  name: string;
  description: string;
  /** When this scenario ran (ISO 8601) and whether with --quick. */
  date?: string;
  quick?: boolean;
  /** 1-minute load average when the scenario started and ended (the machine may be shared). */
  loadAvg?: [number, number];
  /** 1-minute load average sampled every 10 s while the scenario ran: mean and maximum. */
  loadAvgSampled?: { mean: number; max: number; samples: number };
  /** Set when the scenario ran less than its full plan (fewer rounds, cells, shorter limits): exactly what. */
  reduced?: string;
  seconds: number;
  measurements: BenchMeasurement[];
  targets: BenchTarget[];
  error?: string;
}
