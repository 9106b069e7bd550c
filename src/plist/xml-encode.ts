/**
 * XML property list encoder producing the same layout as Apple's CoreFoundation and libplist 2.2: the standard
 * prolog and DOCTYPE, tab indentation, `<dict/>`/`<array/>` when empty, `<true/>`/`<false/>`, and base64 <data> wrapped
 * in lines whose width shrinks with the depth (76 − 8·depth characters) on their own indented lines.
 */
import { type PlistValue } from './types.ts';
import { PlistError } from './errors.ts';
import { classify, PathGuard } from './value-kind.ts';

const HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';

/**
 * Encodes a value as an XML plist (UTF-8). Dict entries whose value is `undefined` are left out.
 * Dates are written as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when the milliseconds are non-zero.
 * @throws PlistError ERR_PLIST_INVALID_VALUE (not a plist value, cyclic, integer out of range, a Date outside years
 *   0000..9999, which ISO 8601 cannot write), ERR_PLIST_TOO_LARGE (nesting > 512)
 */
export function encodeXmlPlist(v: PlistValue): Buffer {
  const out: string[] = [HEADER];
  writeValue(out, v, 0, new PathGuard());
  out.push('</plist>\n');
  return Buffer.from(out.join(''), 'utf8');
}

function escapeXml(s: string): string {
  return /[<>&]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s;
}

function formatReal(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return '+infinity';
  if (n === -Infinity) return '-infinity';
  if (Object.is(n, -0)) return '-0.0';
  return String(n);
}

function formatDate(d: Date): string {
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new PlistError('ERR_PLIST_INVALID_VALUE', `XML plists hold dates in years 0000..9999, got ${year}`);
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return d.getUTCMilliseconds() === 0 ? iso.replace(/\.\d{3}Z$/, 'Z') : iso;
}

function writeValue(out: string[], v: PlistValue, depth: number, guard: PathGuard): void {
  const ind = '\t'.repeat(depth);
  const c = classify(v);
  switch (c.t) {
    case 'string':
      out.push(`${ind}<string>${escapeXml(c.v)}</string>\n`);
      return;
    case 'int':
      out.push(`${ind}<integer>${c.v}</integer>\n`);
      return;
    case 'real':
      out.push(`${ind}<real>${formatReal(c.v)}</real>\n`);
      return;
    case 'bool':
      out.push(`${ind}${c.v ? '<true/>' : '<false/>'}\n`);
      return;
    case 'date':
      out.push(`${ind}<date>${formatDate(c.v)}</date>\n`);
      return;
    case 'uid':
      // XML has no UID type; CoreFoundation writes it as a dict holding CF$UID.
      out.push(`${ind}<dict>\n${ind}\t<key>CF$UID</key>\n${ind}\t<integer>${c.v}</integer>\n${ind}</dict>\n`);
      return;
    case 'data': {
      out.push(`${ind}<data>\n`);
      const width = Math.max(4, (((76 - depth * 8) >> 2) << 2));
      const b64 = c.v.toString('base64');
      for (let i = 0; i < b64.length; i += width) out.push(`${ind}${b64.slice(i, i + width)}\n`);
      out.push(`${ind}</data>\n`);
      return;
    }
    case 'array': {
      if (c.v.length === 0) {
        out.push(`${ind}<array/>\n`);
        return;
      }
      guard.enter(c.v, depth + 1);
      out.push(`${ind}<array>\n`);
      for (const item of c.v) writeValue(out, item, depth + 1, guard);
      out.push(`${ind}</array>\n`);
      guard.leave(c.v);
      return;
    }
    case 'dict': {
      const keys = Object.keys(c.v).filter((k) => c.v[k] !== undefined);
      if (keys.length === 0) {
        out.push(`${ind}<dict/>\n`);
        return;
      }
      guard.enter(c.v, depth + 1);
      out.push(`${ind}<dict>\n`);
      for (const k of keys) {
        out.push(`${ind}\t<key>${escapeXml(k)}</key>\n`);
        writeValue(out, c.v[k] as PlistValue, depth + 1, guard);
      }
      out.push(`${ind}</dict>\n`);
      guard.leave(c.v);
      return;
    }
  }
}
