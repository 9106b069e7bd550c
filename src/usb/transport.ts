/**
 * The bulk-endpoint seam between a mux and its USB link. The host end gets one over node `usb` (usb-transport.ts), over
 * FunctionFS on the device side (ffs-device.ts), or an in-process pair (virtual-endpoints.ts).
 */

/** One direction pair of bulk endpoints, seen from one end of the cable. */
export interface BulkTransport {
  /** Submits one bulk OUT transfer (a 0-byte buffer sends a ZLP). Rejects with ERR_USB_DETACHED / ERR_USB_TRANSFER. */
  write(buf: Buffer): Promise<void>;
  /** Registers the receiver of IN transfer completions (each call's buffer is fresh and never reused). */
  onData(cb: (chunk: Buffer) => void): void;
  /** Registers the callback for the end of the link (unplug, transfer error: `err` set; local close: undefined). */
  onClose(cb: (err?: Error) => void): void;
  /** wMaxPacketSize of the endpoint we write to (512 high speed, 1024 SuperSpeed): the ZLP rule needs it. */
  readonly maxPacketSize: number;
  /** Size of each submitted IN transfer, when the peer's packets may be split across completions (host: 16384). */
  readonly inTransferSize?: number;
  /** Stops I/O and releases the endpoints. */
  close(): Promise<void>;
}

/**
 * Serialises whole transfers onto a transport, one at a time in submission order, and follows each transfer whose
 * length is a multiple of `maxPacketSize` with a zero-length transfer (the ZLP rule).
 */
export class TransferQueue {
  readonly #t: BulkTransport;
  #queue: { buf: Buffer; resolve: () => void; reject: (e: Error) => void }[] = [];
  #running = false;
  #failed: Error | undefined;
  #queuedBytes = 0;
  #idle: (() => void)[] = [];

  constructor(transport: BulkTransport) {
    this.#t = transport;
  }

  /** Bytes waiting to be written (not yet completed). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues one transfer; resolves when it (and its ZLP) completed. Rejects with the failure error once failed. */
  send(buf: Buffer): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ buf, resolve, reject });
      this.#queuedBytes += buf.length;
      if (!this.#running) void this.#run();
    });
  }

  /** Resolves once everything queued so far was written (or failed). */
  drain(): Promise<void> {
    if (!this.#running || this.#failed) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Rejects everything queued and every later send with `err`. */
  fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    const q = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const item of q) item.reject(err);
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#failed) {
        const item = this.#queue.shift()!;
        try {
          await this.#t.write(item.buf);
          if (item.buf.length > 0 && item.buf.length % this.#t.maxPacketSize === 0) await this.#t.write(Buffer.alloc(0));
          this.#queuedBytes -= item.buf.length;
          item.resolve();
        } catch (e) {
          this.#queuedBytes -= item.buf.length;
          const err = e instanceof Error ? e : new Error(String(e));
          item.reject(err);
          this.fail(err);
        }
      }
    } finally {
      this.#running = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }
}
