/**
 * Replay scripts: a decoded capture turned into per-connection sequences of client requests and device replies per
 * protocol layer (usbmux frames, lockdown frames in plaintext or inside TLS, AFC packets), plus the helpers both
 * replay roles share: an exact-length async reader, message framing per layer, and per-layer comparison.
 */
import { ClosedError, fixErrorName, TimeoutError } from '../core/errors.ts';
import { parsePlist } from '../plist/index.ts';
import { isPlistDict, type PlistDict } from '../plist/types.ts';
import { parseKeyValues, parseNulList } from '../afc/codec.ts';
import { AfcOpcode } from '../afc/protocol.ts';
import { CaptureError } from './errors.ts';
import type { DecodedCapture } from './decode.ts';
import type { Dir } from './events.ts';
import { VOLATILE_KEYS, diffBytes, diffKeyValues, diffPlist, type Diff } from './compare.ts';

export type StepLayer = 'usbmux' | 'lockdown' | 'afc' | 'tls-start';

/** One recorded message. */
export interface ReplayStep {
  stream: number;
  dir: Dir;
  layer: StepLayer;
  /** usbmux: the whole frame; lockdown: the plist body; afc: the whole packet; tls-start: empty. */
  raw: Buffer;
  /** Lockdown frame from inside TLS. */
  tls: boolean;
  frame: number;
  /** Index in the global (frame) order. */
  seq: number;
  /** AFC request operation a reply answers. */
  replyTo?: number;
}

/** The steps of one recorded connection. */
export interface ReplayConnection {
  stream: number;
  steps: ReplayStep[];
  /** First usbmux request's MessageType (to match live connections). */
  request?: string;
  /** The TLS section could not be decrypted: the replay ends at the TLS boundary. */
  undecryptable: boolean;
}

/** Builds the replay script of a decoded capture (connections in stream order). */
export function buildReplayScript(d: DecodedCapture): ReplayConnection[] {
  const out: ReplayConnection[] = [];
  let seq = 0;
  const all: ReplayStep[] = [];
  for (const s of d.streams) {
    const conn: ReplayConnection = { stream: s.stream, steps: [], undecryptable: false, ...(s.request ? { request: s.request } : {}) };
    const afcReqs = new Map<number, number>();
    for (const e of s.events) {
      if (conn.undecryptable) break;
      let step: ReplayStep | undefined;
      const base = { stream: s.stream, dir: e.dir, frame: e.frame ?? 0, seq: 0, tls: false };
      if (e.layer === 'usbmux' && e.raw) step = { ...base, layer: 'usbmux', raw: e.raw };
      else if (e.layer === 'lockdown' && e.raw) step = { ...base, layer: 'lockdown', raw: e.raw, tls: e.tls };
      else if (e.layer === 'afc' && e.raw) {
        step = { ...base, layer: 'afc', raw: e.raw };
        if (e.dir === 'c2s') afcReqs.set(e.packetNum, e.operation);
        else if (afcReqs.has(e.packetNum)) step.replyTo = afcReqs.get(e.packetNum)!;
      } else if (e.layer === 'tls' && e.boundary && e.dir === 'c2s') step = { ...base, layer: 'tls-start', raw: Buffer.alloc(0) };
      else if (e.layer === 'tls' && e.decrypted === false) conn.undecryptable = true;
      if (step) {
        conn.steps.push(step);
        all.push(step);
      }
    }
    out.push(conn);
  }
  all.sort((a, b) => a.frame - b.frame || (a.stream === b.stream ? 0 : a.stream - b.stream));
  for (const st of all) st.seq = seq++;
  for (const c of out) c.steps.sort((a, b) => a.seq - b.seq);
  return out;
}

/** A replay deviation. Code ERR_CAPTURE_REPLAY_MISMATCH; `diff` names the first differing field. */
export class ReplayMismatchError extends CaptureError {
  static {
    fixErrorName(this, 'ReplayMismatchError');
  }
  constructor(
    readonly stream: number,
    readonly step: number,
    readonly layer: string,
    readonly diff: Diff,
  ) {
    super('ERR_CAPTURE_REPLAY_MISMATCH', `replay of stream ${stream}, step ${step} (${layer}): ${diff.path}: expected ${diff.expected}, got ${diff.actual}`);
  }
}

/** Exact-length reads over pushed chunks, with a per-read timeout. */
export class ByteReader {
  #chunks: Buffer[] = [];
  #len = 0;
  #ended = false;
  #wake: (() => void) | undefined;
  push(b: Buffer): void {
    this.#chunks.push(b);
    this.#len += b.length;
    this.#wake?.();
  }
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }
  get buffered(): number {
    return this.#len;
  }
  /** Everything buffered (for a handover to TLS). */
  drain(): Buffer {
    const b = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#len = 0;
    return b;
  }
  unshift(b: Buffer): void {
    this.#chunks.unshift(b);
    this.#len += b.length;
  }
  /** @throws ClosedError ERR_CLOSED at EOF, TimeoutError ERR_TIMEOUT. */
  async read(n: number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#len < n) {
      if (this.#ended) throw new ClosedError(`replay read (stream ended with ${this.#len} of ${n} bytes)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError('replay read', timeoutMs);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = all.length > n ? [all.subarray(n)] : [];
    this.#len -= n;
    return all.subarray(0, n);
  }
}

