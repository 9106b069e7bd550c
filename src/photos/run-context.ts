/**
 * What the stages of one backup run share: the options, DEST paths, the connection slots, the manifest,
 * the summary being filled in and the progress counters. Built once by backup.ts, passed to each stage.
 */
import type { ConnectionSlots } from './connections.ts';
import type { BackupEvent, BackupSummary } from './events.ts';
import type { CustomLayout, Layout } from './layout.ts';
import type { BackupLimits } from './limits.ts';
import type { Manifest } from './manifest.ts';
import type { WatchOptions } from './watch.ts';

export interface RunContext {
  /** Real path of DEST. */
  dest: string;
  /** DEST/.iosdevice/parts, where .part files are received. */
  partsDir: string;
  udid: string;
  layout: Layout | CustomLayout;
  /** This device's folder below DEST (device-folder.ts): [] for DEST's top level, else [name]. */
  deviceDir: string[];
  /**
   * DEST-relative paths that groups being placed right now have picked (group-suffix.ts), so two
   * groups of one run never pick the same names.
   */
  claims: Set<string>;
  /** --event NAME: files go under DEST/NAME/<device folder>/ (already checked). */
  event?: string;
  /** Per request (stat, listing, remove) bound, ms. */
  idleMs: number;
  /** Progress-based timeouts of every transfer from the device (watch.ts). */
  watch: WatchOptions;
  limits: BackupLimits;
  /** Aborted by the caller's signal, or by {@link RunContext.stopForDest}. */
  signal?: AbortSignal;
  /**
   * DEST became unusable (dest.ts: disk full, read-only, no permission): stops the whole run (aborts `signal`);
   * the run then rejects with the DestError for `e`. The first call wins.
   */
  stopForDest: (e: unknown) => void;
  slots: ConnectionSlots;
  manifest: Manifest;
  summary: BackupSummary;
  progress: { filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number };
  emit: (e: BackupEvent) => void;
}

/** Emits the current progress counters. */
export function tick(ctx: RunContext): void {
  ctx.emit({ type: 'progress', ...ctx.progress });
}
