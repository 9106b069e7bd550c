/**
 * CPU and peak memory of the current process, for benchmark children (no imports beyond node:fs, so the
 * measurement stays that of the code under test).
 *
 * Peak RSS comes from /proc/self/status VmHWM, not getrusage: on Linux getrusage's maxrss survives execve
 * and starts at the RSS of the forked copy of the parent, so a child spawned by a 120 MB bench parent
 * would report >= 120 MB whatever it does itself. VmHWM is the high-water mark of this process image only.
 * Off Linux it falls back to getrusage maxrss.
 */
import { readFileSync } from 'node:fs';

/** CPU and memory of the current process. */
export interface SelfUsage {
  /** User + system CPU seconds since `since` (process.cpuUsage()). */
  cpuSeconds: number;
  /** Peak RSS in bytes since this process image started (see {@link peakRssBytes}). */
  peakRssBytes: number;
}

/** Peak resident set size of this process image so far, bytes (VmHWM; getrusage maxrss off Linux). */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Measures this process: CPU since `since`, peak RSS over the whole life of this process image. */
export function selfUsage(since: NodeJS.CpuUsage): SelfUsage {
  const c = process.cpuUsage(since);
  return { cpuSeconds: (c.user + c.system) / 1e6, peakRssBytes: peakRssBytes() };
}

/** Peaks of process.memoryUsage() seen by a {@link MemorySampler}, bytes. */
export interface MemoryPeaks {
  /** JS heap in use. */
  heapUsedBytes: number;
  /** Memory of ArrayBuffers and Buffers (outside the JS heap). */
  arrayBuffersBytes: number;
}

/**
 * Samples process.memoryUsage() every `intervalMs` (unref'd timer) to tell which part of the process held
 * memory at its peak: the JS heap or Buffers. A diagnostic next to {@link peakRssBytes}, which it does not
 * replace (short peaks between samples are missed).
 */
export class MemorySampler {
  readonly #timer: NodeJS.Timeout;
  readonly peaks: MemoryPeaks = { heapUsedBytes: 0, arrayBuffersBytes: 0 };

  constructor(intervalMs = 50) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
  }

  #sample(): void {
    const m = process.memoryUsage();
    this.peaks.heapUsedBytes = Math.max(this.peaks.heapUsedBytes, m.heapUsed);
    this.peaks.arrayBuffersBytes = Math.max(this.peaks.arrayBuffersBytes, m.arrayBuffers);
  }

  /** Takes a last sample, stops and returns the peaks. */
  stop(): MemoryPeaks {
    this.#sample();
    clearInterval(this.#timer);
    return this.peaks;
  }
}
