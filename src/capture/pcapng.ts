/**
 * pcapng reader and writer (pure, no I/O). https://www.ietf.org/archive/id/draft-tuexen-opsawg-pcapng-05.html
 *
 * ```
 * Every block:   u32 type | u32 total_length | body | u32 total_length   (total_length % 4 == 0, ≥ 12)
 * SHB 0x0A0D0D0A: u32 byte-order magic 0x1A2B3C4D | u16 major 1 | u16 minor 0 | i64 section length | options
 * IDB 0x00000001: u16 link type | u16 reserved | u32 snaplen | options (if_name 2, if_tsresol 9)
 * EPB 0x00000006: u32 interface | u32 ts high | u32 ts low | u32 captured len | u32 original len | data (pad 4) | options
 * SPB 0x00000003: u32 original len | data (captured = min(original, snaplen, body − 4))
 * NRB 0x00000004: records { u16 type (0 end, 1 IPv4, 2 IPv6) | u16 len | value (pad 4) }
 * DSB 0x0000000A: u32 secrets type (0x544C534B "TLSK" = NSS key log) | u32 secrets len | data (pad 4) | options
 * options:        { u16 code | u16 len | value (pad 4) }, code 0 = end
 * ```
 * The byte order is that of each section's SHB (both are read; the writer emits little-endian).
 */
import { CaptureError } from './errors.ts';

/** Link types (LINKTYPE_*). */
export const LinkType = {
  NULL: 0, // BSD loopback: u32 address family in host byte order (2 = IPv4, 24/28/30 = IPv6)
  ETHERNET: 1,
  RAW: 101, // raw IPv4/IPv6
  IPV4: 228,
  IPV6: 229,
} as const;

/** DSB secrets type for an NSS key log ("TLSK"). */
export const SECRETS_TLS_KEYLOG = 0x544c534b;

const SHB = 0x0a0d0d0a;
const IDB = 1;
const SPB = 3;
const NRB = 4;
const EPB = 6;
const DSB = 0x0a;
const BOM = 0x1a2b3c4d;

/** Largest block accepted by the reader (bytes). */
export const MAX_BLOCK = 64 * 1024 * 1024;

export interface PcapInterface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second (10^6 by default). */
  unitsPerSecond: bigint;
  name?: string;
}

export interface PcapPacket {
  interfaceId: number;
  /** Nanoseconds since the epoch (undefined for SPB packets, which carry no time). */
  timestampNs: bigint | undefined;
  data: Buffer;
  originalLength: number;
  /** Index of the packet in the file (0-based; Wireshark's frame number − 1). */
  index: number;
}

export interface PcapSecret {
  type: number;
  data: Buffer;
}

export interface PcapngFile {
  interfaces: PcapInterface[];
  packets: PcapPacket[];
  secrets: PcapSecret[];
  /** Name resolution records: address (text) → names. */
  names: Map<string, string[]>;
  /** True when the file ended inside a block (the complete blocks before it were read). */
  truncated: boolean;
}

export interface ReadOptions {
  /** Throw ERR_CAPTURE_TRUNCATED instead of returning `truncated: true`. */
  strict?: boolean;
}

interface Reader {
  u16(o: number): number;
  u32(o: number): number;
}

