/**
 * XML property list decoder: a small hand-written tokenizer for the subset of XML that plists use (elements without
 * namespaces, the five predefined entities and character references, CDATA, comments, processing instructions and a
 * DOCTYPE with an optional internal subset). No DOM is built; values are produced while scanning.
 */
import { type PlistDict, type PlistValue, PlistUid } from './types.ts';
import { PlistError, type PlistErrorCode, type ResolvedLimits, setKey } from './errors.ts';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

interface StartTag {
  name: string;
  selfClosing: boolean;
  at: number;
}

/**
 * Decodes an XML plist (UTF-8, optional BOM). Limits are checked as the document is scanned.
 * @throws PlistError ERR_PLIST_SYNTAX (malformed XML or value text), ERR_PLIST_TOO_LARGE (input bytes, value count,
 *   decoded bytes or depth over the caps), ERR_PLIST_UNSUPPORTED (unknown element, integer beyond 64 bits)
 */
export function decodeXmlPlist(buf: Buffer, limits: ResolvedLimits): PlistValue {
  if (buf.length > limits.maxBytes) throw new PlistError('ERR_PLIST_TOO_LARGE', `input of ${buf.length} bytes exceeds ${limits.maxBytes}`);
  let start = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  return new XmlParser(buf.toString('utf8', start), limits).parseDocument();
}

class XmlParser {
  #s: string;
  #i = 0;
  #limits: ResolvedLimits;
  #objects = 0;
  #bytes = 0;

  constructor(s: string, limits: ResolvedLimits) {
    this.#s = s;
    this.#limits = limits;
  }

