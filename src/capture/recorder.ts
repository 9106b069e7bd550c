/**
 * Recording usbmux traffic to pcapng: every client connection becomes a synthetic TCP stream
 * (127.0.0.1:<unique client port> → 127.0.0.1:27015, raw IPv4) with SYN/SYN-ACK/ACK, data segments carrying
 * the right sequence and ack numbers, and FIN at the end. TLS secrets (NSS key log lines) are kept and written
 * as a Decryption Secrets Block right after the interface block when the recording is finished, so Wireshark
 * and `iosdevice decode` see them before the packets.
 */
import { closeSync, fchmodSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { CaptureError } from './errors.ts';
import { MAX_SEGMENT, checksum, ipv4TcpPacket } from './packets.ts';
import { LinkType, PcapngWriter, type TimeResolution } from './pcapng.ts';
import { TcpFlag } from './tcp.ts';

/** The server port of every recorded connection (usbmuxd's TCP port, so dissectors have a fixed port). */
export const RECORD_SERVER_PORT = 27015;
const HOST = '127.0.0.1';

/** Options of {@link CaptureRecorder}. */
export interface RecorderOptions {
  /** Output file (written as packets arrive). Without it, the recording stays in memory ({@link CaptureRecorder.bytes}). */
  file?: string;
  resolution?: TimeResolution;
  /** First client port (default 49152); each connection takes the next one. */
  firstClientPort?: number;
  /** Clock in ns since the epoch (tests inject a fake one). */
  now?: () => bigint;
  /** Cap on the in-memory recording, bytes (default 256 MiB). */
  maxBytes?: number;
}

/** Wall-clock start plus monotonic elapsed time: timestamps never go backwards within a recording. */
function monotonicWallClock(): () => bigint {
  const base = BigInt(Date.now()) * 1_000_000n;
  const t0 = process.hrtime.bigint();
  return () => base + (process.hrtime.bigint() - t0);
}

/** One recorded usbmux client connection. */
export class RecordedConnection {
  readonly clientPort: number;
  #cseq: number;
  #sseq: number;
  #closed = false;
  readonly #rec: CaptureRecorder;

  /** @internal created by {@link CaptureRecorder.connection} */
  constructor(rec: CaptureRecorder, clientPort: number, cisn: number, sisn: number) {
    this.#rec = rec;
    this.clientPort = clientPort;
    this.#cseq = cisn;
    this.#sseq = sisn;
    this.#seg(true, cisn, 0, TcpFlag.SYN);
    this.#seg(false, sisn, cisn + 1, TcpFlag.SYN | TcpFlag.ACK);
    this.#cseq = (cisn + 1) >>> 0;
    this.#sseq = (sisn + 1) >>> 0;
    this.#seg(true, this.#cseq, this.#sseq, TcpFlag.ACK);
  }

  #seg(fromClient: boolean, seq: number, ack: number, flags: number, payload?: Buffer): void {
    const pkt = ipv4TcpPacket({
      src: HOST, dst: HOST,
      srcPort: fromClient ? this.clientPort : RECORD_SERVER_PORT,
      dstPort: fromClient ? RECORD_SERVER_PORT : this.clientPort,
      seq, ack, flags, ...(payload ? { payload } : {}),
    });
    this.#rec.writePacket(pkt);
  }

  /** Records bytes the client sent. */
  c2s(data: Buffer): void {
    this.#data(true, data);
  }

  /** Records bytes the daemon (or device) sent. */
  s2c(data: Buffer): void {
    this.#data(false, data);
  }

  #data(fromClient: boolean, data: Buffer): void {
    if (this.#closed) return;
    for (let o = 0; o < data.length; o += MAX_SEGMENT) {
      const piece = data.subarray(o, o + MAX_SEGMENT);
      if (fromClient) {
        this.#seg(true, this.#cseq, this.#sseq, TcpFlag.ACK | TcpFlag.PSH, piece);
        this.#cseq = (this.#cseq + piece.length) >>> 0;
      } else {
        this.#seg(false, this.#sseq, this.#cseq, TcpFlag.ACK | TcpFlag.PSH, piece);
        this.#sseq = (this.#sseq + piece.length) >>> 0;
      }
    }
  }

  /** Records the end of the connection (FIN both ways, final ACK). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#seg(true, this.#cseq, this.#sseq, TcpFlag.FIN | TcpFlag.ACK);
    this.#cseq = (this.#cseq + 1) >>> 0;
    this.#seg(false, this.#sseq, this.#cseq, TcpFlag.FIN | TcpFlag.ACK);
    this.#sseq = (this.#sseq + 1) >>> 0;
    this.#seg(true, this.#cseq, this.#sseq, TcpFlag.ACK);
    this.#closed = true;
  }
}

/**
 * A pcapng recording of usbmux client connections.
 * @throws CaptureError ERR_CAPTURE_TOO_LARGE when an in-memory recording exceeds `maxBytes`.
 */
export class CaptureRecorder {
  readonly #w: PcapngWriter;
  readonly #now: () => bigint;
  readonly #file: string | undefined;
  readonly #fd: number | undefined;
  readonly #mem: Buffer[] = [];
  readonly #max: number;
  #memBytes = 0;
  #nextPort: number;
  #keylog: string[] = [];
  readonly #open = new Set<RecordedConnection>();
  #finished = false;
  #ipId = 1;

  constructor(opts: RecorderOptions = {}) {
    this.#w = new PcapngWriter({ linkType: LinkType.RAW, resolution: opts.resolution ?? 'us', interfaceName: 'usbmux', application: 'iosdevice capture' });
    this.#now = opts.now ?? monotonicWallClock();
    this.#file = opts.file;
    this.#max = opts.maxBytes ?? 256 * 1024 * 1024;
    this.#nextPort = opts.firstClientPort ?? 49152;
    if (this.#file) {
      this.#fd = openSync(this.#file, 'w', 0o600);
      // the mode above applies only to a new file; an existing one is overwritten and may embed a TLS key log
      fchmodSync(this.#fd, 0o600);
    }
    this.#emit(this.#w.header());
  }

  #emit(b: Buffer): void {
    if (this.#fd !== undefined) {
      writeSync(this.#fd, b);
      return;
    }
    this.#memBytes += b.length;
    if (this.#memBytes > this.#max) throw new CaptureError('ERR_CAPTURE_TOO_LARGE', `recording exceeds ${this.#max} bytes`);
    this.#mem.push(b);
  }

  /** @internal one synthetic packet */
  writePacket(ipPacket: Buffer): void {
    if (this.#finished) return;
    ipPacket.writeUInt16BE(this.#ipId++ & 0xffff, 4);
    // the IP checksum covers the id: recompute
    ipPacket.writeUInt16BE(0, 10);
    ipPacket.writeUInt16BE(checksum([ipPacket.subarray(0, 20)]), 10);
    this.#emit(this.#w.packet(this.#now(), ipPacket));
  }

  /** Starts recording a new client connection (a new client port, handshake written now). */
  connection(): RecordedConnection {
    const port = this.#nextPort;
    this.#nextPort = this.#nextPort >= 65535 ? 49152 : this.#nextPort + 1;
    const isn = (port * 0x10001) >>> 0;
    const c = new RecordedConnection(this, port, isn, (~isn) >>> 0);
    this.#open.add(c);
    const close = c.close.bind(c);
    c.close = () => {
      this.#open.delete(c);
      close();
    };
    return c;
  }

  /** Adds NSS key log lines (written into the file when the recording is finished). */
  addKeylog(lines: string | Buffer): void {
    const s = Buffer.isBuffer(lines) ? lines.toString('latin1') : lines;
    for (const l of s.split(/\r?\n/)) if (l.trim() && !this.#keylog.includes(l.trim())) this.#keylog.push(l.trim());
  }

  /** Key log lines collected so far. */
  get keylog(): string {
    return this.#keylog.length ? `${this.#keylog.join('\n')}\n` : '';
  }

  /**
   * Ends every open connection and completes the file: the key log goes into a DSB placed after the interface
   * block. Idempotent.
   */
  finish(): void {
    if (this.#finished) return;
    for (const c of [...this.#open]) c.close();
    this.#finished = true;
    const header = this.#w.header();
    const dsb = this.#keylog.length ? this.#w.keylog(this.keylog) : undefined;
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      if (dsb) {
        // rewritten beside the file and renamed over it, so a crash here never leaves a half-written capture
        const all = readFileSync(this.#file!);
        const tmp = `${this.#file!}.${process.pid}.tmp`;
        try {
          writeFileSync(tmp, Buffer.concat([all.subarray(0, header.length), dsb, all.subarray(header.length)]), { mode: 0o600, flag: 'wx' });
          renameSync(tmp, this.#file!);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw e;
        }
      }
    } else if (dsb) this.#mem.splice(1, 0, dsb);
  }

  /** The in-memory recording (after {@link finish}). */
  bytes(): Buffer {
    return Buffer.concat(this.#mem);
  }
}

/**
 * Wraps a Duplex so that everything written to it (client → device) and read from it (device → client) is
 * recorded on `conn`. The returned Duplex is used in place of `inner`; closing either side records the FIN.
 */
export function recordDuplex(inner: Duplex, conn: RecordedConnection): Duplex {
  const outer = new Duplex({
    allowHalfOpen: true,
    write(chunk: Buffer, _enc, cb) {
      conn.c2s(chunk);
      inner.write(chunk, cb);
    },
    final(cb) {
      inner.end();
      cb();
    },
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      conn.close();
      inner.destroy(err ?? undefined);
      cb(err);
    },
  });
  inner.on('data', (d: Buffer) => {
    conn.s2c(d);
    if (!outer.push(d)) inner.pause();
  });
  inner.once('end', () => {
    conn.close();
    outer.push(null);
  });
  inner.once('error', (e) => outer.destroy(e));
  inner.once('close', () => {
    conn.close();
    if (!outer.destroyed && !outer.readableEnded) outer.push(null);
  });
  return outer;
}
