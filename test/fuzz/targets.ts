/**
 * Fuzz targets: one per decoder family. Each `run` feeds one input to the decoder (incremental decoders get it at
 * random chunk boundaries and must agree with a whole-buffer decode) and checks invariants; the engine treats any
 * throw that is not an IDeviceError with a known code, and any {@link FuzzInvariantError}, as a finding.
 */
import { IDeviceError } from '../../src/core/errors.ts';
import { decodeBinaryPlist } from '../../src/plist/binary-decode.ts';
import { decodeXmlPlist } from '../../src/plist/xml-decode.ts';
import { encodeBinaryPlist, encodeXmlPlist, isPlistDict, parsePlist, type PlistDict, type PlistValue } from '../../src/plist/index.ts';
import { resolveLimits } from '../../src/plist/errors.ts';
import { UsbmuxReplyDecoder } from '../../src/usbmux/codec.ts';
import { UsbmuxRequestDecoder } from '../../src/usbmux/server-codec.ts';
import { UsbmuxFrameDecoder } from '../../src/usbmux/frame.ts';
import { LockdownFrameDecoder, decodeLockdownBody } from '../../src/lockdown/codec.ts';
import { AfcDecoder, bodyU64, parseKeyValues, parseNulList } from '../../src/afc/codec.ts';
import { toDeviceInfo, toFileInfo } from '../../src/afc/file-info.ts';
import { decodeAfc } from '../../src/capture/decode-afc.ts';
import { decodeControlPayload, decodeMuxHeader, decodeVersionPayload, MuxProtocol } from '../../src/usb/header.ts';
import { TransferReassembler, decodeMuxPacket } from '../../src/usb/packet.ts';
import { decodeTcpHeader } from '../../src/usb/tcp.ts';
import { readPcapng } from '../../src/capture/pcapng.ts';
import { decodeCapture } from '../../src/capture/decode.ts';
import { eventJson, eventLine, streamLine } from '../../src/capture/format.ts';
import { DerTag, decodeInteger, decodeOid, decodeTime, derChildren, readDer } from '../../src/pairing/der.ts';
import { inspectCertificate, loadCertificate } from '../../src/pairing/certificate-info.ts';
import { loadPrivateKey, loadPublicKey, pemLabel, pemToDer } from '../../src/pairing/pem.ts';
import { parsePairRecord } from '../../src/pairing/pair-record.ts';
import { probeCaptureDate } from '../../src/photos/exif.ts';
import { checkWallTime } from '../../src/photos/capture-date.ts';
import { chooseCaptureDate, targetDirParts, type DeviceFile } from '../../src/photos/layout.ts';
import { loadCorpus, type Corpus } from './corpus.ts';
import { chunks, type Rng } from './mutate.ts';

/** An invariant the decoder broke (a finding even though nothing "crashed"). */
export class FuzzInvariantError extends Error {
  override name = 'FuzzInvariantError';
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new FuzzInvariantError(what);
}

/** A fuzz target. */
export interface FuzzTarget {
  name: string;
  about: string;
  /** Largest mutated input (bytes). */
  maxLen: number;
  dict?: readonly string[];
  /** Seed inputs; `corpus()` builds the shared corpora on first use. */
  seeds(corpus: () => Corpus): Buffer[];
  /** Feeds one input; may return a promise. */
  run(input: Buffer, r: Rng): void | Promise<void>;
}

/** Stable text of a decoded value (Buffers, bigints, Dates, NaN, -0, null-prototype records). */
function stable(v: unknown): string {
  if (v === undefined) return 'u';
  if (v === null) return 'n';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `<${Buffer.from(v).toString('hex')}>`;
  if (v instanceof Date) return `D${v.getTime()}`;
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return String(v);
}

/** Pull decoder contract shared by the frame decoders. */
interface Pull<T> {
  push(b: Buffer): void;
  next(): T | undefined;
}

/** Feeds `parts` to a fresh decoder and pulls after each push: the items and the first typed error's code. */
function feed<T>(make: () => Pull<T>, parts: readonly Buffer[], norm: (x: T) => string): { items: string[]; code?: string } {
  const d = make();
  const items: string[] = [];
  try {
    for (const p of parts) {
      d.push(p);
      for (let x = d.next(); x !== undefined; x = d.next()) items.push(norm(x));
    }
    return { items };
  } catch (e) {
    if (!(e instanceof IDeviceError)) throw e;
    seen.push(e.code);
    return { items, code: e.code };
  }
}

