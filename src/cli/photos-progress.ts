/**
 * Progress and summary output for a backup: a redrawn bar on a TTY (files, bytes, rate, ETA), plain
 * lines otherwise, or JSON lines (`--json`: every event, progress throttled, then the summary).
 * Pure formatting plus a small renderer writing to a stream; no terminal library.
 */
import { isConnectionLost } from '../core/errors.ts';
import type { LibrarySummary } from '../photos/library/inventory.ts';
import type { BackupEvent, BackupSummary } from '../photos/events.ts';
import { formatBytes } from '../core/units.ts';

export { formatBytes };

/** True for a failure that means the device (connection) went away, not a problem of that file. */
export function isLostDeviceFailure(f: { code?: string }): boolean {
  return f.code === 'ERR_PHOTOS_DISCONNECTED' || isConnectionLost(f);
}

/** "N of M copied" (M: the files the plan meant to copy). */
function copiedOf(s: BackupSummary): string {
  return `${s.copied} of ${s.toCopy} copied`;
}

/**
 * The one headline for a run that did not go to its end (no trailing newline), else undefined:
 * `interrupted: N of M copied, rerun to resume` / `device disconnected: N of M copied; plug it back in and run again to resume`.
 */
export function formatHeadline(s: BackupSummary): string | undefined {
  if (s.status === 'interrupted') return `interrupted: ${copiedOf(s)}, rerun to resume`;
  if (s.status === 'device-lost') return `device disconnected: ${copiedOf(s)}; plug it back in and run again to resume`;
  return undefined;
}


/** Milliseconds → "0:07", "12:03", "1:02:03". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Counters of the copy phase, as the bar shows them. */
export interface ProgressState {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** ms since copying started. */
  elapsedMs: number;
}

/** One bar line, at most `width` columns: `[#####.....] 12/40 files  3.1/9.8 MB  21 MB/s  ETA 0:03`. */
export function formatBar(p: ProgressState, width = 80): string {
  const rate = p.elapsedMs > 0 ? (p.bytesDone * 1000) / p.elapsedMs : 0;
  const eta = rate > 0 ? ((p.bytesTotal - p.bytesDone) / rate) * 1000 : undefined;
  const text = ` ${p.filesDone}/${p.filesTotal} files  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(Math.round(rate))}/s  ETA ${eta === undefined ? '--:--' : formatDuration(eta)}`;
  const barWidth = Math.max(10, Math.min(30, width - text.length - 3));
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
  const fill = Math.round(frac * barWidth);
  return `[${'#'.repeat(fill)}${'.'.repeat(barWidth - fill)}]${text}`.slice(0, Math.max(20, width - 1));
}

/** One line on what the library inventory found. */
function libraryLine(l: LibrarySummary): string {
  const src = l.source === 'photos.sqlite' ? `Photos.sqlite (${l.schema}), ${l.assets} asset(s)` : 'file-only inventory';
  return `library: ${src}; ${l.files.dcim} camera-roll file(s), ${l.files.icloud} iCloud original(s), ${l.files.edits} edit file(s), ${l.files.shared} shared-album file(s); ${l.livePairedById} Live Photo(s) paired by content identifier`;
}

/** The library part of the summary: cloud-only assets (never skipped silently), sidecars, warnings. */
function libraryLines(s: BackupSummary): string[] {
  const l = s.library!;
  const out = [libraryLine(l)];
  if (l.warning) out.push(`warning: ${l.warning}`);
  const n = l.cloudOnly.length;
  if (n > 0) {
    out.push(`${n} photo${n === 1 ? ' is' : 's are'} only in iCloud: turn on Download and Keep Originals (Settings → Photos) or download them on the phone, then run again:`);
    for (const c of l.cloudOnly.slice(0, 20)) out.push(`  ${c.filename}${c.createdMs !== undefined ? ` (${new Date(c.createdMs).toISOString().slice(0, 10)})` : ''}${c.reason === 'missing' ? ' — listed as on the phone, but its file is missing' : ''}`);
    if (n > 20) out.push(`  … and ${n - 20} more (--json lists all)`);
  }
  if (s.sidecars) {
    out.push(`--albums: ${s.sidecars.xmp} XMP sidecar(s), ${s.sidecars.albums} album file(s) in ${s.sidecars.dir}/Albums, ${s.sidecars.dir}/library.json`);
    if (s.sidecars.keptForeign.length > 0) out.push(`  ${s.sidecars.keptForeign.length} sidecar(s) written by another program left as they are`);
  }
  return out;
}

/** Options of {@link formatSummary}. */
export interface SummaryFormat {
  /** Failures already shown (live, above the bar): not listed again. */
  shown?: ReadonlySet<string>;
}

