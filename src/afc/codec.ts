/**
 * Pure AFC codec (no I/O, no timers): request/reply encoders that return `[header, payload...]` buffers,
 * an incremental packet decoder over a {@link ChunkQueue}, and parsers for the small bodies
 * (u64 arguments, NUL-separated paths, `key\0value\0` dictionaries, name lists).
 */
import { ChunkQueue } from '../core/chunk-queue.ts';
import { ProtocolError, TooLargeError } from '../core/errors.ts';
import { readU64LE, writeU64LE } from '../core/u64.ts';
import { AFC_HEADER_SIZE, AFC_MAGIC, AfcOpcode } from './protocol.ts';
import { AfcTooManyEntriesError } from './errors.ts';

/** Decoded fixed header. All values are safe integers (a u64 above 2^53 is a ProtocolError). */
export interface AfcHeader {
  entireLength: number;
  thisLength: number;
  packetNum: number;
  operation: number;
}

/** Fields of one packet to encode: u64 arguments, then NUL-terminated strings, then the data area. */
export interface AfcPacketFields {
  /** u64 arguments at the start of header_payload (negative numbers are written as i64). */
  u64?: readonly (number | bigint)[];
  /** NUL-terminated strings after the u64 arguments (paths). */
  strings?: readonly string[];
  /** The data area (after this_length); kept as separate buffers (pieces of one area), never copied. */
  data?: Buffer | readonly Buffer[];
}

/**
 * Encodes one packet as `[header ‖ header_payload]` plus, when there is data, the caller's data buffer
 * untouched (write both under cork so the packet leaves as one unit). Throws ERR_PROTOCOL for a u64
 * argument that is not a safe non-negative integer.
 */
export function encodePacket(packetNum: number, operation: number, f: AfcPacketFields = {}): Buffer[] {
  const u64 = f.u64 ?? [];
  const strings = (f.strings ?? []).map((s) => Buffer.from(s, 'utf8'));
  let payloadLen = u64.length * 8;
  for (const s of strings) payloadLen += s.length + 1;
  const thisLength = AFC_HEADER_SIZE + payloadLen;
  const data = f.data === undefined ? [] : Buffer.isBuffer(f.data) ? [f.data] : f.data;
  let dataLen = 0;
  for (const d of data) dataLen += d.length;
  const head = Buffer.alloc(thisLength);
  AFC_MAGIC.copy(head, 0);
  writeU64LE(head, thisLength + dataLen, 8);
  writeU64LE(head, thisLength, 16);
  writeU64LE(head, packetNum, 24);
  writeU64LE(head, operation, 32);
  let off = AFC_HEADER_SIZE;
  for (const v of u64) {
    if (typeof v === 'bigint') head.writeBigUInt64LE(BigInt.asUintN(64, v), off);
    else if (v < 0) head.writeBigInt64LE(BigInt(v), off);
    else writeU64LE(head, v, off);
    off += 8;
  }
  for (const s of strings) {
    s.copy(head, off);
    off += s.length + 1; // NUL already there (Buffer.alloc)
  }
  const out: Buffer[] = [head];
  for (const d of data) if (d.length > 0) out.push(d);
  return out;
}

/** STATUS reply as Apple's device lays it out: this = entire = 48, the status in the header payload. */
export function encodeStatusReply(packetNum: number, status: number): Buffer {
  return encodePacket(packetNum, AfcOpcode.Status, { u64: [status] })[0]!;
}

/** FileRefOpenResult reply (this = entire = 48). */
export function encodeOpenResultReply(packetNum: number, handle: number): Buffer {
  return encodePacket(packetNum, AfcOpcode.FileRefOpenResult, { u64: [handle] })[0]!;
}

/** FileRefTellResult reply (this = entire = 48). */
export function encodeTellResultReply(packetNum: number, position: number): Buffer {
  return encodePacket(packetNum, AfcOpcode.FileRefTellResult, { u64: [position] })[0]!;
}

