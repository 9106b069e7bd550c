/**
 * UDID helpers shared by every transport (no I/O). 2018+ devices have a 24-hex-digit serial that tools
 * show with a dash after 8 digits (`00008020-001134490E50003A`); older ones have 40 hex digits, no dash.
 */

/** Inserts the dash of a 24-character (2018+) serial: `00008020001134490E50003A` → `00008020-001134490E50003A`. */
export function dashedUdid(serial: string): string {
  const s = serial.trim();
  if (/^[0-9A-Fa-f]{24}$/.test(s)) return `${s.slice(0, 8)}-${s.slice(8)}`;
  return s;
}

/** Compares UDIDs with and without the dash, case-insensitively. */
export function sameUdid(a: string, b: string): boolean {
  return a.replace(/-/g, '').toUpperCase() === b.replace(/-/g, '').toUpperCase();
}
