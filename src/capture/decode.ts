/**
 * Decodes a capture of usbmuxd traffic: pcapng → TCP streams → usbmux messages, the switch to device traffic after
 * Connect, lockdown (plaintext, the TLS boundary, decrypted frames with a key log) and AFC. Pure over a Buffer;
 * robust to truncated captures (what is complete is decoded, the rest becomes notes).
 */
import { decodeReply, parsePlistBody } from '../usbmux/codec.ts';
import { UsbmuxFrameDecoder } from '../usbmux/frame.ts';
import { decodePortNumber } from '../usbmux/port.ts';
import { MessageType, decodeHeader } from '../usbmux/protocol.ts';
import { decodeRequest } from '../usbmux/server-codec.ts';
import { AFC_MAGIC } from '../afc/protocol.ts';
import { decodeAfc } from './decode-afc.ts';
import { decodeLockdown } from './decode-lockdown.ts';
import type { CaptureEvent, Dir, NoteEvent, StreamSummary, UsbmuxEvent } from './events.ts';
import { parseKeyLog, type KeyLog } from './keylog.ts';
import { SECRETS_TLS_KEYLOG, readPcapng } from './pcapng.ts';
import { chunkAt, reassemble, type TcpStream } from './tcp.ts';
import { looksLikeTlsRecord } from './tls-records.ts';
import { LOCKDOWN_PORT } from '../lockdown/protocol.ts';

const MESSAGE_NAMES: Record<number, string> = { 1: 'Result', 2: 'Connect', 3: 'Listen', 4: 'Attached', 5: 'Detached', 6: 'Paired', 8: 'Plist' };

