/**
 * Lockdown-framed connections in captures (lockdownd and other plist services): plaintext frames, the TLS boundary
 * after StartSession, TLS records, and — with key-log secrets — the lockdown frames inside TLS. Never throws:
 * problems become notes.
 */
import { decodeLockdownBody, lockdownBodyFormat } from '../lockdown/codec.ts';
import { LOCKDOWN_MAX_FRAME } from '../lockdown/protocol.ts';
import type { Dir, LockdownEvent, NoteEvent, TlsEvent } from './events.ts';
import type { KeyLog } from './keylog.ts';
import { createDecryptors, suiteName, type DirectionDecryptor } from './tls-decrypt.ts';
import { ContentType, alertName, handshakeName, handshakeTypes, looksLikeTlsRecord, parseHello, splitRecords, versionName, type HelloInfo } from './tls-records.ts';

type Ev = LockdownEvent | TlsEvent | NoteEvent;

/** Frames at `buf[off..]` until the end, a TLS record or an error. */
function plainFrames(buf: Buffer, off: number, dir: Dir, stream: number, out: Ev[]): { next: number; tls: boolean } {
  let o = off;
  while (o < buf.length) {
    if (looksLikeTlsRecord(buf, o)) return { next: o, tls: true };
    if (buf.length - o < 4) break;
    const n = buf.readUInt32BE(o);
    if (n === 0 || n > LOCKDOWN_MAX_FRAME) {
      out.push({ layer: 'note', kind: 'error', code: n === 0 ? 'ERR_PROTOCOL' : 'ERR_PROTOCOL_TOO_LARGE', stream, dir, offset: o, length: buf.length - o, note: `lockdown: bad frame length ${n}` });
      return { next: buf.length, tls: false };
    }
    if (buf.length - o - 4 < n) break;
    const body = buf.subarray(o + 4, o + 4 + n);
    try {
      const plist = decodeLockdownBody(body);
      out.push({ layer: 'lockdown', tls: false, format: lockdownBodyFormat(body)!, plist, stream, dir, offset: o, length: 4 + n, raw: body });
    } catch (err) {
      out.push({ layer: 'note', kind: 'error', code: (err as { code?: string }).code ?? 'ERR_PROTOCOL', stream, dir, offset: o, length: buf.length - o, note: `lockdown: ${(err as Error).message}` });
      return { next: buf.length, tls: false };
    }
    o += 4 + n;
  }
  if (o < buf.length) out.push({ layer: 'note', kind: 'truncated', stream, dir, offset: o, length: buf.length - o, note: `lockdown frame cut off (${buf.length - o} bytes)` });
  return { next: buf.length, tls: false };
}

function helloAt(buf: Buffer, off: number | undefined): HelloInfo | undefined {
  if (off === undefined) return undefined;
  const { records } = splitRecords(buf, off);
  const r = records[0];
  return r && r.type === ContentType.Handshake ? parseHello(r.fragment) : undefined;
}

/** Decodes one direction's TLS section; returns the offset after it and whether plaintext resumes (close_notify). */
function tlsSection(buf: Buffer, off: number, dir: Dir, stream: number, dec: DirectionDecryptor | undefined, out: Ev[], first: boolean, meta: { version?: number; suite?: string }): { next: number; plain: boolean } {
  const { records, rest, bad } = splitRecords(buf, off);
  let inner: Buffer[] = [];
  let innerLen = 0;
  let innerStart = -1;
  let ccs = false; // TLS 1.2: handshake records after ChangeCipherSpec are encrypted
  for (const [i, r] of records.entries()) {
    const ev: TlsEvent = { layer: 'tls', stream, dir, offset: r.offset, length: 5 + r.fragment.length, contentType: r.type, recordVersion: r.version, what: [] };
    if (first && i === 0) {
      ev.boundary = true;
      if (meta.version !== undefined) ev.version = meta.version;
      if (meta.suite) ev.cipherSuite = meta.suite;
    }
    const d = dec?.decrypt(r);
    let closeNotify = false;
    if (d === undefined) {
      if (r.type === ContentType.Handshake) ev.what = ccs ? ['encrypted handshake'] : handshakeTypes(r.fragment).map(handshakeName);
      else if (r.type === ContentType.ChangeCipherSpec) {
        ev.what = ['ChangeCipherSpec'];
        ccs = true;
      }
      else if (r.type === ContentType.Alert && r.fragment.length === 2 && !dec) ev.what = [alertName(r.fragment[1]!)];
      else if (r.type === ContentType.ApplicationData) ev.what = ['application data'];
      else ev.what = ['encrypted'];
      if (dec && r.type === ContentType.ApplicationData) ev.decrypted = false;
    } else if (d.type === -1) {
      ev.decrypted = false;
      ev.what = ['undecryptable'];
    } else {
      ev.decrypted = true;
      if (d.type === ContentType.Handshake) ev.what = handshakeTypes(d.data).map(handshakeName);
      else if (d.type === ContentType.Alert && d.data.length >= 2) {
        ev.what = [alertName(d.data[1]!)];
        closeNotify = d.data[1] === 0;
      } else if (d.type === ContentType.ApplicationData) {
        ev.what = [`application data ${d.data.length} bytes`];
        if (innerStart < 0 && d.data.length > 0) innerStart = r.offset;
        inner.push(d.data);
        innerLen += d.data.length;
      }
    }
    out.push(ev);
    // Lockdown frames inside TLS: emit each complete frame at the offset of the record that completed it.
    while (innerLen >= 4) {
      const all = inner.length === 1 ? inner[0]! : Buffer.concat(inner);
      inner = [all];
      const n = all.readUInt32BE(0);
      if (n === 0 || n > LOCKDOWN_MAX_FRAME) {
        out.push({ layer: 'note', kind: 'error', code: 'ERR_PROTOCOL', stream, dir, offset: r.offset, length: 0, note: `lockdown in TLS: bad frame length ${n}` });
        inner = [];
        innerLen = 0;
        break;
      }
      if (innerLen < 4 + n) break;
      const body = all.subarray(4, 4 + n);
      try {
        out.push({ layer: 'lockdown', tls: true, format: lockdownBodyFormat(body) ?? 'xml', plist: decodeLockdownBody(body), stream, dir, offset: innerStart, length: 4 + n, raw: Buffer.from(body) });
      } catch (err) {
        out.push({ layer: 'note', kind: 'error', code: (err as { code?: string }).code ?? 'ERR_PROTOCOL', stream, dir, offset: r.offset, length: 0, note: `lockdown in TLS: ${(err as Error).message}` });
      }
      inner = [all.subarray(4 + n)];
      innerLen -= 4 + n;
      innerStart = innerLen > 0 ? r.offset : -1;
    }
    if (closeNotify) return { next: r.offset + 5 + r.fragment.length, plain: true };
  }
  if (bad) out.push({ layer: 'note', kind: 'error', code: 'ERR_PROTOCOL', stream, dir, offset: rest, length: buf.length - rest, note: 'not a TLS record' });
  else if (rest < buf.length) out.push({ layer: 'note', kind: 'truncated', stream, dir, offset: rest, length: buf.length - rest, note: `TLS record cut off (${buf.length - rest} bytes)` });
  return { next: buf.length, plain: false };
}

