/**
 * A small DER (X.690 Distinguished Encoding Rules) writer and reader: just what X.509 certificates of
 * the pairing profile need. Pure, no I/O.
 *
 * Wire layout of one element (TLV):
 *   tag    1 byte   class (2 bits) | constructed (1 bit) | number (5 bits); numbers ≥ 31 (multi-byte tags) are not used here
 *   length 1 byte   < 0x80: the length itself; 0x81..0x84: that many following big-endian length bytes;
 *                   0x80 (indefinite) is not allowed in DER
 *   value  length bytes
 */
import { PairingError } from './errors.ts';

/** Universal tags (with the constructed bit where the type is always constructed). */
export const DerTag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

// ---------------------------------------------------------------- writer

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV element with the given tag byte and content. */
export function derTlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** SEQUENCE of already-encoded elements. */
export function derSequence(...items: Buffer[]): Buffer {
  return derTlv(DerTag.Sequence, Buffer.concat(items));
}

/** SET of already-encoded elements (caller keeps DER order; the pairing profile only uses empty or single-item sets). */
export function derSet(...items: Buffer[]): Buffer {
  return derTlv(DerTag.Set, Buffer.concat(items));
}

/**
 * INTEGER. `number`/`bigint` are two's complement (negative allowed); a Buffer is an unsigned big-endian
 * magnitude (e.g. an RSA modulus). Always the minimal encoding.
 * @throws ERR_INVALID_ARG for a non-integral number
 */
export function derInteger(v: number | bigint | Buffer): Buffer {
  let bytes: number[];
  if (Buffer.isBuffer(v)) {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    bytes = [...v.subarray(i)];
    if (bytes.length === 0) bytes = [0];
    if (bytes[0]! & 0x80) bytes.unshift(0);
  } else {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new PairingError('ERR_PAIRING_BAD_DER', `not an integer: ${v}`);
    let n = BigInt(v);
    bytes = [];
    // two's complement, minimal: stop when the remaining value is 0 / -1 and the sign bit already matches
    for (;;) {
      const b = Number(n & 0xffn);
      bytes.unshift(b);
      n >>= 8n;
      if ((n === 0n && (b & 0x80) === 0) || (n === -1n && (b & 0x80) !== 0)) break;
    }
  }
  return derTlv(DerTag.Integer, Buffer.from(bytes));
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function derBoolean(b: boolean): Buffer {
  return derTlv(DerTag.Boolean, Buffer.from([b ? 0xff : 0x00]));
}

/** NULL. */
export function derNull(): Buffer {
  return Buffer.from([DerTag.Null, 0x00]);
}

/**
 * OBJECT IDENTIFIER from dotted form ("1.2.840.113549.1.1.11").
 * @throws ERR_PAIRING_BAD_DER for a malformed OID string
 */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => (/^\d+$/.test(s) ? BigInt(s) : -1n));
  if (arcs.length < 2 || arcs.some((a) => a < 0n) || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) {
    throw new PairingError('ERR_PAIRING_BAD_DER', `bad object identifier: ${dotted}`);
  }
  const out: number[] = [];
  const first = arcs[0]! * 40n + arcs[1]!;
  for (const arc of [first, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let a = arc >> 7n; a > 0n; a >>= 7n) group.unshift(Number(a & 0x7fn) | 0x80);
    out.push(...group);
  }
  return derTlv(DerTag.ObjectIdentifier, Buffer.from(out));
}

/** BIT STRING holding whole bytes (unused-bits octet 0). */
export function derBitString(bytes: Buffer): Buffer {
  return derTlv(DerTag.BitString, Buffer.concat([Buffer.from([0]), bytes]));
}

/** OCTET STRING. */
export function derOctetString(bytes: Buffer): Buffer {
  return derTlv(DerTag.OctetString, bytes);
}

/**
 * X.509 Time: UTCTime (YYMMDDHHMMSSZ) for years 1950–2049, GeneralizedTime (YYYYMMDDHHMMSSZ) otherwise
 * (RFC 5280 §4.1.2.5). Milliseconds are dropped.
 * @throws ERR_PAIRING_BAD_DER for an invalid Date or a year outside 0–9999
 */
export function derTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || y < 0 || y > 9999) throw new PairingError('ERR_PAIRING_BAD_DER', 'date not encodable as an X.509 time');
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return derTlv(DerTag.UtcTime, Buffer.from(`${p2(y % 100)}${rest}`, 'latin1'));
  return derTlv(DerTag.GeneralizedTime, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'latin1'));
}