function reader(buf: Buffer, le: boolean): Reader {
  return le
    ? { u16: (o) => buf.readUInt16LE(o), u32: (o) => buf.readUInt32LE(o) }
    : { u16: (o) => buf.readUInt16BE(o), u32: (o) => buf.readUInt32BE(o) };
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Walks options in [start, end): calls fn(code, value). Malformed option lists end the walk (options are advisory). */
function walkOptions(buf: Buffer, r: Reader, start: number, end: number, fn: (code: number, value: Buffer) => void): void {
  let o = start;
  while (o + 4 <= end) {
    const code = r.u16(o);
    const len = r.u16(o + 2);
    if (code === 0) return;
    if (o + 4 + len > end) return;
    fn(code, buf.subarray(o + 4, o + 4 + len));
    o += 4 + pad4(len);
  }
}

function tsResol(v: Buffer): bigint {
  const b = v[0] ?? 6;
  const exp = BigInt(b & 0x7f);
  return b & 0x80 ? 2n ** exp : 10n ** exp;
}

function ipText(family: 1 | 2, v: Buffer): string {
  if (family === 1) return [...v.subarray(0, 4)].join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(v.readUInt16BE(i).toString(16));
  return parts.join(':');
}

/**
 * Reads a whole pcapng file.
 * @throws CaptureError ERR_CAPTURE_FORMAT (no SHB first, bad byte-order magic, bad block length, EPB for an unknown
 *   interface, captured length beyond the block), ERR_CAPTURE_TOO_LARGE (block over {@link MAX_BLOCK}),
 *   ERR_CAPTURE_TRUNCATED (strict mode only).
 */
export function readPcapng(buf: Buffer, opts: ReadOptions = {}): PcapngFile {
  const out: PcapngFile = { interfaces: [], packets: [], secrets: [], names: new Map(), truncated: false };
  if (buf.length < 12 || buf.readUInt32LE(0) !== SHB) throw new CaptureError('ERR_CAPTURE_FORMAT', 'not a pcapng file (no Section Header Block)', 0);
  let off = 0;
  let r: Reader = reader(buf, true);
  let sectionIfaces: number[] = []; // section-local interface id → global index
  const truncated = (why: string): PcapngFile => {
    if (opts.strict) throw new CaptureError('ERR_CAPTURE_TRUNCATED', why, off);
    out.truncated = true;
    return out;
  };
  while (off < buf.length) {
    if (buf.length - off < 12) return truncated('file ends inside a block header');
    const type = buf.readUInt32LE(off); // SHB type is a palindrome; other types are read after the SHB fixed the order
    if (type === SHB) {
      if (buf.length - off < 28) return truncated('file ends inside a Section Header Block');
      const bom = buf.readUInt32LE(off + 8);
      if (bom === BOM) r = reader(buf, true);
      else if (bom === 0x4d3c2b1a) r = reader(buf, false);
      else throw new CaptureError('ERR_CAPTURE_FORMAT', 'bad byte-order magic in the Section Header Block', off + 8);
      sectionIfaces = [];
    }
    const btype = r.u32(off);
    const len = r.u32(off + 4);
    if (len < 12 || len % 4 !== 0) throw new CaptureError('ERR_CAPTURE_FORMAT', `bad block length ${len}`, off + 4);
    if (len > MAX_BLOCK) throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `block of ${len} bytes exceeds ${MAX_BLOCK}`, off + 4);
    if (len > buf.length - off) return truncated(`block of ${len} bytes cut off at ${buf.length - off}`);
    if (r.u32(off + len - 4) !== len) throw new CaptureError('ERR_CAPTURE_FORMAT', 'trailing block length differs from the leading one', off + len - 4);
    const body = off + 8;
    const end = off + len - 4;
    switch (btype) {
      case SHB:
        break;
      case IDB: {
        if (end - body < 8) throw new CaptureError('ERR_CAPTURE_FORMAT', 'short Interface Description Block', off);
        const iface: PcapInterface = { linkType: r.u16(body), snapLen: r.u32(body + 4), unitsPerSecond: 1_000_000n };
        walkOptions(buf, r, body + 8, end, (code, v) => {
          if (code === 9 && v.length >= 1) iface.unitsPerSecond = tsResol(v);
          if (code === 2) iface.name = v.toString('utf8').replace(/\0+$/, '');
        });
        sectionIfaces.push(out.interfaces.length);
        out.interfaces.push(iface);
        break;
      }
      case EPB: {
        if (end - body < 20) throw new CaptureError('ERR_CAPTURE_FORMAT', 'short Enhanced Packet Block', off);
        const ifLocal = r.u32(body);
        const ifIndex = sectionIfaces[ifLocal];
        if (ifIndex === undefined) throw new CaptureError('ERR_CAPTURE_FORMAT', `packet for unknown interface ${ifLocal}`, body);
        const iface = out.interfaces[ifIndex]!;
        const ts = (BigInt(r.u32(body + 4)) << 32n) | BigInt(r.u32(body + 8));
        const capLen = r.u32(body + 12);
        const origLen = r.u32(body + 16);
        if (capLen > end - (body + 20)) throw new CaptureError('ERR_CAPTURE_FORMAT', `captured length ${capLen} exceeds the block`, body + 12);
        out.packets.push({
          interfaceId: ifIndex,
          timestampNs: (ts * 1_000_000_000n) / iface.unitsPerSecond,
          data: buf.subarray(body + 20, body + 20 + capLen),
          originalLength: origLen,
          index: out.packets.length,
        });
        break;
      }
      case SPB: {
        const ifIndex = sectionIfaces[0];
        if (ifIndex === undefined) throw new CaptureError('ERR_CAPTURE_FORMAT', 'Simple Packet Block without an interface', off);
        if (end - body < 4) throw new CaptureError('ERR_CAPTURE_FORMAT', 'short Simple Packet Block', off);
        const origLen = r.u32(body);
        const snap = out.interfaces[ifIndex]!.snapLen || Number.MAX_SAFE_INTEGER;
        const capLen = Math.min(origLen, snap, end - body - 4);
        out.packets.push({ interfaceId: ifIndex, timestampNs: undefined, data: buf.subarray(body + 4, body + 4 + capLen), originalLength: origLen, index: out.packets.length });
        break;
      }
      case DSB: {
        if (end - body < 8) throw new CaptureError('ERR_CAPTURE_FORMAT', 'short Decryption Secrets Block', off);
        const stype = r.u32(body);
        const slen = r.u32(body + 4);
        if (slen > end - body - 8) throw new CaptureError('ERR_CAPTURE_FORMAT', `secrets length ${slen} exceeds the block`, body + 4);
        out.secrets.push({ type: stype, data: buf.subarray(body + 8, body + 8 + slen) });
        break;
      }
      case NRB: {
        let o = body;
        while (o + 4 <= end) {
          const rt = r.u16(o);
          const rl = r.u16(o + 2);
          if (rt === 0 || o + 4 + rl > end) break;
          const v = buf.subarray(o + 4, o + 4 + rl);
          const alen = rt === 1 ? 4 : rt === 2 ? 16 : 0;
          if (alen && v.length > alen) {
            const names = v.subarray(alen).toString('utf8').split('\0').filter(Boolean);
            out.names.set(ipText(rt as 1 | 2, v), names);
          }
          o += 4 + pad4(rl);
        }
        break;
      }
      default:
        break; // unknown or obsolete blocks are skipped
    }
    off += len;
  }
  return out;
}