/**
 * Decodes a lockdown-framed connection from `c2s[c2sFrom..]` / `s2c[s2cFrom..]`. With `keylog`, TLS sessions whose
 * client random has secrets are decrypted (TLS 1.2 AES-GCM, TLS 1.3).
 */
export function decodeLockdown(stream: number, c2s: Buffer, c2sFrom: number, s2c: Buffer, s2cFrom: number, keylog: KeyLog | undefined): { events: Ev[]; c2sTls?: number; s2cTls?: number } {
  const out: Ev[] = [];
  const res: { events: Ev[]; c2sTls?: number; s2cTls?: number } = { events: out };
  let co = c2sFrom;
  let so = s2cFrom;
  for (let round = 0; round < 8 && (co < c2s.length || so < s2c.length); round++) {
    const a = plainFrames(c2s, co, 'c2s', stream, out);
    const b = plainFrames(s2c, so, 's2c', stream, out);
    if (!a.tls && !b.tls) break;
    const ct = a.tls ? a.next : undefined;
    const st = b.tls ? b.next : undefined;
    if (round === 0) {
      if (ct !== undefined) res.c2sTls = ct;
      if (st !== undefined) res.s2cTls = st;
    }
    const ch = helloAt(c2s, ct);
    const sh = helloAt(s2c, st);
    let dc: DirectionDecryptor | undefined;
    let ds: DirectionDecryptor | undefined;
    const meta: { version?: number; suite?: string } = {};
    if (sh) {
      meta.version = sh.version;
      meta.suite = suiteName(sh.cipherSuite);
    }
    const secrets = ch ? keylog?.get(ch.random.toString('hex')) : undefined;
    const r = createDecryptors(ch, sh, secrets);
    const at = ct ?? st!;
    const dirAt: Dir = ct !== undefined ? 'c2s' : 's2c';
    if ('reason' in r) {
      const why = !keylog || keylog.size === 0 ? 'no key log' : r.reason === 'no-secrets-for-client-random' ? 'no secrets for this client random' : r.reason;
      out.push({ layer: 'note', kind: 'tls-keys', stream, dir: dirAt, offset: at, length: 0, note: `TLS${sh ? ` ${versionName(sh.version)} ${meta.suite}` : ''}: not decrypted (${why})` });
    } else {
      dc = r.c2s;
      ds = r.s2c;
      out.push({ layer: 'note', kind: 'tls-keys', stream, dir: dirAt, offset: at, length: 0, note: `TLS ${versionName(r.version)} ${r.suite}: decrypting with key-log secrets` });
    }
    const ta = ct !== undefined ? tlsSection(c2s, ct, 'c2s', stream, dc, out, true, meta) : { next: a.next, plain: false };
    const tb = st !== undefined ? tlsSection(s2c, st, 's2c', stream, ds, out, true, meta) : { next: b.next, plain: false };
    if (!ta.plain && !tb.plain) break;
    co = ta.plain ? ta.next : c2s.length;
    so = tb.plain ? tb.next : s2c.length;
  }
  return res;
}
