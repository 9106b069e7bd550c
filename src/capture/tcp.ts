/**
 * Link layer → IPv4/IPv6 → TCP parsing, and per-connection reassembly in both directions (pure, no I/O).
 *
 * Streams are numbered like Wireshark's `tcp.stream`: in order of the first packet of each connection, over all TCP
 * traffic; a SYN with a new initial sequence number on a known address/port pair starts a new stream.
 * Reassembly orders segments by sequence number (relative to the SYN, or to the first segment seen), drops
 * retransmitted bytes, and keeps out-of-order segments until the gap closes (a gap that never closes is skipped at the
 * end: `gaps` counts the missing bytes). Each segment costs O(log n) in the number of waiting segments; the backlog is
 * capped ({@link MAX_PENDING} bytes, {@link MAX_PENDING_SEGMENTS} segments per direction).
 */
import { CaptureError } from './errors.ts';
import { LinkType, type PcapPacket } from './pcapng.ts';

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** A parsed TCP segment. */
export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
}

/** Largest out-of-order backlog kept per direction (bytes); above it reassembly fails with ERR_CAPTURE_TOO_LARGE. */
export const MAX_PENDING = 16 * 1024 * 1024;

/**
 * Most out-of-order segments (distinct offsets) waiting for missing data per direction; above it reassembly fails
 * with ERR_CAPTURE_TOO_LARGE. Bounds memory for captures of tiny segments with holes that never fill.
 */
export const MAX_PENDING_SEGMENTS = 65536;

function ipv4Text(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6Text(b: Buffer, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(o + i).toString(16));
  return `[${parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]`;
}

/** Offset of the IP header inside a frame of `linkType`, or undefined for a non-IP frame. */
function ipOffset(linkType: number, d: Buffer): number | undefined {
  switch (linkType) {
    case LinkType.NULL:
      if (d.length < 4) return undefined;
      return 4; // family is host-order; the IP version nibble tells IPv4 from IPv6 anyway
    case LinkType.ETHERNET: {
      if (d.length < 14) return undefined;
      let o = 12;
      let et = d.readUInt16BE(o);
      while ((et === 0x8100 || et === 0x88a8) && d.length >= o + 6) {
        o += 4;
        et = d.readUInt16BE(o);
      }
      return et === 0x0800 || et === 0x86dd ? o + 2 : undefined;
    }
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return 0;
    default:
      throw new CaptureError('ERR_CAPTURE_UNSUPPORTED', `link type ${linkType} is not supported (NULL, Ethernet, raw IP are)`);
  }
}

/**
 * Parses the TCP segment of one frame; undefined for non-TCP, fragments and frames too short for their headers
 * (a truncated payload is cut to what was captured).
 * @throws CaptureError ERR_CAPTURE_UNSUPPORTED for an unknown link type.
 */
export function parseTcpFrame(linkType: number, d: Buffer): TcpSegment | undefined {
  const ip = ipOffset(linkType, d);
  if (ip === undefined || d.length < ip + 20) return undefined;
  const ver = d[ip]! >> 4;
  let tcp: number;
  let end: number;
  let src: string;
  let dst: string;
  if (ver === 4) {
    const ihl = (d[ip]! & 0x0f) * 4;
    if (ihl < 20 || d[ip + 9] !== 6) return undefined;
    const frag = d.readUInt16BE(ip + 6);
    if (frag & 0x3fff) return undefined; // fragments are not reassembled
    const total = d.readUInt16BE(ip + 2);
    end = Math.min(d.length, ip + (total || d.length - ip));
    tcp = ip + ihl;
    src = ipv4Text(d, ip + 12);
    dst = ipv4Text(d, ip + 16);
  } else if (ver === 6) {
    if (d.length < ip + 40) return undefined;
    let next = d[ip + 6]!;
    const plen = d.readUInt16BE(ip + 4);
    end = Math.min(d.length, ip + 40 + plen);
    tcp = ip + 40;
    // hop-by-hop, routing, destination options
    while ((next === 0 || next === 43 || next === 60) && tcp + 8 <= end) {
      next = d[tcp]!;
      tcp += (d[tcp + 1]! + 1) * 8;
    }
    if (next !== 6) return undefined;
    src = ipv6Text(d, ip + 8);
    dst = ipv6Text(d, ip + 24);
  } else return undefined;
  if (tcp + 20 > end) return undefined;
  const doff = (d[tcp + 12]! >> 4) * 4;
  if (doff < 20 || tcp + doff > end) return undefined;
  return {
    src,
    dst,
    srcPort: d.readUInt16BE(tcp),
    dstPort: d.readUInt16BE(tcp + 2),
    seq: d.readUInt32BE(tcp + 4),
    ack: d.readUInt32BE(tcp + 8),
    flags: d[tcp + 13]!,
    payload: d.subarray(tcp + doff, end),
  };
}

