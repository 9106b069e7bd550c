/**
 * Incremental framing of usbmuxd messages (both directions): a pull decoder over a {@link ChunkQueue}.
 * The length is checked (≥ 16, ≤ cap) as soon as the header is complete, before the body is buffered.
 * `next()` returns one frame at a time, so a caller that stops after a Connect `Result` leaves every
 * following byte (device data) in the queue for {@link UsbmuxFrameDecoder.drain}.
 */
import { ChunkQueue } from '../core/chunk-queue.ts';
import { ProtocolError, TooLargeError } from '../core/errors.ts';
import { UsbmuxHeaderVersionError } from './errors.ts';
import { DEFAULT_MAX_MESSAGE, HEADER_SIZE, decodeHeader, type UsbmuxHeader } from './protocol.ts';

/** Most chunks buffered at once (a real daemon delivers a message in a handful of reads). */
const MAX_CHUNKS = 65_536;

/** One whole message: header plus its payload (a view when it arrived in one chunk, else a copy). */
export interface UsbmuxFrame {
  header: UsbmuxHeader;
  payload: Buffer;
  /** Offset of the frame's first byte in the stream (bytes pushed before it). */
  offset: number;
}

export interface FrameDecoderOptions {
  /** Largest accepted message incl. header, bytes (default 16 MiB). */
  maxLength?: number;
  /** Reject header versions other than 0/1 at once (client side). The server answers them with Result 6 instead. */
  strictVersion?: boolean;
}

/** Pull-style frame decoder. */
export class UsbmuxFrameDecoder {
  readonly #q = new ChunkQueue();
  readonly #max: number;
  readonly #strict: boolean;
  #header: UsbmuxHeader | undefined;
  #consumed = 0;

  constructor(opts: FrameDecoderOptions = {}) {
    this.#max = opts.maxLength ?? DEFAULT_MAX_MESSAGE;
    this.#strict = opts.strictVersion ?? true;
  }

  /** Bytes buffered and not yet returned in a frame. */
  get buffered(): number {
    return this.#q.length;
  }

  /** Bytes consumed as whole frames so far (the offset of the next frame). */
  get offset(): number {
    return this.#consumed;
  }

  /** True when part of a frame is buffered (EOF now would truncate a message). */
  get midMessage(): boolean {
    return this.#q.length > 0;
  }

  /**
   * Adds bytes from the stream (kept as is, not copied).
   * @throws TooLargeError (ERR_PROTOCOL_TOO_LARGE) when more than 65,536 chunks are buffered (a peer trickling
   *   a huge message in tiny pieces would otherwise cost far more memory than the byte cap suggests), or more
   *   than two messages' worth of bytes (a peer sending on while nothing is decoded).
   */
  push(chunk: Buffer): void {
    this.#q.push(chunk);
    if (this.#q.chunkCount > MAX_CHUNKS) throw new TooLargeError('usbmux', this.#q.chunkCount, MAX_CHUNKS);
    if (this.#q.length > 2 * this.#max) throw new TooLargeError('usbmux', this.#q.length, 2 * this.#max);
  }

  /**
   * The next complete frame, or undefined when more bytes are needed.
   * @throws ProtocolError (ERR_PROTOCOL) when the length field is below 16;
   *   TooLargeError (ERR_PROTOCOL_TOO_LARGE) when it is above the cap;
   *   UsbmuxHeaderVersionError (ERR_USBMUX_HEADER_VERSION) for a version other than 0/1 in strict mode.
   */
  next(): UsbmuxFrame | undefined {
    if (!this.#header) {
      if (this.#q.length < HEADER_SIZE) return undefined;
      const h = decodeHeader(this.#q.peek(HEADER_SIZE));
      if (h.length < HEADER_SIZE) throw new ProtocolError('usbmux', `message length ${h.length} is below the 16-byte header`, this.#consumed);
      if (h.length > this.#max) throw new TooLargeError('usbmux', h.length, this.#max);
      if (this.#strict && h.version !== 0 && h.version !== 1) throw new UsbmuxHeaderVersionError(h.version);
      this.#header = h;
    }
    const h = this.#header;
    if (this.#q.length < h.length) return undefined;
    this.#q.skip(HEADER_SIZE);
    const payload = this.#q.take(h.length - HEADER_SIZE);
    this.#header = undefined;
    const offset = this.#consumed;
    this.#consumed += h.length;
    return { header: h, payload, offset };
  }

  /**
   * Call at EOF.
   * @throws ProtocolError (ERR_PROTOCOL) when a message was cut off (bytes of an incomplete frame are buffered).
   */
  end(): void {
    if (this.#q.length > 0) {
      const need = this.#header ? this.#header.length : HEADER_SIZE;
      throw new ProtocolError('usbmux', `stream ended inside a message (${this.#q.length} of ${need} bytes)`, this.#consumed);
    }
  }

  /** Removes and returns every byte not yet consumed as a frame (e.g. device data after a Connect Result). */
  drain(): Buffer[] {
    this.#header = undefined;
    return this.#q.drain();
  }
}

/**
 * Incremental message decoder shared by both sides: frames from a {@link UsbmuxFrameDecoder}, each
 * turned into a message by `decode` (the client's reply decoder or the daemon's request decoder).
 */
export class UsbmuxMessageDecoder<T> {
  readonly #frames: UsbmuxFrameDecoder;
  readonly #decode: (frame: UsbmuxFrame) => T;
  constructor(decode: (frame: UsbmuxFrame) => T, opts: FrameDecoderOptions = {}) {
    this.#decode = decode;
    this.#frames = new UsbmuxFrameDecoder(opts);
  }
  /** Adds bytes from the stream. @throws see {@link UsbmuxFrameDecoder.push}. */
  push(chunk: Buffer): void {
    this.#frames.push(chunk);
  }
  /**
   * The next message, or undefined when more bytes are needed.
   * @throws see {@link UsbmuxFrameDecoder.next}, plus whatever `decode` throws (ProtocolError, ERR_PROTOCOL).
   */
  next(): T | undefined {
    const f = this.#frames.next();
    return f ? this.#decode(f) : undefined;
  }
  /** Bytes buffered beyond the messages returned so far. */
  get buffered(): number {
    return this.#frames.buffered;
  }
  /** Offset of the next message in the stream. */
  get offset(): number {
    return this.#frames.offset;
  }
  /** At EOF. @throws ProtocolError (ERR_PROTOCOL) when a message was cut off. */
  end(): void {
    this.#frames.end();
  }
  /** Every byte after the last returned message (device or client data after a Connect). */
  drain(): Buffer[] {
    return this.#frames.drain();
  }
}