/** The 40-byte header of a DATA reply as the device sends it (this = 40, `dataLength` bytes follow). */
export function encodeDataReplyHeader(packetNum: number, dataLength: number): Buffer {
  const head = Buffer.alloc(AFC_HEADER_SIZE);
  AFC_MAGIC.copy(head, 0);
  writeU64LE(head, AFC_HEADER_SIZE + dataLength, 8);
  writeU64LE(head, AFC_HEADER_SIZE, 16);
  writeU64LE(head, packetNum, 24);
  writeU64LE(head, AfcOpcode.Data, 32);
  return head;
}

/** Encodes `key\0value\0…` (GetFileInfo / GetDeviceInfo bodies). */
export function encodeKeyValues(kv: Readonly<Record<string, string>>): Buffer {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(kv)) parts.push(k, v);
  return encodeNulList(parts);
}

/** Encodes `name\0name\0…` (ReadDir body). */
export function encodeNulList(names: readonly string[]): Buffer {
  return Buffer.from(names.map((n) => `${n}\0`).join(''), 'utf8');
}

/**
 * Splits a NUL-separated list (each entry NUL-terminated; a missing final NUL is tolerated).
 * @throws AfcTooManyEntriesError (ERR_AFC_TOO_MANY_ENTRIES) as soon as the list holds more than `maxEntries`
 */
export function parseNulList(buf: Buffer, maxEntries = Infinity): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0, start);
    if (end < 0) end = buf.length;
    if (out.length >= maxEntries) throw new AfcTooManyEntriesError(maxEntries);
    out.push(buf.toString('utf8', start, end));
    start = end + 1;
  }
  return out;
}

/**
 * Parses `key\0value\0…` into a null-prototype record (so a `__proto__` key is plain data).
 * Throws ERR_PROTOCOL when a key has no value.
 */