const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * Reads one message of `layer` (usbmux frame, lockdown body, AFC packet).
 * @throws CaptureError ERR_CAPTURE_TOO_LARGE for a length over 64 MiB; ByteReader errors.
 */
export async function readMessage(r: ByteReader, layer: StepLayer, timeoutMs: number): Promise<Buffer> {
  if (layer === 'usbmux') {
    const h = await r.read(16, timeoutMs);
    const n = h.readUInt32LE(0);
    if (n < 16 || n > MAX_MESSAGE) throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `usbmux length ${n}`);
    return Buffer.concat([h, await r.read(n - 16, timeoutMs)]);
  }
  if (layer === 'lockdown') {
    const n = (await r.read(4, timeoutMs)).readUInt32BE(0);
    if (n === 0 || n > MAX_MESSAGE) throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `lockdown length ${n}`);
    return r.read(n, timeoutMs);
  }
  const h = await r.read(40, timeoutMs);
  const entire = Number(h.readBigUInt64LE(8));
  if (entire < 40 || entire > MAX_MESSAGE) throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `AFC length ${entire}`);
  return Buffer.concat([h, await r.read(entire - 40, timeoutMs)]);
}

function plistOf(b: Buffer): PlistDict | undefined {
  try {
    const v = parsePlist(b);
    return isPlistDict(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The plist of a usbmux frame (message 8), else undefined. */
export function usbmuxPlist(frame: Buffer): PlistDict | undefined {
  return frame.readUInt32LE(8) === 8 ? plistOf(frame.subarray(16)) : undefined;
}

/** The plist of a lockdown body. */
export function lockdownPlist(body: Buffer): PlistDict | undefined {
  return plistOf(body);
}

/**
 * Compares a live message with the recorded one. usbmux tags and AFC packet numbers are not compared (the caller
 * renumbers them); volatile keys only need the same type.
 */
export function diffMessage(step: ReplayStep, live: Buffer, volatile: ReadonlySet<string> = VOLATILE_KEYS): Diff | undefined {
  const rec = step.raw;
  if (step.layer === 'usbmux') {
    for (const [name, off] of [['version', 4], ['message', 8]] as const) {
      if (rec.readUInt32LE(off) !== live.readUInt32LE(off)) return { path: `usbmux.${name}`, expected: String(rec.readUInt32LE(off)), actual: String(live.readUInt32LE(off)) };
    }
    const a = usbmuxPlist(rec);
    const b = usbmuxPlist(live);
    if (a && b) return diffPlist(a, b, volatile, 'usbmux');
    return diffBytes(rec.subarray(16), live.subarray(16), 'usbmux.payload');
  }
  if (step.layer === 'lockdown') {
    const a = lockdownPlist(rec);
    const b = lockdownPlist(live);
    // GetValue of a volatile key (DevicePublicKey, …): its Value is volatile too.
    const v = a && typeof a.Key === 'string' && volatile.has(a.Key) ? new Set([...volatile, 'Value']) : volatile;
    if (a && b) return diffPlist(a, b, v, 'lockdown');
    return diffBytes(rec, live, 'lockdown.body');
  }
  // AFC: operation, header payload, data (packet_num renumbered by the caller)
  const op = Number(rec.readBigUInt64LE(32));
  const lop = Number(live.readBigUInt64LE(32));
  if (op !== lop) return { path: 'afc.operation', expected: String(op), actual: String(lop) };
  const body = (b: Buffer): Buffer => b.subarray(40);
  if (step.dir === 's2c' && op === AfcOpcode.Data && (step.replyTo === AfcOpcode.GetFileInfo || step.replyTo === AfcOpcode.GetDeviceInfo)) {
    try {
      const a = { ...parseKeyValues(body(rec)) };
      const b = { ...parseKeyValues(body(live)) };
      // A directory's mtime is when the emulator generated it; files keep their recorded capture dates.
      const v = a.st_ifmt === 'S_IFDIR' && b.st_ifmt === 'S_IFDIR' ? new Set([...volatile, 'st_mtime']) : volatile;
      return diffKeyValues(a, b, v, 'afc.info');
    } catch {
      return diffBytes(body(rec), body(live), 'afc.body');
    }
  }
  if (step.dir === 's2c' && op === AfcOpcode.Data && step.replyTo === AfcOpcode.ReadDir) {
    const x = parseNulList(body(rec)).sort();
    const y = parseNulList(body(live)).sort();
    return diffPlist(x, y, volatile, 'afc.names');
  }
  const thisA = Number(rec.readBigUInt64LE(16));
  const thisB = Number(live.readBigUInt64LE(16));
  return diffBytes(rec.subarray(40, thisA), live.subarray(40, thisB), 'afc.header_payload') ?? diffBytes(rec.subarray(thisA), live.subarray(thisB), 'afc.data');
}
