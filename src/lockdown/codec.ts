import { ChunkQueue } from '../core/chunk-queue.ts';
import { ProtocolError, TooLargeError } from '../core/errors.ts';
import { encodeXmlPlist, parsePlist } from '../plist/index.ts';
import { isPlistDict, type PlistDict } from '../plist/types.ts';
import { LOCKDOWN_MAX_FRAME } from './protocol.ts';

const XML_PREFIX = Buffer.from('<?xml', 'latin1');
const BPLIST_PREFIX = Buffer.from('bplist00', 'latin1');

/** Which plist flavour a lockdown body uses (exact prefix, as libimobiledevice checks), or undefined. */
export function lockdownBodyFormat(body: Buffer): 'xml' | 'binary' | undefined {
  if (body.length >= XML_PREFIX.length && body.subarray(0, XML_PREFIX.length).equals(XML_PREFIX)) return 'xml';
  if (body.length >= BPLIST_PREFIX.length && body.subarray(0, BPLIST_PREFIX.length).equals(BPLIST_PREFIX)) return 'binary';
  return undefined;
}

/**
 * Encodes one lockdown frame: [u32 BE length, XML plist body]. Returned as two buffers so the writer
 * can send them corked without concatenating.
 */
export function encodeLockdownFrame(msg: PlistDict): [Buffer, Buffer] {
  const body = encodeXmlPlist(msg);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return [header, body];
}

/** Decodes one complete body (no length prefix). Throws ERR_PROTOCOL for a bad prefix, bad plist or a non-dict. */
export function decodeLockdownBody(body: Buffer, maxBytes = LOCKDOWN_MAX_FRAME): PlistDict {
  if (!lockdownBodyFormat(body)) throw new ProtocolError('lockdown', 'frame body is neither "<?xml" nor "bplist00"', 4);
  let v;
  try {
    v = parsePlist(body, { maxBytes });
  } catch (err) {
    throw new ProtocolError('lockdown', 'frame body is not a valid plist', 4, { cause: err });
  }
  if (!isPlistDict(v)) throw new ProtocolError('lockdown', 'frame body is not a dictionary');
  return v;
}

/** Most chunks buffered at once (a 16 MiB frame in 16 KiB TLS records is 1,024). */
const MAX_CHUNKS = 65_536;

/**
 * Incremental lockdown frame decoder over a {@link ChunkQueue}: push socket chunks, pull whole frames.
 * The length prefix is checked against the cap before any body is awaited (ERR_PROTOCOL_TOO_LARGE),
 * a zero length or bad body gives ERR_PROTOCOL. After an error the decoder stays failed.
 */
export class LockdownFrameDecoder {
  readonly queue = new ChunkQueue();
  readonly #cap: number;
  #bodyLength = -1;
  #failed: Error | undefined;

  constructor(opts?: { maxFrame?: number }) {
    this.#cap = opts?.maxFrame ?? LOCKDOWN_MAX_FRAME;
  }

  /**
   * Appends received bytes. Never throws: when the peer sends more than the decoder may hold (more than two
   * frames' worth of bytes not yet decoded, e.g. requests pipelined while a handler is busy, or more than
   * 65,536 chunks, a trickle that would cost far more memory than its bytes), the decoder fails with
   * TooLargeError (ERR_PROTOCOL_TOO_LARGE), thrown by the next {@link next}, and drops further input.
   */
  push(chunk: Buffer): void {
    if (this.#failed) return;
    this.queue.push(chunk);
    const q = this.queue;
    if (q.length > 2 * (this.#cap + 4)) this.#failed = new TooLargeError('lockdown', q.length, 2 * (this.#cap + 4));
    else if (q.chunkCount > MAX_CHUNKS) this.#failed = new TooLargeError('lockdown', q.chunkCount, MAX_CHUNKS);
  }

  /** Bytes buffered and not yet decoded. */
  get buffered(): number {
    return this.queue.length + (this.#bodyLength >= 0 ? 4 : 0);
  }

  /** True while part of a frame is buffered (an EOF now would truncate it). */
  get midFrame(): boolean {
    return this.#bodyLength >= 0 || this.queue.length > 0;
  }

  /**
   * The next complete frame, or undefined when more bytes are needed.
   * @throws ProtocolError ERR_PROTOCOL, TooLargeError ERR_PROTOCOL_TOO_LARGE
   */
  next(): PlistDict | undefined {
    if (this.#failed) throw this.#failed;
    try {
      if (this.#bodyLength < 0) {
        if (this.queue.length < 4) return undefined;
        const n = this.queue.peekUInt32BE(0);
        if (n > this.#cap) throw new TooLargeError('lockdown', n, this.#cap);
        if (n === 0) throw new ProtocolError('lockdown', 'zero-length frame', 0);
        this.queue.skip(4);
        this.#bodyLength = n;
      }
      if (this.queue.length < this.#bodyLength) return undefined;
      const body = this.queue.take(this.#bodyLength);
      this.#bodyLength = -1;
      return decodeLockdownBody(body, this.#cap);
    } catch (err) {
      this.#failed = err as Error;
      throw err;
    }
  }

  /** Removes and returns undecoded bytes (only valid between frames), e.g. to hand them to TLS. */
  drain(): Buffer[] {
    if (this.#bodyLength >= 0) throw new ProtocolError('lockdown', 'cannot hand over bytes in the middle of a frame');
    return this.queue.drain();
  }
}