export function parseKeyValues(buf: Buffer): Record<string, string> {
  const list = parseNulList(buf);
  if (list.length % 2 !== 0) throw new ProtocolError('afc', `key/value list with an odd number (${list.length}) of entries`);
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/** Reads the u64 at `offset` of a body, with a ProtocolError (not a RangeError) when the body is short. */
export function bodyU64(body: Buffer, offset: number, what: string): number {
  if (body.length < offset + 8) throw new ProtocolError('afc', `${what}: body of ${body.length} bytes has no u64 at ${offset}`);
  return readU64LE(body, offset, 'afc');
}

/** Reads an i64 at `offset` (seek offsets). */
export function bodyI64(body: Buffer, offset: number, what: string): bigint {
  if (body.length < offset + 8) throw new ProtocolError('afc', `${what}: body of ${body.length} bytes has no i64 at ${offset}`);
  return body.readBigInt64LE(offset);
}

/** Decoder caps. */
export interface AfcDecoderLimits {
  /** Largest header payload (this_length − 40) accepted; default 64 KiB. */
  maxHeaderPayload?: number;
  /** Largest data area (entire_length − this_length) accepted; default 64 MiB. */
  maxData?: number;
}

/** One decoder event. `headerPayload` is small and may be a copy; `chunk` is a view of a pushed chunk. */
export type AfcDecoded =
  | { kind: 'header'; header: AfcHeader; headerPayload: Buffer }
  | { kind: 'data'; packetNum: number; chunk: Buffer }
  | { kind: 'end'; header: AfcHeader };

const enum State {
  Header,
  HeaderPayload,
  Data,
  Failed,
}

/**
 * Incremental decoder: HEADER(40) → HEADER_PAYLOAD (buffered) → DATA (emitted as views, piece by piece)
 * → end. Push socket chunks with {@link push}, then call {@link next} until it returns undefined.
 * Magic, `this_length ≥ 40`, `entire_length ≥ this_length`, u64 high words and the caps are all checked
 * as soon as the 40 header bytes are in, before waiting for any body.
 *
 * Throws ERR_PROTOCOL (bad magic, bad lengths, u64 above 2^53) and ERR_PROTOCOL_TOO_LARGE (over a cap);
 * after a throw the decoder stays failed.
 */
export class AfcDecoder {
  readonly #q = new ChunkQueue();
  readonly #maxHeaderPayload: number;
  readonly #maxData: number;
  #state = State.Header;
  #header: AfcHeader | undefined;
  #dataLeft = 0;
  #offset = 0; // stream offset of the current packet (for error messages)

  constructor(limits: AfcDecoderLimits = {}) {
    this.#maxHeaderPayload = limits.maxHeaderPayload ?? 64 * 1024;
    this.#maxData = limits.maxData ?? 64 * 1024 * 1024;
  }

  /** Bytes copied because a header spanned chunks (payload bytes are never copied). */
  get bytesCopied(): number {
    return this.#q.bytesCopied;
  }

  /** Bytes received but not yet decoded. */
  get buffered(): number {
    return this.#q.length;
  }

  /** True when part of a packet has been received (EOF now means truncation). */
  get midPacket(): boolean {
    return this.#state !== State.Header || this.#q.length > 0;
  }

  /** Copies what is buffered (a partial header), before the pushed chunks' memory is reused. */
  own(): void {
    this.#q.own();
  }

  /** Queues a chunk (kept as is). */
  push(chunk: Buffer): void {
    this.#q.push(chunk);
  }

  /** The next event, or undefined when more bytes are needed. */
  next(): AfcDecoded | undefined {
    switch (this.#state) {
      case State.Header: {
        if (this.#q.length < AFC_HEADER_SIZE) {
          // Reject a wrong magic early, without waiting for the rest of the header.
          if (this.#q.length >= 8) this.#checkMagic(this.#q.peek(8));
          return undefined;
        }
        const raw = this.#q.take(AFC_HEADER_SIZE);
        const header = this.#parseHeader(raw);
        this.#header = header;
        this.#state = State.HeaderPayload;
        return this.next();
      }
      case State.HeaderPayload: {
        const h = this.#header!;
        const n = h.thisLength - AFC_HEADER_SIZE;
        if (this.#q.length < n) return undefined;
        const headerPayload = this.#q.take(n);
        this.#dataLeft = h.entireLength - h.thisLength;
        this.#state = State.Data;
        return { kind: 'header', header: h, headerPayload };
      }
      case State.Data: {
        const h = this.#header!;
        if (this.#dataLeft === 0) {
          this.#state = State.Header;
          this.#offset += h.entireLength;
          this.#header = undefined;
          return { kind: 'end', header: h };
        }
        if (this.#q.length === 0) return undefined;
        const chunk = this.#q.takeSome(this.#dataLeft);
        this.#dataLeft -= chunk.length;
        return { kind: 'data', packetNum: h.packetNum, chunk };
      }
      default:
        throw new ProtocolError('afc', 'decoder used after a failure');
    }
  }

  #fail(e: Error): never {
    this.#state = State.Failed;
    throw e;
  }

  #checkMagic(b: Buffer): void {
    if (!b.subarray(0, 8).equals(AFC_MAGIC)) this.#fail(new ProtocolError('afc', 'bad magic (expected CFA6LPAA)', this.#offset));
  }

  #parseHeader(raw: Buffer): AfcHeader {
    this.#checkMagic(raw);
    let entireLength: number, thisLength: number, packetNum: number, operation: number;
    try {
      entireLength = readU64LE(raw, 8, 'afc');
      thisLength = readU64LE(raw, 16, 'afc');
      packetNum = readU64LE(raw, 24, 'afc');
      operation = readU64LE(raw, 32, 'afc');
    } catch (e) {
      this.#fail(e as Error);
    }
    if (thisLength < AFC_HEADER_SIZE) this.#fail(new ProtocolError('afc', `this_length ${thisLength} < 40`, this.#offset + 16));
    if (entireLength < thisLength) {
      this.#fail(new ProtocolError('afc', `entire_length ${entireLength} < this_length ${thisLength}`, this.#offset + 8));
    }
    if (thisLength - AFC_HEADER_SIZE > this.#maxHeaderPayload) {
      this.#fail(new TooLargeError('afc', thisLength - AFC_HEADER_SIZE, this.#maxHeaderPayload));
    }
    if (entireLength - thisLength > this.#maxData) this.#fail(new TooLargeError('afc', entireLength - thisLength, this.#maxData));
    return { entireLength, thisLength, packetNum, operation };
  }
}