/** Whole-buffer and chunked decodes must produce the same items and the same error. */
function differential<T>(make: () => Pull<T>, input: Buffer, r: Rng, norm: (x: T) => string): { items: string[]; code?: string } {
  const whole = feed(make, [input], norm);
  const split = feed(make, chunks(r, input), norm);
  check(whole.code === split.code, `whole decode ended with ${whole.code ?? 'no error'}, chunked with ${split.code ?? 'no error'}`);
  check(stable(whole.items) === stable(split.items), `whole and chunked decodes differ (${whole.items.length} vs ${split.items.length} items)`);
  return whole;
}

/**
 * `v` as the encoders' documented number rule makes it (src/plist/types.ts): an integral number beyond ±2^53 that
 * fits in 64 bits is written as <integer>, which decodes as the bigint of exactly that value (a decoded <real>
 * 7.7e18 comes back as 7715015761402099712n).
 */
function asEncoded(v: PlistValue): PlistValue {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) && v >= -(2 ** 63) && v < 2 ** 64 ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(asEncoded);
  if (isPlistDict(v)) {
    const out: PlistDict = Object.create(null) as PlistDict;
    for (const k of Object.keys(v)) out[k] = asEncoded(v[k]!);
    return out;
  }
  return v;
}

/** Re-encoding a decoded plist in the same format and decoding it again gives the same value. */
function roundTrip(v: PlistValue, format: 'xml' | 'binary'): void {
  let enc: Buffer;
  try {
    enc = format === 'xml' ? encodeXmlPlist(v) : encodeBinaryPlist(v);
  } catch (e) {
    if (e instanceof IDeviceError) return; // a value the encoder refuses, with a typed error: fine
    throw e;
  }
  const back = parsePlist(enc);
  check(stable(back) === stable(asEncoded(v)), `${format} plist does not survive encode → decode`);
}

function plistRun(input: Buffer, format: 'xml' | 'binary'): void {
  const limits = resolveLimits({ maxObjects: 100_000 });
  const v = format === 'xml' ? decodeXmlPlist(input, limits) : decodeBinaryPlist(input, limits);
  const auto = parsePlist(input, { maxObjects: 100_000 });
  check(stable(auto) === stable(v), 'parsePlist and the direct decoder disagree');
  roundTrip(v, format);
}

const XML_DICT = ['<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">', '<plist version="1.0">', '</plist>', '<dict>', '</dict>', '<key>', '</key>', '<string>', '</string>', '<integer>', '</integer>', '<real>', '</real>', '<data>', '</data>', '<date>', '</date>', '<true/>', '<false/>', '<array>', '</array>', '<dict/>', '<array/>', '<string/>', '&amp;', '&lt;', '&#x41;', '&#65;', '&#0;', '&#xD800;', '&#x110000;', '<!--', '-->', '<![CDATA[', ']]>', '<?', '?>', '-9223372036854775808', '18446744073709551615', '1e308', 'nan', '-inf', '2024-02-30T10:00:00Z', 'AAAA', '===='];
const PEM_DICT = ['-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', '-----BEGIN PRIVATE KEY-----', '-----END PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', '-----BEGIN RSA PUBLIC KEY-----', '-----END RSA PUBLIC KEY-----', '-----BEGIN PUBLIC KEY-----', '-----END PUBLIC KEY-----', '\n', '====', 'MII', '<data>', '</data>'];
const AFC_DICT = ['CFA6LPAA', 'st_size\0', 'st_blocks\0', 'st_nlink\0', 'st_ifmt\0S_IFREG\0', 'S_IFDIR\0', 'S_IFLNK\0', 'st_mtime\0', 'st_birthtime\0', 'LinkTarget\0', 'FSTotalBytes\0', 'FSFreeBytes\0', 'FSBlockSize\0', '99999999999999999999999\0', '-1\0', '\0\0'];