  #fail(reason: string, code: PlistErrorCode = 'ERR_PLIST_SYNTAX', at = this.#i): never {
    throw new PlistError(code, reason, at);
  }

  parseDocument(): PlistValue {
    this.#skipMisc(true);
    const tag = this.#readStartTag();
    let value: PlistValue;
    if (tag.name === 'plist') {
      if (tag.selfClosing) this.#fail('empty <plist/>', 'ERR_PLIST_SYNTAX', tag.at);
      this.#skipMisc(false);
      if (this.#s.startsWith('</', this.#i)) this.#fail('<plist> holds no value');
      value = this.#parseElement(this.#readStartTag(), 0);
      this.#skipMisc(false);
      this.#expectEndTag('plist');
    } else {
      value = this.#parseElement(tag, 0);
    }
    this.#skipMisc(false);
    if (this.#i < this.#s.length) this.#fail('content after the root element');
    return value;
  }

  #skipWs(): void {
    const s = this.#s;
    let i = this.#i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    this.#i = i;
  }

  #skipPast(terminator: string, what: string): void {
    const end = this.#s.indexOf(terminator, this.#i);
    if (end < 0) this.#fail(`unterminated ${what}`);
    this.#i = end + terminator.length;
  }

  /** Skips whitespace, comments and processing instructions (and a DOCTYPE when `allowDoctype`). */
  #skipMisc(allowDoctype: boolean): void {
    const s = this.#s;
    while (true) {
      this.#skipWs();
      if (s.startsWith('<!--', this.#i)) this.#skipPast('-->', 'comment');
      else if (s.startsWith('<?', this.#i)) this.#skipPast('?>', 'processing instruction');
      else if (allowDoctype && s.startsWith('<!DOCTYPE', this.#i)) this.#skipDoctype();
      else return;
    }
  }

  #skipDoctype(): void {
    const s = this.#s;
    let i = this.#i + 9;
    let bracket = 0;
    let quote = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (quote) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) quote = c;
      else if (c === 0x5b) bracket++;
      else if (c === 0x5d) bracket--;
      else if (c === 0x3e && bracket <= 0) {
        this.#i = i + 1;
        return;
      }
    }
    this.#fail('unterminated DOCTYPE');
  }

  #readName(): string {
    const s = this.#s;
    const from = this.#i;
    let i = from;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e;
      if (!ok) break;
      i++;
    }
    if (i === from) this.#fail('expected a name');
    this.#i = i;
    return s.slice(from, i);
  }

  #readStartTag(): StartTag {
    const s = this.#s;
    const at = this.#i;
    if (s.charCodeAt(at) !== 0x3c) this.#fail(at >= s.length ? 'unexpected end of document' : 'expected an element');
    const next = s.charCodeAt(at + 1);
    if (next === 0x2f || next === 0x21 || next === 0x3f) this.#fail('expected a start tag');
    this.#i = at + 1;
    const name = this.#readName();
    while (true) {
      this.#skipWs();
      const c = s.charCodeAt(this.#i);
      if (c === 0x3e) {
        this.#i++;
        return { name, selfClosing: false, at };
      }
      if (c === 0x2f) {
        if (s.charCodeAt(this.#i + 1) !== 0x3e) this.#fail("expected '>' after '/'");
        this.#i += 2;
        return { name, selfClosing: true, at };
      }
      if (Number.isNaN(c)) this.#fail('unterminated start tag');
      // attribute: name = "value"
      this.#readName();
      this.#skipWs();
      if (s.charCodeAt(this.#i) !== 0x3d) this.#fail("expected '=' in attribute");
      this.#i++;
      this.#skipWs();
      const q = s.charCodeAt(this.#i);
      if (q !== 0x22 && q !== 0x27) this.#fail('expected a quoted attribute value');
      const end = s.indexOf(q === 0x22 ? '"' : "'", this.#i + 1);
      if (end < 0) this.#fail('unterminated attribute value');
      this.#i = end + 1;
    }
  }

  #expectEndTag(name: string): void {
    const s = this.#s;
    if (!s.startsWith('</', this.#i)) this.#fail(`expected </${name}>`);
    this.#i += 2;
    const got = this.#readName();
    if (got !== name) this.#fail(`expected </${name}>, got </${got}>`);
    this.#skipWs();
    if (s.charCodeAt(this.#i) !== 0x3e) this.#fail(`unterminated </${name}>`);
    this.#i++;
  }

  #count(): void {
    if (++this.#objects > this.#limits.maxObjects) this.#fail(`more than ${this.#limits.maxObjects} values`, 'ERR_PLIST_TOO_LARGE');
  }

  #addBytes(n: number): void {
    this.#bytes += n;
    if (this.#bytes > this.#limits.maxBytes) this.#fail(`decoded data exceeds ${this.#limits.maxBytes} bytes`, 'ERR_PLIST_TOO_LARGE');
  }

  /** Parses the element whose start tag was just read; `depth` is the number of enclosing containers. */
  #parseElement(tag: StartTag, depth: number): PlistValue {
    this.#count();
    switch (tag.name) {
      case 'dict':
        return this.#parseDict(tag, depth + 1);
      case 'array':
        return this.#parseArray(tag, depth + 1);
      case 'string': {
        const t = tag.selfClosing ? '' : this.#readText('string');
        this.#addBytes(t.length);
        return t;
      }
      case 'integer':
        return this.#parseInteger(this.#valueText(tag), tag.at);
      case 'real':
        return this.#parseReal(this.#valueText(tag), tag.at);
      case 'true':
      case 'false':
        if (!tag.selfClosing && this.#readText(tag.name).trim() !== '') this.#fail(`<${tag.name}> must be empty`, 'ERR_PLIST_SYNTAX', tag.at);
        return tag.name === 'true';
      case 'date':
        return this.#parseDate(this.#valueText(tag), tag.at);
      case 'data':
        return this.#parseData(tag.selfClosing ? '' : this.#readText('data'), tag.at);
      case 'key':
        return this.#fail('<key> outside a <dict>', 'ERR_PLIST_SYNTAX', tag.at);
      default:
        return this.#fail(`unsupported element <${tag.name}>`, 'ERR_PLIST_UNSUPPORTED', tag.at);
    }
  }

  #checkDepth(depth: number, at: number): void {
    if (depth > this.#limits.maxDepth) this.#fail(`nesting deeper than ${this.#limits.maxDepth}`, 'ERR_PLIST_TOO_LARGE', at);
  }

  #parseDict(tag: StartTag, depth: number): PlistDict | PlistUid {
    this.#checkDepth(depth, tag.at);
    const out: PlistDict = {};
    if (tag.selfClosing) return out;
    while (true) {
      this.#skipMisc(false);
      if (this.#s.startsWith('</', this.#i)) {
        this.#expectEndTag('dict');
        // CoreFoundation and libplist write a UID as <dict><key>CF$UID</key><integer>n</integer></dict>.
        const keys = Object.keys(out);
        const uid = out['CF$UID'];
        if (keys.length === 1 && typeof uid === 'number' && uid >= 0 && uid <= 0xffffffff) return new PlistUid(uid);
        return out;
      }
      const k = this.#readStartTag();
      if (k.name !== 'key') this.#fail(`expected <key> in <dict>, got <${k.name}>`, 'ERR_PLIST_SYNTAX', k.at);
      const key = k.selfClosing ? '' : this.#readText('key');
      this.#addBytes(key.length);
      this.#skipMisc(false);
      if (this.#s.startsWith('</', this.#i)) this.#fail(`<key>${key.slice(0, 40)}</key> has no value`);
      setKey(out, key, this.#parseElement(this.#readStartTag(), depth));
    }
  }

  #parseArray(tag: StartTag, depth: number): PlistValue[] {
    this.#checkDepth(depth, tag.at);
    const out: PlistValue[] = [];
    if (tag.selfClosing) return out;
    while (true) {
      this.#skipMisc(false);
      if (this.#s.startsWith('</', this.#i)) {
        this.#expectEndTag('array');
        return out;
      }
      out.push(this.#parseElement(this.#readStartTag(), depth));
    }
  }

  #valueText(tag: StartTag): string {
    return (tag.selfClosing ? '' : this.#readText(tag.name)).trim();
  }

  /** Reads character data (entities, CDATA, comments allowed) up to and including `</name>`. */
  #readText(name: string): string {
    const s = this.#s;
    let out = '';
    while (true) {
      const lt = s.indexOf('<', this.#i);
      if (lt < 0) this.#fail(`unterminated <${name}>`);
      out += this.#decodeEntities(this.#i, lt);
      this.#i = lt;
      if (s.startsWith('</', lt)) {
        this.#expectEndTag(name);
        return out;
      }
      if (s.startsWith('<!--', lt)) this.#skipPast('-->', 'comment');
      else if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);
        if (end < 0) this.#fail('unterminated CDATA section');
        out += s.slice(lt + 9, end);
        this.#i = end + 3;
      } else if (s.startsWith('<?', lt)) this.#skipPast('?>', 'processing instruction');
      else this.#fail(`unexpected element inside <${name}>`);
    }
  }

  #decodeEntities(from: number, to: number): string {
    // search only inside [from, to): an unbounded indexOf('&') would rescan the rest of the document per text node
    const seg = this.#s.slice(from, to);
    let amp = seg.indexOf('&');
    if (amp < 0) return seg;
    let out = '';
    let i = 0;
    while (amp >= 0) {
      out += seg.slice(i, amp);
      const semi = seg.indexOf(';', amp);
      if (semi < 0 || semi - amp > 12) this.#fail('unterminated entity reference', 'ERR_PLIST_SYNTAX', from + amp);
      out += this.#entity(seg.slice(amp + 1, semi), from + amp);
      i = semi + 1;
      amp = seg.indexOf('&', i);
    }
    return out + seg.slice(i);
  }

  #entity(name: string, at: number): string {
    switch (name) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    let cp = NaN;
    if (/^#[0-9]{1,8}$/.test(name)) cp = Number(name.slice(1));
    else if (/^#x[0-9a-fA-F]{1,7}$/.test(name)) cp = parseInt(name.slice(2), 16);
    if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) this.#fail(`unknown entity &${name};`, 'ERR_PLIST_SYNTAX', at);
    return String.fromCodePoint(cp);
  }

  #parseInteger(t: string, at: number): number | bigint {
    let v: bigint;
    if (/^[+-]?[0-9]+$/.test(t)) v = BigInt(t.startsWith('+') ? t.slice(1) : t);
    else if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) {
      const neg = t.startsWith('-');
      const body = t.replace(/^[+-]/, '');
      v = BigInt(body);
      if (neg) v = -v;
    } else return this.#fail(`bad <integer> ${JSON.stringify(t.slice(0, 40))}`, 'ERR_PLIST_SYNTAX', at);
    if (v < INT64_MIN || v > UINT64_MAX) this.#fail('<integer> beyond 64 bits', 'ERR_PLIST_UNSUPPORTED', at);
    return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  #parseReal(t: string, at: number): number {
    const lower = t.toLowerCase();
    if (lower === 'nan' || lower === '+nan' || lower === '-nan') return NaN;
    if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
    if (lower === '-inf' || lower === '-infinity') return -Infinity;
    if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(t)) this.#fail(`bad <real> ${JSON.stringify(t.slice(0, 40))}`, 'ERR_PLIST_SYNTAX', at);
    return Number(t);
  }

  #parseDate(t: string, at: number): Date {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/.exec(t);
    if (!m) return this.#fail(`bad <date> ${JSON.stringify(t.slice(0, 40))}`, 'ERR_PLIST_SYNTAX', at);
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) this.#fail('<date> field out of range', 'ERR_PLIST_SYNTAX', at);
    const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
    // Date.UTC maps years 0..99 to 1900..1999; 2000 + y has the same leap-year pattern, then set the real year.
    const date = new Date(Date.UTC(y < 100 ? y + 2000 : y, mo - 1, d, h, mi, sec, ms));
    if (y < 100) date.setUTCFullYear(y);
    if (Number.isNaN(date.getTime())) this.#fail('<date> out of range', 'ERR_PLIST_SYNTAX', at);
    if (sec < 60 && date.getUTCDate() !== d) this.#fail('<date> day out of range for its month', 'ERR_PLIST_SYNTAX', at);
    return date;
  }

  #parseData(t: string, at: number): Buffer {
    const b64 = t.replace(/[ \t\r\n]+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) this.#fail('bad base64 in <data>', 'ERR_PLIST_SYNTAX', at);
    this.#addBytes((b64.length * 3) >> 2);
    return Buffer.from(b64, 'base64');
  }
}