/** Timestamp resolution of a written interface. */
export type TimeResolution = 'us' | 'ns';

/** Options of {@link PcapngWriter}. */
export interface WriterOptions {
  linkType?: number;
  resolution?: TimeResolution;
  /** if_name option. */
  interfaceName?: string;
  /** shb_userappl option. */
  application?: string;
}

function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function block(type: number, parts: Buffer[]): Buffer {
  let n = 12;
  for (const p of parts) n += p.length;
  const b = Buffer.alloc(n);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(n, 4);
  let o = 8;
  for (const p of parts) {
    p.copy(b, o);
    o += p.length;
  }
  b.writeUInt32LE(n, n - 4);
  return b;
}

function padded(data: Buffer): Buffer {
  const n = pad4(data.length);
  if (n === data.length) return data;
  const b = Buffer.alloc(n);
  data.copy(b);
  return b;
}

const END_OPT = Buffer.alloc(4);

/**
 * Encodes pcapng blocks (little-endian, one section, one interface). Blocks are returned as buffers so the
 * caller decides where they go (a file stream, memory).
 */
export class PcapngWriter {
  readonly #units: bigint;
  readonly #opts: WriterOptions;
  constructor(opts: WriterOptions = {}) {
    this.#opts = opts;
    this.#units = opts.resolution === 'ns' ? 1_000_000_000n : 1_000_000n;
  }

  /** SHB + IDB: the first bytes of the file. */
  header(): Buffer {
    const shbBody = Buffer.alloc(16);
    shbBody.writeUInt32LE(BOM, 0);
    shbBody.writeUInt16LE(1, 4);
    shbBody.writeUInt16LE(0, 6);
    shbBody.writeBigInt64LE(-1n, 8);
    const shbOpts = this.#opts.application ? [option(4, Buffer.from(this.#opts.application, 'utf8')), END_OPT] : [];
    const idbBody = Buffer.alloc(8);
    idbBody.writeUInt16LE(this.#opts.linkType ?? LinkType.RAW, 0);
    idbBody.writeUInt32LE(0, 4);
    const idbOpts: Buffer[] = [];
    if (this.#opts.interfaceName) idbOpts.push(option(2, Buffer.from(this.#opts.interfaceName, 'utf8')));
    if (this.#opts.resolution === 'ns') idbOpts.push(option(9, Buffer.from([9])));
    if (idbOpts.length) idbOpts.push(END_OPT);
    return Buffer.concat([block(SHB, [shbBody, ...shbOpts]), block(IDB, [idbBody, ...idbOpts])]);
  }

  /** An EPB for `data` captured at `timestampNs` (nanoseconds since the epoch). */
  packet(timestampNs: bigint, data: Buffer): Buffer {
    const fixed = Buffer.alloc(20);
    const ts = (timestampNs * this.#units) / 1_000_000_000n;
    fixed.writeUInt32LE(0, 0);
    fixed.writeUInt32LE(Number(ts >> 32n), 4);
    fixed.writeUInt32LE(Number(ts & 0xffffffffn), 8);
    fixed.writeUInt32LE(data.length, 12);
    fixed.writeUInt32LE(data.length, 16);
    return block(EPB, [fixed, padded(data)]);
  }

  /** A DSB carrying NSS key log lines (TLS secrets). */
  keylog(lines: string | Buffer): Buffer {
    const data = Buffer.isBuffer(lines) ? lines : Buffer.from(lines, 'utf8');
    const fixed = Buffer.alloc(8);
    fixed.writeUInt32LE(SECRETS_TLS_KEYLOG, 0);
    fixed.writeUInt32LE(data.length, 4);
    return block(DSB, [fixed, padded(data)]);
  }
}