/** Where a piece of a direction's byte stream came from. */
export interface StreamChunk {
  /** Offset in the direction's received bytes (`Direction.data`; gaps take no room). */
  offset: number;
  length: number;
  /** Frame number (1-based, as Wireshark shows it). */
  frame: number;
  timestampNs: bigint | undefined;
}

/** One direction of a connection. */
export interface Direction {
  data: Buffer;
  chunks: StreamChunk[];
  /** Bytes that never arrived (a gap that was not filled before the end). */
  gaps: number;
  fin: boolean;
  rst: boolean;
}

/** A reassembled TCP connection. */
export interface TcpStream {
  /** Wireshark-style stream index. */
  index: number;
  client: { addr: string; port: number };
  server: { addr: string; port: number };
  /** First frame number (1-based). */
  firstFrame: number;
  synSeen: boolean;
  c2s: Direction;
  s2c: Direction;
}

/** A binary min-heap of numbers (pending sequence offsets): O(log n) push/pop, O(1) peek. */
class MinHeap {
  readonly #a: number[] = [];
  get size(): number {
    return this.#a.length;
  }
  peek(): number | undefined {
    return this.#a[0];
  }
  push(v: number): void {
    const a = this.#a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (a[up]! <= v) break;
      a[i] = a[up]!;
      i = up;
    }
    a[i] = v;
  }
  pop(): number | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

interface Pending {
  payload: Buffer;
  frame: number;
  ts: bigint | undefined;
}

/**
 * One direction being reassembled. Out-of-order segments wait in a map (longest copy per offset) with a min-heap of
 * their offsets, so each segment costs O(log n) however many gaps there are.
 */
class DirState {
  base: number | undefined; // sequence number of the first payload byte
  next = 0; // relative offset of the next expected byte
  #received = 0; // bytes kept so far (offset in `data`; differs from `next` by the gaps skipped)
  readonly parts: Buffer[] = [];
  readonly chunks: StreamChunk[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #order = new MinHeap(); // the keys of #pending
  #pendingBytes = 0;
  gaps = 0;
  fin = false;
  rst = false;

  constructor(readonly label: string) {}

  add(seq: number, payload: Buffer, frame: number, ts: bigint | undefined): void {
    if (this.base === undefined) this.base = seq;
    const rel = (seq - this.base) >>> 0;
    // Relative offsets beyond 2 GiB behind are old retransmissions after wrap-around: treat as duplicates.
    if (rel > 0x80000000) return;
    if (rel + payload.length <= this.next) return; // full duplicate
    if (rel > this.next) {
      const prev = this.#pending.get(rel);
      if (prev && prev.payload.length >= payload.length) return;
      if (!prev) {
        if (this.#pending.size >= MAX_PENDING_SEGMENTS) {
          throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `TCP ${this.label}: more than ${MAX_PENDING_SEGMENTS} out-of-order segments wait for missing data (frame ${frame})`);
        }
        this.#order.push(rel);
      }
      this.#pendingBytes += payload.length - (prev?.payload.length ?? 0);
      if (this.#pendingBytes > MAX_PENDING) {
        throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `TCP ${this.label}: out-of-order backlog above ${MAX_PENDING} bytes (frame ${frame})`);
      }
      this.#pending.set(rel, { payload, frame, ts });
      return;
    }
    this.#append(payload.subarray(this.next - rel), frame, ts);
    this.#drain();
  }

  #append(p: Buffer, frame: number, ts: bigint | undefined): void {
    if (p.length === 0) return;
    this.chunks.push({ offset: this.#received, length: p.length, frame, timestampNs: ts });
    this.parts.push(p);
    this.next += p.length;
    this.#received += p.length;
  }

  /** Appends every waiting segment that now starts at or before `next`, in offset order. */
  #drain(): void {
    for (let rel = this.#order.peek(); rel !== undefined && rel <= this.next; rel = this.#order.peek()) {
      this.#order.pop();
      const e = this.#pending.get(rel)!;
      this.#pending.delete(rel);
      this.#pendingBytes -= e.payload.length;
      if (rel + e.payload.length > this.next) this.#append(e.payload.subarray(this.next - rel), e.frame, e.ts);
    }
  }

  /** Closes a remaining gap by skipping to the next pending segment (the missing bytes are counted, not invented). */
  finish(): Direction {
    for (let first = this.#order.peek(); first !== undefined; first = this.#order.peek()) {
      // a gap is recorded as missing data, not invented: chunk offsets stay offsets in the received bytes
      this.gaps += first - this.next;
      this.next = first;
      this.#drain();
    }
    return { data: Buffer.concat(this.parts), chunks: this.chunks, gaps: this.gaps, fin: this.fin, rst: this.rst };
  }
}