/** An AFC packet's body: the bytes after this_length (header payload + data when complete). */
function afcBodies(input: Buffer, r: Rng): void {
  const d = new AfcDecoder({ maxData: 1024 * 1024 });
  d.push(input);
  let data: Buffer[] = [];
  for (;;) {
    const e = d.next();
    if (!e) break;
    if (e.kind === 'header') data = [e.headerPayload];
    else if (e.kind === 'data') data.push(e.chunk);
    else {
      const body = Buffer.concat(data);
      try {
        if (r.chance(0.5)) toFileInfo(parseKeyValues(body));
        else toDeviceInfo(parseKeyValues(body));
      } catch (err) {
        if (!(err instanceof IDeviceError)) throw err;
        seen.push(err.code);
      }
      typed(() => parseNulList(body, 1000));
      typed(() => bodyU64(body, 0, 'fuzz'));
    }
  }
}

/** Walks every DER element (depth-limited) and decodes the primitives by tag. */
function walkDer(buf: Buffer, start: number, end: number, depth: number): void {
  for (let pos = start; pos < end; ) {
    const n = readDer(buf, pos, end);
    if (n.tag & 0x20) {
      if (depth < 24) walkDer(buf, n.contentStart, n.end, depth + 1);
      derChildren(buf, n);
    } else {
      const content = buf.subarray(n.contentStart, n.end);
      try {
        if (n.tag === DerTag.ObjectIdentifier) decodeOid(content);
        else if (n.tag === DerTag.Integer) decodeInteger(content);
        else if (n.tag === DerTag.UtcTime || n.tag === DerTag.GeneralizedTime) decodeTime(n.tag, content);
      } catch (e) {
        if (!(e instanceof IDeviceError)) throw e;
        seen.push(e.code);
      }
    }
    pos = n.end;
  }
}

/** Typed error codes seen by {@link typed} since the last {@link takeCodes} (the engine reads them per input). */
const seen: string[] = [];

/** Runs `fn`; a typed error is the decoder's answer (noted), anything else escapes as a finding. */
function typed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof IDeviceError)) throw e;
    seen.push(e.code);
  }
}

/** The codes {@link typed} swallowed for the current input (and forgets them). */
export function takeCodes(): string[] {
  return seen.splice(0);
}