/** True when `buf` starts with a plausible usbmuxd header (length 16..16 MiB, version 0/1, known message type). */
export function looksLikeUsbmux(buf: Buffer): boolean {
  if (buf.length < 16) return false;
  const h = decodeHeader(buf);
  return h.length >= 16 && h.length <= 16 * 1024 * 1024 && (h.version === 0 || h.version === 1) && MESSAGE_NAMES[h.message] !== undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** Decodes the usbmux requests of a client direction; stops after Connect/Listen (`tail` = first device byte). */
function clientMessages(s: TcpStream, out: CaptureEvent[]): { tail?: number; connect?: UsbmuxEvent; listen: boolean } {
  const fd = new UsbmuxFrameDecoder({ strictVersion: false });
  fd.push(s.c2s.data);
  let listen = false;
  try {
    for (;;) {
      const f = fd.next();
      if (!f) break;
      const req = decodeRequest(f);
      const ev: UsbmuxEvent = { layer: 'usbmux', stream: s.index, dir: 'c2s', offset: f.offset, length: f.header.length, version: f.header.version, message: f.header.message, tag: f.header.tag, raw: s.c2s.data.subarray(f.offset, f.offset + f.header.length) };
      if (req.kind === 'plist') {
        ev.messageType = req.messageType;
        ev.plist = req.plist;
        if (req.messageType === 'Connect') {
          const pn = num(req.plist.PortNumber);
          const dev = num(req.plist.DeviceID);
          if (pn !== undefined) ev.port = decodePortNumber(pn);
          if (dev !== undefined) ev.deviceId = dev;
        }
      } else if (req.kind === 'connect') {
        ev.messageType = 'Connect';
        ev.port = req.port;
        ev.deviceId = req.deviceId;
      } else if (req.kind === 'listen') ev.messageType = 'Listen';
      else ev.messageType = MESSAGE_NAMES[f.header.message] ?? `message ${f.header.message}`;
      out.push(ev);
      if (ev.messageType === 'Connect') return { tail: fd.offset, connect: ev, listen };
      if (ev.messageType === 'Listen') listen = true;
    }
    if (fd.midMessage) out.push(note(s, 'c2s', fd.offset, s.c2s.data.length - fd.offset, 'truncated', `usbmux message cut off (${fd.buffered} bytes)`));
  } catch (err) {
    out.push(note(s, 'c2s', fd.offset, s.c2s.data.length - fd.offset, 'error', `usbmux: ${(err as Error).message}`, (err as { code?: string }).code));
  }
  return { listen };
}

/** Decodes the daemon's replies/events; after the Result of a Connect (`Number 0`) the rest is device data. */
function daemonMessages(s: TcpStream, connect: UsbmuxEvent | undefined, out: CaptureEvent[]): { tail?: number; result?: number } {
  const fd = new UsbmuxFrameDecoder({ strictVersion: false });
  fd.push(s.s2c.data);
  try {
    for (;;) {
      const f = fd.next();
      if (!f) break;
      const ev: UsbmuxEvent = { layer: 'usbmux', stream: s.index, dir: 's2c', offset: f.offset, length: f.header.length, version: f.header.version, message: f.header.message, tag: f.header.tag, raw: s.s2c.data.subarray(f.offset, f.offset + f.header.length) };
      try {
        const r = decodeReply(f);
        if (r.plist) ev.plist = r.plist;
        if (r.kind === 'result') {
          ev.messageType = 'Result';
          ev.result = r.result;
        } else if (r.kind === 'attached') {
          ev.messageType = 'Attached';
          ev.deviceId = r.device.deviceId;
        } else if (r.kind === 'detached' || r.kind === 'paired') {
          ev.messageType = r.kind === 'detached' ? 'Detached' : 'Paired';
          ev.deviceId = r.deviceId;
        }
      } catch {
        // an unexpected MessageType: still show the plist
        if (f.header.message === MessageType.Plist) {
          ev.plist = parsePlistBody(f.payload, f.offset);
          if (typeof ev.plist.MessageType === 'string') ev.messageType = ev.plist.MessageType;
        } else ev.messageType = MESSAGE_NAMES[f.header.message] ?? `message ${f.header.message}`;
      }
      out.push(ev);
      if (connect && ev.messageType === 'Result') {
        if (ev.result === 0) return { tail: fd.offset, result: 0 };
        return { result: ev.result! };
      }
    }
    if (fd.midMessage) out.push(note(s, 's2c', fd.offset, s.s2c.data.length - fd.offset, 'truncated', `usbmux message cut off (${fd.buffered} bytes)`));
  } catch (err) {
    out.push(note(s, 's2c', fd.offset, s.s2c.data.length - fd.offset, 'error', `usbmux: ${(err as Error).message}`, (err as { code?: string }).code));
  }
  return {};
}

function note(s: TcpStream, dir: Dir, offset: number, length: number, kind: string, text: string, code?: string): NoteEvent {
  return { layer: 'note', kind, stream: s.index, dir, offset, length, note: text, ...(code ? { code } : {}) };
}

/** Guesses the protocol of device traffic from its port and first bytes. */
export function sniffProtocol(port: number | undefined, c2s: Buffer, s2c: Buffer, service?: string): string {
  if (port === LOCKDOWN_PORT) return 'lockdown';
  for (const b of [c2s, s2c]) {
    if (b.length >= 8 && b.subarray(0, 8).equals(AFC_MAGIC)) return 'afc';
  }
  if (service && /afc|crashreportcopymobile|house_arrest/.test(service)) return 'afc';
  for (const b of [c2s, s2c]) {
    if (b.length >= 9) {
      const n = b.readUInt32BE(0);
      const head = b.toString('latin1', 4, 12);
      if (n > 0 && n < 16 * 1024 * 1024 && (head.startsWith('<?xml') || head === 'bplist00')) return 'plist';
    }
    if (looksLikeTlsRecord(b, 0)) return 'tls';
  }
  return c2s.length || s2c.length ? 'data' : 'none';
}

/** Options of {@link decodeStream} / {@link decodeCapture}. */
export interface DecodeOptions {
  keylog?: KeyLog;
  /** Device port → service name, learned from StartService replies (filled as streams are decoded). */
  services?: Map<number, string>;
}

/** Decodes one reassembled TCP stream of usbmuxd traffic. Never throws for bad bytes (they become notes). */
export function decodeStream(s: TcpStream, opts: DecodeOptions = {}): StreamSummary {
  const events: CaptureEvent[] = [];
  const sum: StreamSummary = {
    stream: s.index, client: `${s.client.addr}:${s.client.port}`, server: `${s.server.addr}:${s.server.port}`,
    c2sBytes: s.c2s.data.length, s2cBytes: s.s2c.data.length, events,
  };
  const c = clientMessages(s, events);
  const first = events.find((e) => e.layer === 'usbmux' && e.dir === 'c2s') as UsbmuxEvent | undefined;
  if (first?.messageType) sum.request = first.messageType;
  const d = daemonMessages(s, c.connect, events);
  if (c.connect && c.tail !== undefined && d.tail !== undefined) {
    sum.port = c.connect.port;
    sum.c2sTail = c.tail;
    sum.s2cTail = d.tail;
    const service = sum.port !== undefined ? opts.services?.get(sum.port) : undefined;
    const proto = sniffProtocol(sum.port, s.c2s.data.subarray(c.tail), s.s2c.data.subarray(d.tail), service);
    sum.protocol = proto;
    events.push({ ...note(s, 'c2s', c.tail, 0, 'connect', `device connection to port ${sum.port}${service ? ` (${service})` : ''}: ${proto}`), port: sum.port, protocol: proto });
    if (proto === 'lockdown' || proto === 'plist' || proto === 'tls') {
      const r = decodeLockdown(s.index, s.c2s.data, c.tail, s.s2c.data, d.tail, opts.keylog);
      for (const e of r.events) events.push(e); // no spread: a stream may hold millions of events
      if (r.c2sTls !== undefined) sum.c2sTls = r.c2sTls;
      if (r.s2cTls !== undefined) sum.s2cTls = r.s2cTls;
      if (opts.services) {
        for (const e of r.events) {
          if (e.layer === 'lockdown' && e.dir === 's2c' && e.plist.Request === 'StartService') {
            const port = num(e.plist.Port);
            if (port !== undefined && typeof e.plist.Service === 'string') opts.services.set(port, e.plist.Service);
          }
        }
      }
    } else if (proto === 'afc') {
      for (const e of decodeAfc(s.index, s.c2s.data, c.tail, s.s2c.data, d.tail)) events.push(e);
    } else if (proto === 'data') {
      for (const [dir, buf, from] of [['c2s', s.c2s.data, c.tail], ['s2c', s.s2c.data, d.tail]] as const) {
        if (buf.length > from) events.push({ layer: 'data', stream: s.index, dir, offset: from, length: buf.length - from, preview: buf.subarray(from, from + 32).toString('hex') });
      }
    }
  }
  for (const [dir, dd] of [['c2s', s.c2s], ['s2c', s.s2c]] as const) {
    if (dd.gaps > 0) events.push(note(s, dir, dd.data.length, 0, 'gap', `${dd.gaps} bytes missing from the capture`));
  }
  for (const e of events) {
    const ch = chunkAt(e.dir === 'c2s' ? s.c2s : s.s2c, e.offset);
    if (ch) {
      e.frame = ch.frame;
      if (ch.timestampNs !== undefined) e.timestampNs = ch.timestampNs;
    }
  }
  events.sort((a, b) => (a.frame ?? Infinity) - (b.frame ?? Infinity) || (a.dir === b.dir ? a.offset - b.offset : 0));
  return sum;
}

/** Result of {@link decodeCapture}. */
export interface DecodedCapture {
  streams: StreamSummary[];
  /** TCP streams skipped because they do not carry usbmux traffic. */
  skipped: number;
  truncated: boolean;
  /** Number of TLS connections with key-log secrets available (DSB + extra key logs). */
  keylogEntries: number;
}

/** Options of {@link decodeCapture}. */
export interface DecodeCaptureOptions {
  /** Extra key log text (e.g. `--keylog FILE`), merged with the capture's Decryption Secrets Blocks. */
  keylog?: string | Buffer;
  /** Only streams with this port (default: every stream whose client starts with a usbmux header). */
  port?: number;
}

/**
 * Decodes a whole pcapng capture.
 * @throws CaptureError ERR_CAPTURE_FORMAT / ERR_CAPTURE_TOO_LARGE / ERR_CAPTURE_UNSUPPORTED (see readPcapng, reassemble).
 */
export function decodeCapture(file: Buffer, opts: DecodeCaptureOptions = {}): DecodedCapture {
  const pc = readPcapng(file);
  const keylog: KeyLog = new Map();
  for (const sec of pc.secrets) if (sec.type === SECRETS_TLS_KEYLOG) parseKeyLog(sec.data, keylog);
  if (opts.keylog) parseKeyLog(opts.keylog, keylog);
  const streams = reassemble(pc.packets, (i) => pc.interfaces[i]!.linkType, opts.port !== undefined ? { port: opts.port } : {});
  const services = new Map<number, string>();
  const out: StreamSummary[] = [];
  let skipped = 0;
  for (const s of streams) {
    if (opts.port === undefined && !looksLikeUsbmux(s.c2s.data)) {
      skipped++;
      continue;
    }
    out.push(decodeStream(s, { keylog, services }));
  }
  return { streams: out, skipped, truncated: pc.truncated, keylogEntries: keylog.size };
}
