/**
 * Which device files a run considers: --since / --until (by the file's birth time, else mtime: the
 * capture date is only known after reading a file), --include / --exclude globs (glob.ts), and an
 * exact set of device paths (what a person picked in `photos ui`).
 */
import { InvalidArgumentError } from '../core/errors.ts';
import { compileGlob, type Glob } from './glob.ts';
import { fileDate, type DeviceFile } from './layout.ts';

export interface Selection {
  /** Inclusive lower bound. */
  since?: Date;
  /** Inclusive upper bound. */
  until?: Date;
  /** When non-empty, a file must match one of these. */
  include: Glob[];
  /** A file matching any of these is left out. */
  exclude: Glob[];
  /** When set, only these device paths (exact, e.g. /DCIM/100APPLE/IMG_0001.HEIC): a picked set, as the UI sends. */
  paths?: ReadonlySet<string>;
}

/**
 * Parses a user date: `YYYY-MM-DD` (local midnight; with `endOfDay`, 23:59:59.999 that day) or a full
 * ISO date-time.
 * @throws InvalidArgumentError (ERR_INVALID_ARG)
 */
export function parseDateArg(s: string, endOfDay = false): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  let d: Date;
  if (m) {
    d = endOfDay
      ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59, 999)
      : new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if (d.getDate() !== Number(m[3]) || d.getMonth() !== Number(m[2]) - 1) throw new InvalidArgumentError(`invalid date ${JSON.stringify(s)}`);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(s)) d = new Date(s);
  else throw new InvalidArgumentError(`invalid date ${JSON.stringify(s)} (use YYYY-MM-DD or an ISO date-time)`);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`invalid date ${JSON.stringify(s)}`);
  return d;
}

/** Builds a Selection from CLI-style strings. @throws InvalidArgumentError (ERR_INVALID_ARG) */
export function makeSelection(o: { since?: string; until?: string; include?: string[]; exclude?: string[] } = {}): Selection {
  const sel: Selection = {
    include: (o.include ?? []).map(compileGlob),
    exclude: (o.exclude ?? []).map(compileGlob),
  };
  if (o.since !== undefined) sel.since = parseDateArg(o.since);
  if (o.until !== undefined) sel.until = parseDateArg(o.until, true);
  if (sel.since && sel.until && sel.since > sel.until) throw new InvalidArgumentError('--since is after --until');
  return sel;
}

/** True when the file is part of this run. */
export function isSelected(sel: Selection | undefined, f: DeviceFile): boolean {
  if (!sel) return true;
  if (sel.paths && !sel.paths.has(f.remote)) return false;
  const t = fileDate(f).getTime();
  if (sel.since && t < sel.since.getTime()) return false;
  if (sel.until && t > sel.until.getTime()) return false;
  if (sel.include.length > 0 && !sel.include.some((g) => g.test(f.relPath))) return false;
  return !sel.exclude.some((g) => g.test(f.relPath));
}