const NOW = Date.UTC(2025, 0, 1);
const DAYS_IN = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function dateFile(ms: number): DeviceFile {
  return { remote: '/DCIM/100APPLE/IMG_0001.JPG', rel: ['100APPLE', 'IMG_0001.JPG'], relPath: '100APPLE/IMG_0001.JPG', size: 0, mtime: new Date(ms), mtimeNs: 0n, birthtime: new Date(ms) };
}

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'plist-xml',
    about: 'XML plist decoder (direct and through parsePlist), encode → decode round trip',
    maxLen: 64 * 1024,
    dict: XML_DICT,
    seeds: (c) => c().plistXml,
    run: (input) => typed(() => plistRun(input, 'xml')),
  },
  {
    name: 'plist-binary',
    about: 'binary plist (bplist00) decoder (direct and through parsePlist), encode → decode round trip',
    maxLen: 64 * 1024,
    seeds: (c) => c().plistBinary,
    run: (input) => typed(() => plistRun(input, 'binary')),
  },
  {
    name: 'usbmux-client',
    about: 'usbmux replies as the client reads them (frames → Result/Attached/Detached/Paired/plist), chunked = whole',
    maxLen: 64 * 1024,
    dict: XML_DICT,
    seeds: (c) => c().usbmuxS2C,
    run: (input, r) => void differential(() => new UsbmuxReplyDecoder(), input, r, stable),
  },
  {
    name: 'usbmux-server',
    about: 'usbmux requests as the daemon reads them (binary v0 and plist v1), chunked = whole; raw framing with drain()',
    maxLen: 64 * 1024,
    dict: XML_DICT,
    seeds: (c) => c().usbmuxC2S,
    run: (input, r) => {
      differential(() => new UsbmuxRequestDecoder(), input, r, stable);
      const f = new UsbmuxFrameDecoder({ strictVersion: false });
      typed(() => {
        for (const p of chunks(r, input)) f.push(p);
        for (let fr = f.next(); fr; fr = f.next());
      });
      const rest = f.drain();
      check(rest.reduce((n, b) => n + b.length, 0) === input.length - f.offset, 'drain() lost or invented bytes');
    },
  },
  {
    name: 'lockdown',
    about: 'lockdown frames (u32 BE length + XML or binary plist), chunked = whole, and the body decoder alone',
    maxLen: 64 * 1024,
    dict: XML_DICT,
    seeds: (c) => c().lockdown,
    run: (input, r) => {
      differential(() => new LockdownFrameDecoder({ maxFrame: 1024 * 1024 }), input, r, stable);
      if (input.length > 4) typed(() => decodeLockdownBody(input.subarray(4)));
    },
  },
  {
    name: 'afc',
    about: 'AFC packet decoder (header, header payload, data in pieces), chunked = whole; body parsers on each packet; capture AFC decode',
    maxLen: 64 * 1024,
    dict: AFC_DICT,
    seeds: (c) => c().afc,
    run: (input, r) => {
      const norm = (e: ReturnType<AfcDecoder['next']> & object): string => (e.kind === 'data' ? `d${e.packetNum}` : stable(e));
      // data events are views cut where chunks end: compare the packets (header, payload, data bytes) instead
      const collect = (parts: readonly Buffer[]): { items: string[]; code?: string } => {
        const d = new AfcDecoder({ maxData: 1024 * 1024 });
        const items: string[] = [];
        let data: Buffer[] = [];
        try {
          for (const p of parts) {
            d.push(p);
            for (let e = d.next(); e; e = d.next()) {
              if (e.kind === 'data') data.push(e.chunk);
              else if (e.kind === 'end') {
                items.push(`end:${Buffer.concat(data).toString('hex')}`);
                data = [];
              } else items.push(norm(e));
            }
          }
          return { items };
        } catch (e) {
          if (!(e instanceof IDeviceError)) throw e;
          seen.push(e.code);
          return { items, code: e.code };
        }
      };
      const whole = collect([input]);
      const split = collect(chunks(r, input));
      check(whole.code === split.code, `whole AFC decode ended with ${whole.code ?? 'no error'}, chunked with ${split.code ?? 'no error'}`);
      check(stable(whole.items) === stable(split.items), 'whole and chunked AFC decodes differ');
      afcBodies(input, r);
      const ev = decodeAfc(0, input, 0, input, 0);
      for (const e of ev) eventLine(e);
    },
  },
  {
    name: 'afc-body',
    about: 'AFC body parsers: NUL lists, key/value lists → GetFileInfo / GetDeviceInfo, u64 bodies',
    maxLen: 16 * 1024,
    dict: AFC_DICT,
    seeds: (c) => c().afcBodies,
    run: (input) => {
      typed(() => parseNulList(input, 4096));
      typed(() => toFileInfo(parseKeyValues(input)));
      typed(() => toDeviceInfo(parseKeyValues(input)));
      typed(() => bodyU64(input, 0, 'fuzz'));
    },
  },
  {
    name: 'usb-mux',
    about: 'our USB mux: v1/v2 headers, whole packets, TCP headers, VERSION/CONTROL payloads, transfer reassembly',
    maxLen: 70 * 1024,
    seeds: (c) => c().usbMux,
    run: (input, r) => {
      for (const v of [1, 2] as const) {
        typed(() => decodeMuxHeader(input, v));
        typed(() => {
          const p = decodeMuxPacket(input, v);
          if (p.header.protocol === MuxProtocol.Version) decodeVersionPayload(p.payload);
          if (p.header.protocol === MuxProtocol.Control) decodeControlPayload(p.payload);
        });
      }
      typed(() => decodeTcpHeader(input));
      typed(() => decodeVersionPayload(input));
      typed(() => decodeControlPayload(input));
      const ra = new TransferReassembler(r.chance(0.5) ? { transferSize: 1 + r.int(64) * 256 } : {});
      for (const part of chunks(r, input)) {
        try {
          const pkt = ra.push(part);
          if (pkt) typed(() => decodeMuxPacket(pkt, r.chance(0.5) ? 1 : 2));
        } catch (e) {
          if (!(e instanceof IDeviceError)) throw e;
          seen.push(e.code);
          check(ra.buffered === 0, 'reassembler not reset after an error');
          break; // the transport drops the device here
        }
      }
    },
  },
  {
    name: 'pcapng',
    about: 'pcapng reader (lenient and strict): SHB/IDB/EPB/SPB/NRB/DSB, both byte orders',
    maxLen: 256 * 1024,
    seeds: (c) => c().captures,
    run: (input) => {
      let lenient: ReturnType<typeof readPcapng> | undefined;
      try {
        lenient = readPcapng(input);
      } catch (e) {
        if (!(e instanceof IDeviceError)) throw e;
        seen.push(e.code);
        check(e.code !== 'ERR_CAPTURE_TRUNCATED', 'the lenient reader threw ERR_CAPTURE_TRUNCATED');
      }
      typed(() => {
        const strict = readPcapng(input, { strict: true });
        check(lenient !== undefined && lenient.packets.length === strict.packets.length && !lenient.truncated, 'strict read succeeded where the lenient one did not agree');
      });
    },
  },
  {
    name: 'capture',
    about: 'whole capture decode (pcapng → TCP → usbmux → lockdown/TLS decrypt/AFC) and its text/JSON output',
    maxLen: 256 * 1024,
    seeds: (c) => c().captures,
    run: (input) => {
      typed(() => {
        const d = decodeCapture(input);
        for (const s of d.streams) {
          streamLine(s);
          for (const e of s.events) {
            eventLine(e);
            JSON.stringify(eventJson(e));
          }
        }
      });
    },
  },
  {
    name: 'der',
    about: 'DER reader (every element, OIDs, INTEGERs, times) and the certificate profile parser; node X509 wrapper',
    maxLen: 16 * 1024,
    seeds: (c) => c().ders,
    run: (input, r) => {
      typed(() => walkDer(input, 0, input.length, 0));
      typed(() => inspectCertificate(input));
      if (r.chance(0.1)) typed(() => loadCertificate(input));
    },
  },
  {
    name: 'pem',
    about: 'PEM armour, RSA key loading (PKCS#1/#8/SPKI), certificates from PEM',
    maxLen: 16 * 1024,
    dict: PEM_DICT,
    seeds: (c) => c().pems,
    run: (input, r) => {
      typed(() => pemToDer(input));
      pemLabel(input);
      typed(() => inspectCertificate(input));
      if (r.chance(0.1)) {
        typed(() => loadPrivateKey(input));
        typed(() => loadPublicKey(input));
      }
    },
  },
  {
    name: 'pair-record',
    about: 'pair records (XML/binary plist → certificates, keys, HostID, SystemBUID, EscrowBag checks)',
    maxLen: 64 * 1024,
    dict: [...XML_DICT, ...PEM_DICT, 'DeviceCertificate', 'HostCertificate', 'RootCertificate', 'HostPrivateKey', 'RootPrivateKey', 'HostID', 'SystemBUID', 'EscrowBag', 'WiFiMACAddress'],
    seeds: (c) => c().pairRecords,
    run: (input) => typed(() => parsePairRecord(input)),
  },
  {
    name: 'dates',
    about: 'EXIF (JPEG/PNG/HEIC) and QuickTime (mvhd, creationdate) capture dates; the chosen --split-by-date folder is always a real date',
    maxLen: 64 * 1024,
    dict: ['Exif\0\0', 'II*\0', 'MM\0*', 'ftyp', 'heic', 'qt  ', 'moov', 'mvhd', 'meta', 'keys', 'ilst', 'data', 'mdta', 'iinf', 'iloc', 'infe', 'idat', 'eXIf', 'IDAT', 'com.apple.quicktime.creationdate', '2023:02:31 10:00:00', '0000:00:00 00:00:00', '9999:12:31 23:59:59', '2024-02-29T10:00:00+0200'],
    seeds: (c) => c().media,
    run: async (input, r) => {
      const read = async (off: number, len: number): Promise<Buffer> => input.subarray(off, Math.min(input.length, off + len));
      const p = await probeCaptureDate(read, input.length, NOW);
      if (p.date !== undefined) check('date' in checkWallTime(p.date, NOW), `probe returned an unusable date ${p.date}`);
      const ms = r.chance(0.5) ? NOW - r.int(1e12) : (r.float() - 0.5) * 1e17;
      const parts = targetDirParts('date', dateFile(ms), chooseCaptureDate(dateFile(ms), p, NOW).date, undefined, NOW);
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(parts[1] ?? '');
      check(!!m && parts[0] === m[1] && Number(m[2]) >= 1 && Number(m[2]) <= 12 && Number(m[3]) >= 1 && Number(m[3]) <= DAYS_IN[Number(m[2]) - 1]!, `bad date folder ${parts.join('/')}`);
    },
  },
];

/** The target called `name`, or undefined. */
export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}

export { loadCorpus };