/** The final human-readable summary of a run that went to its end (several lines, no trailing newline). */
export function formatSummary(s: BackupSummary, f: SummaryFormat = {}): string {
  const lines: string[] = [];
  if (s.dryRun) {
    lines.push(`dry run: ${s.wouldCopy.length} file(s) would be copied (${formatBytes(s.wouldCopyBytes)}), ${s.skipped} already backed up`);
  } else {
    const rate = s.elapsedMs > 0 && s.copied > 0 ? ` (${formatBytes(Math.round((s.copiedBytes * 1000) / s.elapsedMs))}/s)` : '';
    const took = s.elapsedMs < 60_000 ? `${(s.elapsedMs / 1000).toFixed(1)} s` : formatDuration(s.elapsedMs);
    const what = s.copied > 0 ? `copied ${s.copied} file(s), ${formatBytes(s.copiedBytes)}` : 'nothing new to copy';
    lines.push(`${what} in ${took}${rate}; ${s.skipped} already backed up; ${s.failed.length} failed`);
  }
  if (s.stopped) lines.push(`stopped: [${s.stopped.code}] ${s.stopped.message}`);
  if (s.selected !== s.found) lines.push(`${s.selected} of ${s.found} file(s) on the device matched the selection`);
  for (const x of s.failed) if (!f.shown?.has(x.remote)) lines.push(`  failed: ${x.remote} [${x.code}] ${x.reason}`);
  if (s.rejected.length > 0) {
    lines.push(`${s.rejected.length} item(s) not copied:`);
    for (const r of s.rejected) lines.push(`  ${r.reason}: ${JSON.stringify(r.remote)} (${r.detail})`);
  }
  if (s.dateFallbacks.length > 0) {
    lines.push(`${s.dateFallbacks.length} file(s) dated by their file's time:`);
    for (const d of s.dateFallbacks.slice(0, 20)) lines.push(`  ${d.remote}: ${d.reason}`);
    if (s.dateFallbacks.length > 20) lines.push(`  … and ${s.dateFallbacks.length - 20} more (--json lists all)`);
  }
  if (s.deleted.length > 0) lines.push(`removed ${s.deleted.length} verified file(s) from the device`);
  if (s.keptOnDevice.length > 0) lines.push(`kept ${s.keptOnDevice.length} file(s) on the device: changed since their copy (the next run copies them) or gone`);
  if (s.library) lines.push(...libraryLines(s));
  if (s.converted) {
    const c = s.converted;
    lines.push(`--convert-heic ${c.to}: ${c.written} JPEG(s) written, ${c.upToDate} already there${c.dropped ? `, ${c.dropped} HEIC(s) removed from DEST (kept on the device)` : ''}${c.failed ? `, ${c.failed} could not be converted (HEIC kept)` : ''}`);
  }
  if (s.deleteSkipped) lines.push(`nothing removed from the device: ${s.deleteSkipped}`);
  if (s.safeToDelete) lines.push(`safe-to-delete report: ${s.safeToDelete.path} (${s.safeToDelete.items} item(s) in ${s.safeToDelete.ranges.length} date range(s))`);
  if (!s.dryRun) lines.push(`backup folder: ${s.deviceFolder ? `${s.dest}/${s.deviceFolder}` : s.dest}`);
  return lines.join('\n');
}

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

/** Options of {@link ProgressRenderer}. */
export interface RendererOptions {
  /** Where the headline of an interrupted or device-lost run goes (default: the same stream). */
  err?: NodeJS.WritableStream;
  /** List every file a lost device left uncopied (text modes; JSON always has them). */
  verbose?: boolean;
}

/**
 * Writes events to a stream in one of the modes; call `finish(summary)` at the end (or `abandon()` when the run
 * rejected, so the error does not land on the bar's line). Each failed file is shown once: live, above the bar,
 * unless it failed because the device went away; those are summed up in one headline at the end (listed with
 * `verbose`).
 */
export class ProgressRenderer {
  #out: NodeJS.WritableStream & { columns?: number };
  #err: NodeJS.WritableStream;
  #verbose: boolean;
  #shown = new Set<string>();
  #mode: ProgressMode;
  #now: () => number;
  #start = 0;
  #lastDraw = 0;
  #barShown = false;
  #state: ProgressState = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, elapsedMs: 0 };
  /** Minimum ms between bar redraws (TTY) / progress lines (plain, json). */
  intervalMs: number;

  constructor(out: NodeJS.WritableStream & { columns?: number }, mode: ProgressMode, now: () => number = () => performance.now(), o: RendererOptions = {}) {
    this.#out = out;
    this.#err = o.err ?? out;
    this.#verbose = o.verbose ?? false;
    this.#mode = mode;
    this.#now = now;
    this.intervalMs = mode === 'tty' ? 100 : mode === 'json' ? 500 : 2000;
  }