/** Context-specific EXPLICIT tag [n] (constructed) around one encoded element. */
export function derExplicit(n: number, inner: Buffer): Buffer {
  return derTlv(0xa0 | n, inner);
}

// ---------------------------------------------------------------- reader

/** One decoded element: positions are absolute offsets into the buffer that was read. */
export interface DerNode {
  /** The tag byte (class, constructed bit and number). */
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

/**
 * Reads the element at `offset`; it must end at or before `limit`.
 * @throws ERR_PAIRING_BAD_DER on truncation, indefinite or non-minimal lengths, multi-byte tags, lengths over 2^32
 */
export function readDer(buf: Buffer, offset = 0, limit = buf.length): DerNode {
  const bad = (why: string): PairingError => new PairingError('ERR_PAIRING_BAD_DER', `DER: ${why} (at byte ${offset})`);
  if (limit > buf.length || offset < 0 || offset + 2 > limit) throw bad('truncated element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw bad('multi-byte tags are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const nBytes = first & 0x7f;
    if (nBytes === 0) throw bad('indefinite length');
    if (nBytes > 4) throw bad('length field too long');
    if (pos + nBytes > limit) throw bad('truncated length');
    len = 0;
    for (let i = 0; i < nBytes; i++) len = len * 256 + buf[pos++]!;
    if (len < 0x80 || buf[offset + 2] === 0) throw bad('non-minimal length');
  }
  if (len > limit - pos) throw bad(`content of ${len} bytes runs past the end`);
  return { tag, start: offset, contentStart: pos, end: pos + len };
}

/** The content bytes of a node (a view, not a copy). */
export function derContent(buf: Buffer, node: DerNode): Buffer {
  return buf.subarray(node.contentStart, node.end);
}

/** The whole encoded element (tag, length, content) of a node, as a view. */
export function derRaw(buf: Buffer, node: DerNode): Buffer {
  return buf.subarray(node.start, node.end);
}

/**
 * The children of a constructed node, in order.
 * @throws ERR_PAIRING_BAD_DER when the node is primitive or a child is malformed
 */
export function derChildren(buf: Buffer, node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new PairingError('ERR_PAIRING_BAD_DER', `DER: tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let pos = node.contentStart; pos < node.end; ) {
    const child = readDer(buf, pos, node.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/**
 * Reads a whole buffer as exactly one element (no trailing bytes) and checks its tag.
 * @throws ERR_PAIRING_BAD_DER
 */
export function readDerExact(buf: Buffer, expectTag?: number): DerNode {
  const node = readDer(buf, 0, buf.length);
  if (node.end !== buf.length) throw new PairingError('ERR_PAIRING_BAD_DER', `DER: ${buf.length - node.end} trailing bytes`);
  if (expectTag !== undefined) expectDerTag(node, expectTag);
  return node;
}

/** @throws ERR_PAIRING_BAD_DER when the node's tag differs */
export function expectDerTag(node: DerNode, tag: number): void {
  if (node.tag !== tag) {
    throw new PairingError('ERR_PAIRING_BAD_DER', `DER: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)} at byte ${node.start}`);
  }
}

/** Decodes OBJECT IDENTIFIER content to dotted form. @throws ERR_PAIRING_BAD_DER */
export function decodeOid(content: Buffer): string {
  if (content.length === 0 || (content[content.length - 1]! & 0x80) !== 0) throw new PairingError('ERR_PAIRING_BAD_DER', 'DER: bad OID');
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of content) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join('.');
}

/** Decodes INTEGER content (two's complement). @throws ERR_PAIRING_BAD_DER when empty */
export function decodeInteger(content: Buffer): bigint {
  if (content.length === 0) throw new PairingError('ERR_PAIRING_BAD_DER', 'DER: empty INTEGER');
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  if (content[0]! & 0x80) v -= 1n << BigInt(content.length * 8);
  return v;
}

/** Decodes UTCTime / GeneralizedTime content ("Z" form only, as DER requires). @throws ERR_PAIRING_BAD_DER */
export function decodeTime(tag: number, content: Buffer): Date {
  const s = content.toString('latin1');
  const m = tag === DerTag.UtcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : tag === DerTag.GeneralizedTime ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) throw new PairingError('ERR_PAIRING_BAD_DER', `DER: bad time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (tag === DerTag.UtcTime) year += year < 50 ? 2000 : 1900;
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(d.getTime())) throw new PairingError('ERR_PAIRING_BAD_DER', `DER: bad time ${JSON.stringify(s)}`);
  return d;
}
