/**
 * TLS record layer parsing (RFC 5246 §6.2, RFC 8446 §5.1) and plaintext handshake summaries. Pure.
 *
 * ```
 * record:    u8 content type (20 ChangeCipherSpec, 21 Alert, 22 Handshake, 23 ApplicationData) | u16 version | u16 length | fragment
 * handshake: u8 msg type | u24 length | body
 * ClientHello/ServerHello: u16 version | 32 random | u8 session id len | id | (Client: u16 suites len, suites, u8 comp len, comps)
 *            (Server: u16 suite, u8 comp) | u16 extensions len | { u16 type | u16 len | data }   (43 = supported_versions)
 * ```
 */

/** A record's 5-byte header plus its fragment (a view). */
export interface TlsRecord {
  offset: number;
  type: number;
  version: number;
  fragment: Buffer;
}

/** Largest fragment allowed: 2^14 + 2048 (TLS 1.2 ciphertext limit; TLS 1.3 allows 2^14 + 256). */
export const MAX_TLS_FRAGMENT = 16384 + 2048;

export const ContentType = { ChangeCipherSpec: 20, Alert: 21, Handshake: 22, ApplicationData: 23 } as const;

const HANDSHAKE_NAMES: Record<number, string> = {
  0: 'HelloRequest', 1: 'ClientHello', 2: 'ServerHello', 4: 'NewSessionTicket', 5: 'EndOfEarlyData', 8: 'EncryptedExtensions',
  11: 'Certificate', 12: 'ServerKeyExchange', 13: 'CertificateRequest', 14: 'ServerHelloDone', 15: 'CertificateVerify',
  16: 'ClientKeyExchange', 20: 'Finished', 24: 'KeyUpdate',
};

/** Name of a handshake message type. */
export function handshakeName(t: number): string {
  return HANDSHAKE_NAMES[t] ?? `handshake(${t})`;
}

/** True when `buf[off..]` starts like a TLS record header (type 20–23, version 3.x). */
export function looksLikeTlsRecord(buf: Buffer, off: number): boolean {
  if (buf.length - off < 3) return false;
  const t = buf[off]!;
  return t >= 20 && t <= 23 && buf[off + 1] === 3 && buf[off + 2]! <= 4;
}

/**
 * Splits `buf[off..]` into records. Stops at a record that is cut off (`rest` is its offset) or not a record
 * (`bad` is set).
 */
export function splitRecords(buf: Buffer, off: number): { records: TlsRecord[]; rest: number; bad: boolean } {
  const records: TlsRecord[] = [];
  let o = off;
  while (buf.length - o >= 5) {
    if (!looksLikeTlsRecord(buf, o)) return { records, rest: o, bad: true };
    const len = buf.readUInt16BE(o + 3);
    if (len > MAX_TLS_FRAGMENT) return { records, rest: o, bad: true };
    if (buf.length - o - 5 < len) break;
    records.push({ offset: o, type: buf[o]!, version: buf.readUInt16BE(o + 1), fragment: buf.subarray(o + 5, o + 5 + len) });
    o += 5 + len;
  }
  return { records, rest: o, bad: false };
}

/** Handshake message types inside plaintext handshake bytes (stops at a cut-off message). */
export function handshakeTypes(b: Buffer): number[] {
  const out: number[] = [];
  let o = 0;
  while (b.length - o >= 4) {
    out.push(b[o]!);
    o += 4 + b.readUIntBE(o + 1, 3);
  }
  return out;
}

/** Fields of a ClientHello or ServerHello. */
export interface HelloInfo {
  type: 'ClientHello' | 'ServerHello';
  random: Buffer;
  /** Negotiated (ServerHello) or highest offered (ClientHello) version: 0x0303 TLS 1.2, 0x0304 TLS 1.3. */
  version: number;
  /** ServerHello: the chosen suite; ClientHello: the first offered. */
  cipherSuite: number;
  cipherSuites?: number[];
}

/** Parses the Client/ServerHello at the start of handshake bytes; undefined when it is something else or malformed. */
export function parseHello(b: Buffer): HelloInfo | undefined {
  try {
    const t = b[0];
    if ((t !== 1 && t !== 2) || b.length < 4) return undefined;
    const end = Math.min(b.length, 4 + b.readUIntBE(1, 3));
    let o = 4;
    let version = b.readUInt16BE(o);
    const random = Buffer.from(b.subarray(o + 2, o + 34));
    o += 34;
    o += 1 + b[o]!;
    let suites: number[] = [];
    let suite: number;
    if (t === 1) {
      const n = b.readUInt16BE(o);
      for (let i = 0; i < n; i += 2) suites.push(b.readUInt16BE(o + 2 + i));
      o += 2 + n;
      o += 1 + b[o]!;
      suite = suites[0] ?? 0;
    } else {
      suite = b.readUInt16BE(o);
      o += 3;
      suites = [suite];
    }
    if (o + 2 <= end) {
      const extEnd = Math.min(end, o + 2 + b.readUInt16BE(o));
      o += 2;
      while (o + 4 <= extEnd) {
        const et = b.readUInt16BE(o);
        const el = b.readUInt16BE(o + 2);
        const ed = b.subarray(o + 4, o + 4 + el);
        if (et === 43) {
          if (t === 2 && ed.length >= 2) version = ed.readUInt16BE(0);
          if (t === 1 && ed.length >= 3) {
            let best = version;
            for (let i = 1; i + 1 < ed.length && i <= ed[0]!; i += 2) {
              const v = ed.readUInt16BE(i);
              if ((v & 0x0f0f) === v && v > best && v <= 0x0304) best = v;
            }
            version = best;
          }
        }
        o += 4 + el;
      }
    }
    if (random.length !== 32) return undefined;
    return { type: t === 1 ? 'ClientHello' : 'ServerHello', random, version, cipherSuite: suite, ...(t === 1 ? { cipherSuites: suites } : {}) };
  } catch {
    return undefined; // RangeError from a malformed hello: not a hello we can use
  }
}

/** "TLS 1.2" etc. */
export function versionName(v: number): string {
  if (v === 0x0300) return 'SSL 3.0';
  if (v >= 0x0301 && v <= 0x0304) return `TLS 1.${v - 0x0301}`;
  return `0x${v.toString(16)}`;
}

const ALERTS: Record<number, string> = { 0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 40: 'handshake_failure', 42: 'bad_certificate', 48: 'unknown_ca', 50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version', 80: 'internal_error', 90: 'user_canceled', 116: 'certificate_required' };

/** Alert description name. */
export function alertName(d: number): string {
  return ALERTS[d] ?? `alert(${d})`;
}