  #line(s: string): void {
    if (this.#barShown) this.#out.write('\r\x1b[K');
    this.#out.write(s + '\n');
    if (this.#barShown) this.#draw(true);
  }

  #draw(force = false): void {
    const t = this.#now();
    if (!force && t - this.#lastDraw < this.intervalMs) return;
    this.#lastDraw = t;
    this.#state.elapsedMs = t - this.#start;
    if (this.#mode === 'tty') {
      this.#out.write(`\r\x1b[K${formatBar(this.#state, this.#out.columns || 80)}`);
      this.#barShown = true;
    } else if (this.#mode === 'plain') this.#out.write(`progress: ${formatBar(this.#state, 200).replace(/^\[[#.]*\] /, '')}\n`);
    else if (this.#mode === 'json') this.#out.write(JSON.stringify({ type: 'progress', ...this.#state, elapsedMs: Math.round(this.#state.elapsedMs) }) + '\n');
  }

  /** Feeds one engine event. */
  onEvent(e: BackupEvent): void {
    if (this.#mode === 'quiet') return;
    if (e.type === 'progress') {
      Object.assign(this.#state, { filesDone: e.filesDone, filesTotal: e.filesTotal, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal });
      this.#draw();
      return;
    }
    if (this.#mode === 'json') {
      if (e.type === 'plan') this.#start = this.#now();
      this.#out.write(JSON.stringify(e) + '\n');
      return;
    }
    switch (e.type) {
      case 'plan':
        this.#start = this.#now();
        this.#state = { filesDone: 0, filesTotal: e.toCopy, bytesDone: 0, bytesTotal: e.toCopyBytes, elapsedMs: 0 };
        this.#line(`${e.found} file(s) on the device, ${e.selected} selected, ${e.toCopy} to copy (${formatBytes(e.toCopyBytes)})`);
        break;
      case 'file':
        if (e.status === 'failed') {
          if (isLostDeviceFailure(e)) break; // summed up in the headline at the end
          this.#shown.add(e.remote);
          this.#line(`failed: ${e.remote} [${e.code}] ${e.reason ?? ''}`);
        }
        else if (e.status === 'would-copy') this.#line(`would copy: ${e.remote} (${formatBytes(e.bytes)})`);
        else if (e.status === 'copied' && this.#mode === 'plain') this.#line(`copied: ${e.remote} -> ${e.local}`);
        break;
      case 'converted':
        if (this.#mode === 'plain') this.#line(`converted: ${e.from} -> ${e.local}`);
        break;
      case 'rejected':
        this.#line(`skipped ${e.reason}: ${JSON.stringify(e.remote)} (${e.detail})`);
        break;
      case 'reconnect':
        this.#line('connection dropped; reconnecting…');
        break;
      case 'deleted':
        if (this.#mode === 'plain') this.#line(`removed from device: ${e.remote}`);
        break;
      case 'delete-kept':
        this.#line(`kept on the device (${e.reason}): ${e.remote} (${e.detail})`);
        break;
      case 'date-fallback':
        if (this.#mode === 'plain') this.#line(`dated by file time: ${e.remote}: ${e.reason}`);
        break;
      case 'delete-skipped':
        this.#line(`not removing anything from the device: ${e.reason}`);
        break;
      case 'library':
        this.#line(libraryLine(e));
        if (e.warning) this.#line(`warning: ${e.warning}`);
        break;
    }
  }

  /** Ends the bar's line (final state) so what follows starts on a line of its own. */
  #endBar(): void {
    if (!this.#barShown) return;
    this.#draw(true);
    this.#out.write('\n');
    this.#barShown = false;
  }

  /**
   * Ends the output: the summary (text, or one JSON line with type "summary"); for an interrupted or
   * device-lost run one headline on `err` instead (plus, with `verbose`, the files a lost device left).
   */
  finish(s: BackupSummary): void {
    const headline = formatHeadline(s);
    if (this.#mode === 'json') {
      this.#out.write(JSON.stringify({ type: 'summary', ...s }) + '\n');
      if (headline) this.#err.write(headline + '\n');
      return;
    }
    this.#endBar();
    if (this.#mode === 'quiet') return;
    if (!headline) {
      this.#out.write(formatSummary(s, { shown: this.#shown }) + '\n');
      return;
    }
    const lines = [headline];
    const left = s.failed.filter((f) => !this.#shown.has(f.remote));
    if (this.#verbose) for (const f of left) lines.push(`  not copied: ${f.remote} [${f.code}]`);
    this.#err.write(lines.join('\n') + '\n');
  }

  /** The run rejected: end the bar's line so the error message that follows starts on its own line. */
  abandon(): void {
    this.#endBar();
  }
}
