/**
 * What a usable capture date is (pure). Dates are local wall times "YYYY-MM-DDTHH:MM:SS" (EXIF has no time zone;
 * instants such as QuickTime's mvhd time or a file's mtime are shown in this computer's zone). A usable date is a
 * real calendar date and time (no Feb 31, month 13, hour 25, second 60) between 1970-01-01T00:00:00 and
 * now + 1 day (a camera clock in a zone ahead of ours). Anything else is refused with a reason, so the caller can
 * fall back to the file's time and say why.
 */

/** Earliest usable capture date (wall time). */
export const MIN_CAPTURE_DATE = '1970-01-01T00:00:00';

const DAY_MS = 86_400_000;

/** Largest |ms| a Date can hold. */
const MAX_DATE_MS = 8.64e15;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Local wall time of an instant as "YYYY-MM-DDTHH:MM:SS"; undefined for NaN or a time a Date cannot hold. */
export function wallTimeOf(ms: number): string | undefined {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return undefined;
  const d = new Date(ms);
  const y = d.getFullYear();
  if (y < 0 || y > 9999) return undefined;
  return `${pad(y, 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Latest usable capture date (wall time): now + 1 day. */
export function maxCaptureDate(now = Date.now()): string {
  return wallTimeOf(now + DAY_MS) ?? '9999-12-31T23:59:59';
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Why the fields are not a real date and time, or undefined when they are. */
function calendarProblem(y: number, mo: number, d: number, h: number, mi: number, s: number): string | undefined {
  if (mo < 1 || mo > 12) return `month ${mo}`;
  if (d < 1 || d > daysIn(y, mo)) return `day ${d} of month ${mo}`;
  if (h > 23 || mi > 59 || s > 59) return `time ${pad(h)}:${pad(mi)}:${pad(s)}`;
  return undefined;
}

/** A usable date, or the reason it is refused. */
export type DateCheck = { date: string } | { reason: string };

/**
 * Checks a wall time "YYYY-MM-DDTHH:MM:SS" (exactly that shape; EXIF's "YYYY:MM:DD HH:MM:SS" is converted by the
 * caller): a real date and time inside [{@link MIN_CAPTURE_DATE}, now + 1 day].
 */
export function checkWallTime(s: string, now = Date.now()): DateCheck {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return { reason: 'not a date' };
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const bad = calendarProblem(y, mo, d, h, mi, se);
  if (bad) return { reason: `not a real date (${bad})` };
  if (s < MIN_CAPTURE_DATE) return { reason: 'before 1970' };
  if (s > maxCaptureDate(now)) return { reason: 'in the future' };
  return { date: s };
}

/** The wall time if `s` is a usable capture date, else undefined. */
export function usableWallTime(s: string | undefined, now = Date.now()): string | undefined {
  if (s === undefined) return undefined;
  const c = checkWallTime(s, now);
  return 'date' in c ? c.date : undefined;
}

/** Clamps a wall time (or NaN's undefined) into the usable range; a string that is no date becomes the minimum. */
export function clampWallTime(s: string | undefined, now = Date.now()): string {
  if (s === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(s)) return MIN_CAPTURE_DATE;
  const max = maxCaptureDate(now);
  if (s > max) return max;
  if (s < MIN_CAPTURE_DATE) return MIN_CAPTURE_DATE;
  return usableWallTime(s, now) ?? MIN_CAPTURE_DATE;
}

/** Text of a refused raw value for messages: printable ASCII only, at most 40 characters, quoted. */
export function quoteRaw(raw: string): string {
  const t = raw.replace(/\0+$/, '');
  const clean = t.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 40 ? `${clean.slice(0, 40)}…` : clean);
}

/** One date found in a file's metadata, before it is checked. */
export interface DateCandidate {
  /** Where it came from, e.g. 'EXIF DateTimeOriginal', 'QuickTime mvhd creation time'. */
  source: string;
  /** The wall time it converts to, when it has the right shape (undefined: unreadable or not representable). */
  wall: string | undefined;
  /** The value as stored (for the message). */
  raw: string;
  /** Why `wall` is undefined (default 'not a date'). */
  problem?: string;
}

/** What a metadata reader found: a usable date, or why the dates present were refused (neither: no date at all). */
export interface DateProbe {
  date?: string;
  /** Why no date was usable although the file has date metadata, e.g. `EXIF DateTimeOriginal "2023:02:31 …" …`. */
  rejected?: string;
}

/** The first usable candidate, else the reason the first one was refused. */
export function pickCandidate(cands: readonly DateCandidate[], now = Date.now()): DateProbe {
  let rejected: string | undefined;
  for (const c of cands) {
    const chk: DateCheck = c.wall === undefined ? { reason: c.problem ?? 'not a date' } : checkWallTime(c.wall, now);
    if ('date' in chk) return { date: chk.date };
    rejected ??= `${c.source} ${quoteRaw(c.raw)} is ${chk.reason}`;
  }
  return rejected === undefined ? {} : { rejected };
}