interface Conn {
  index: number;
  clientKey: string;
  client: { addr: string; port: number };
  server: { addr: string; port: number };
  firstFrame: number;
  synSeen: boolean;
  clientIsn: number | undefined;
  c2s: DirState;
  s2c: DirState;
}

/** Options of {@link reassemble}. */
export interface ReassembleOptions {
  /** Keep only connections with this port on either side (the other traffic still counts for stream numbers). */
  port?: number;
}

/**
 * Reassembles every TCP connection of a capture.
 * @throws CaptureError ERR_CAPTURE_UNSUPPORTED (link type), ERR_CAPTURE_TOO_LARGE (out-of-order backlog above
 *   {@link MAX_PENDING} bytes or {@link MAX_PENDING_SEGMENTS} segments in one direction).
 */
export function reassemble(packets: readonly PcapPacket[], linkTypeOf: (interfaceId: number) => number, opts: ReassembleOptions = {}): TcpStream[] {
  const byTuple = new Map<string, Conn>();
  const all: Conn[] = [];
  for (const p of packets) {
    const seg = parseTcpFrame(linkTypeOf(p.interfaceId), p.data);
    if (!seg) continue;
    const a = `${seg.src}:${seg.srcPort}`;
    const b = `${seg.dst}:${seg.dstPort}`;
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    const isSyn = (seg.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    let c = byTuple.get(key);
    if (c && isSyn && c.clientIsn !== undefined && c.clientIsn !== seg.seq) c = undefined; // port reuse
    if (!c) {
      // The SYN sender is the client; without a SYN, the sender of the first segment.
      const synAck = (seg.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK);
      const fromClient = !synAck;
      c = {
        index: all.length,
        clientKey: fromClient ? a : b,
        client: fromClient ? { addr: seg.src, port: seg.srcPort } : { addr: seg.dst, port: seg.dstPort },
        server: fromClient ? { addr: seg.dst, port: seg.dstPort } : { addr: seg.src, port: seg.srcPort },
        firstFrame: p.index + 1,
        synSeen: false,
        clientIsn: undefined,
        c2s: new DirState(`stream ${all.length} client → server`),
        s2c: new DirState(`stream ${all.length} server → client`),
      };
      all.push(c);
      byTuple.set(key, c);
    }
    const dir = a === c.clientKey ? c.c2s : c.s2c;
    if (seg.flags & TcpFlag.SYN) {
      if (a === c.clientKey) {
        c.clientIsn = seg.seq;
        c.synSeen = true;
      }
      if (dir.base === undefined) dir.base = (seg.seq + 1) >>> 0;
    }
    if (seg.flags & TcpFlag.RST) dir.rst = true;
    if (seg.payload.length > 0) dir.add(seg.seq, seg.payload, p.index + 1, p.timestampNs);
    if (seg.flags & TcpFlag.FIN) dir.fin = true;
  }
  const out: TcpStream[] = [];
  for (const c of all) {
    if (opts.port !== undefined && c.client.port !== opts.port && c.server.port !== opts.port) continue;
    out.push({
      index: c.index,
      client: c.client,
      server: c.server,
      firstFrame: c.firstFrame,
      synSeen: c.synSeen,
      c2s: c.c2s.finish(),
      s2c: c.s2c.finish(),
    });
  }
  return out;
}

/** The chunk holding byte `offset` of a direction (binary search), for timestamps and frame numbers. */
export function chunkAt(d: Direction, offset: number): StreamChunk | undefined {
  let lo = 0;
  let hi = d.chunks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = d.chunks[mid]!;
    if (offset < c.offset) hi = mid - 1;
    else if (offset >= c.offset + c.length) lo = mid + 1;
    else return c;
  }
  return undefined;
}
