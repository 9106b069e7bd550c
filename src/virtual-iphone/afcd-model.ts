/**
 * Service times of the device's AFC daemon (afcd), for the emulator's `real` profile: how long a real iPhone takes
 * to answer each AFC request, on top of the USB 2 bus (./link.ts). The model sits on the device side of the
 * emulator: `serveAfc` hands each reply to an {@link AfcServicePacer} (src/afc/server.ts), which releases it (or,
 * for READ data, each 64 KiB piece of it) at the time the model says. Clients cannot tell it from a slow phone.
 *
 * The model, per request r on one AFC connection:
 *
 *   ready(r)  = max(arrival(r) − credit, end(previous request on this connection))   requests in order per connection
 *   start(r)  = max(ready(r), earliest free afcd worker)                                 AFCD_WORKERS for the whole device
 *   fixed(r)  = REQUEST_MS + the op's own cost (OPEN_MS, STAT_MS, READDIR_MS + n × READDIR_ENTRY_MS, READ_MS,
 *               WRITE_MS + bytes / WRITE_BYTES_PER_SECOND, CLOSE_MS)
 *   READ data leaves in 64 KiB pieces, piece k (cumulative bytes c_k) at start + fixed + c_k / READ_BYTES_PER_SECOND;
 *   every other reply leaves at start + fixed. The worker is busy until the last piece has left.
 *
 * The device's read ceiling and the bus are in series but pipelined (a piece is on the bus while afcd reads the
 * next), so one reader with big requests gets min(device, bus), as the published 4 MiB figures show; requests
 * with one in flight also pay the round trip and every fixed cost, as ifuse's figures show.
 *
 * Timers: Node fires a timer up to ~1 ms late. Planned times are kept exact (pieces of one reply and pipelined
 * requests are planned from the previous planned end, not from when a timer fired), and a reply that left late
 * gives its connection `credit` = how late it was, so a one-request-in-flight client (ifuse) sees the modelled
 * time on average rather than model + timer slop. No busy waiting.
 *
 * Where the numbers come from (issue and PR numbers are GitHub threads; /work/notes/speed-research.md §1 has the
 * quotes). Published real-phone figures: libimobiledevice #1126 (nikias: 100 MB via AFC read 32.4 MB/s, write
 * 21.9 MB/s, "never more than ~30-35 MB/s" even over USB-C), pymobiledevice3 #1719 (4 MiB pull ≈ 112 ms with one
 * request in flight, ≈ 37 MB/s), ifuse #40 (one 841,891,136 B .MOV read with `cp` in 45.2 s = 18.6 MB/s; writes
 * through ifuse 1.2–2 MB/s), ifuse #61 (rsync write through ifuse 1.35 MB/s). Nothing published separates
 * afcd's per-request cost into open / stat / close, says whether afcd overlaps several connections, or gives a
 * readdir cost: those constants say "no source" and are parameters. The calibration (bench/scenarios/
 * calibration.ts) runs the real peers on the emulator and prints them next to the published figures.
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../core/errors.ts';
import { AfcOpcode } from '../afc/protocol.ts';
import type { AfcServedRequest, AfcServicePacer } from '../afc/server-pacer.ts';

/** afcd timing parameters (milliseconds, bytes per second). */
export interface AfcdTiming {
  /** Requests the device serves at the same time over all its AFC connections (1 = one after another). */
  workers: number;
  /** Every request: afcd receives, dispatches and answers it. */
  requestMs: number;
  /** FileRefOpen, on top of requestMs. */
  openMs: number;
  /** GetFileInfo, on top of requestMs. */
  statMs: number;
  /** ReadDir, on top of requestMs, plus readdirEntryMs per name returned. */
  readdirMs: number;
  readdirEntryMs: number;
  /** FileRefRead, on top of requestMs (then the bytes at readBytesPerSecond). */
  readMs: number;
  /** The device's read ceiling (flash + afcd), bytes per second. */
  readBytesPerSecond: number;
  /** FileRefWrite, on top of requestMs (plus the bytes at writeBytesPerSecond). */
  writeMs: number;
  writeBytesPerSecond: number;
  /** FileRefClose, on top of requestMs. */
  closeMs: number;
}

/**
 * afcd request slots for the whole device: 1 (requests of all connections are served one after another).
 * No source says whether afcd serves several connections in parallel. The only public statement, appium-ios-remotexpc
 * #130 ("no visible performance gain" from parallel pulls compared to a sequential pull), is what a single
 * server predicts; a device-wide read ceiling with parallel service would predict it for large files too, so the
 * value is a parameter (`workers`), 1 being the choice that does not flatter clients using several connections.
 */
export const AFCD_WORKERS = 1;

/**
 * Per-request cost of afcd, 0.5 ms (every request, before its own work). Fitted on ifuse, not published: ifuse #40
 * reads a .MOV at 18.6 MB/s with a FileRefSeek + a 128 KiB FileRefRead per FUSE read, one at a time (ifuse
 * src/ifuse.c ifuse_read; 128 KiB observed), i.e. 7.0 ms per 128 KiB: the bytes at READ_BYTES_PER_SECOND take
 * 3.6 ms, the usb2 round trips 1.0 ms, and the host's own path (FUSE, ifuse, the usbmux relay; measured on the
 * emulator ≈ 0.6–1.5 ms per seek + read, more under load) the rest, leaving ≈ 1–2 ms for the device's two requests.
 * ifuse writes (ifuse_write: seek + a 4 KiB write per FUSE 2 write request) at 1.2–2 MB/s (ifuse #40, #61) leave
 * ≈ 0.5–2 ms for the same two requests. 2 × REQUEST_MS + READ_MS = 2 × REQUEST_MS + WRITE_MS = 1.5 ms sits in both
 * ranges; the calibration scenario (bench/scenarios/calibration.ts) checks the result against the published rates.
 */
export const REQUEST_MS = 0.5;

/** FileRefRead's own fixed cost, 0.5 ms (with REQUEST_MS, see there; the split between the two is not published). */
export const READ_MS = 0.5;

/**
 * Device read ceiling, 36 MB/s (10^6 B). pymobiledevice3 #1719: 4 MiB pulls in 111–113 ms with one request in flight
 * (≈ 37 MB/s including the fixed costs); libimobiledevice #1126: 100 MB read via AFC at 32.4 MB/s and "never more
 * than ~30-35 MB/s" even on USB-C links far faster than USB 2, so the limit is the device, not the bus.
 */
export const READ_BYTES_PER_SECOND = 36_000_000;

/** FileRefWrite's own fixed cost, 0.5 ms (see REQUEST_MS: fitted to ifuse's 1.2–2 MB/s writes, ifuse #40 / #61). */
export const WRITE_MS = 0.5;

/** Device write ceiling, 22 MB/s: libimobiledevice #1126, afc_file_write of 100 MB at 21.9 MB/s. */
export const WRITE_BYTES_PER_SECOND = 22_000_000;

/**
 * FileRefOpen's own cost, 0.5 ms. No source: nothing published times an AFC open. Chosen as one more file-system
 * call than a READ's fixed part (path lookup + sandbox check) — a parameter.
 */
export const OPEN_MS = 0.5;

/** GetFileInfo's own cost, 0.3 ms. No source (a stat of one path) — a parameter. */
export const STAT_MS = 0.3;

/** FileRefClose's own cost, 0.1 ms. No source — a parameter. */
export const CLOSE_MS = 0.1;

/** ReadDir's own cost, 0.5 ms, plus READDIR_ENTRY_MS per name. No source — parameters. */
export const READDIR_MS = 0.5;
export const READDIR_ENTRY_MS = 0.005;

/** The `real` profile's afcd: the constants above. */
export const REAL_AFCD: Readonly<AfcdTiming> = Object.freeze({
  workers: AFCD_WORKERS,
  requestMs: REQUEST_MS,
  openMs: OPEN_MS,
  statMs: STAT_MS,
  readdirMs: READDIR_MS,
  readdirEntryMs: READDIR_ENTRY_MS,
  readMs: READ_MS,
  readBytesPerSecond: READ_BYTES_PER_SECOND,
  writeMs: WRITE_MS,
  writeBytesPerSecond: WRITE_BYTES_PER_SECOND,
  closeMs: CLOSE_MS,
});

/** The afcd timing of a device profile ('real'), undefined for profiles without one ('usb2', 'none'). */
export function afcdProfile(name: string): AfcdTiming | undefined {
  return name === 'real' ? { ...REAL_AFCD } : undefined;
}

/** Size of the pieces a READ reply leaves in (the device reads and sends in pieces; the link slices alike). */
export const PIECE_BYTES = 64 * 1024;
/** Largest credit a late reply gives its connection, ms (a stalled event loop must not turn into a burst). */
const MAX_CREDIT_MS = 20;

/** The schedule of one request. */
export interface AfcdPlan {
  /** When afcd starts on it and when its fixed part ends (ms, the model's clock). */
  start: number;
  fixedEnd: number;
  /** When the last byte of the reply leaves. */
  end: number;
  /** READ data rate, bytes per ms (0 for replies without streamed data). */
  bytesPerMs: number;
}

/** Per-connection state of the model. */
export interface AfcdConnectionState {
  /** Planned end of the connection's previous request. */
  lastEnd: number;
  /** How late (ms) the previous reply actually left; the next request may start that much earlier. */
  credit: number;
}

function checkTiming(t: AfcdTiming): void {
  for (const [k, v] of Object.entries(t)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`afcd timing ${k} must be a finite number >= 0`);
  }
  if (!Number.isInteger(t.workers) || t.workers < 1) throw new InvalidArgumentError('afcd timing workers must be an integer >= 1');
  if (!(t.readBytesPerSecond > 0) || !(t.writeBytesPerSecond > 0)) throw new InvalidArgumentError('afcd byte rates must be > 0');
}

/**
 * One device's afcd: the workers shared by all its AFC connections. {@link AfcdModel.pacer} gives each connection
 * its pacer; {@link AfcdModel.plan} is the pure arithmetic (exported for tests).
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for negative, non-finite or zero-rate parameters.
 */
export class AfcdModel {
  readonly timing: Readonly<AfcdTiming>;
  readonly #free: number[];
  readonly #now: () => number;

  constructor(timing: AfcdTiming, now: () => number = () => performance.now()) {
    checkTiming(timing);
    this.timing = Object.freeze({ ...timing });
    this.#free = Array.from({ length: timing.workers }, () => -Infinity);
    this.#now = now;
  }

  /** Fixed cost (ms) of a request, before any streamed READ data. */
  fixedMs(req: Pick<AfcServedRequest, 'operation' | 'requestDataBytes' | 'items'>): number {
    const t = this.timing;
    switch (req.operation) {
      case AfcOpcode.FileRefOpen:
        return t.requestMs + t.openMs;
      case AfcOpcode.GetFileInfo:
        return t.requestMs + t.statMs;
      case AfcOpcode.ReadDir:
        return t.requestMs + t.readdirMs + (req.items ?? 0) * t.readdirEntryMs;
      case AfcOpcode.FileRefRead:
        return t.requestMs + t.readMs;
      case AfcOpcode.FileRefWrite:
        return t.requestMs + t.writeMs + (req.requestDataBytes / t.writeBytesPerSecond) * 1000;
      case AfcOpcode.FileRefClose:
        return t.requestMs + t.closeMs;
      default:
        return t.requestMs;
    }
  }

  /**
   * Plans request `req` of connection `conn` whose reply carries `dataBytes` of READ data (0 otherwise): takes the
   * earliest free worker and books it until the reply's last byte leaves; updates `conn`.
   */
  plan(conn: AfcdConnectionState, req: AfcServedRequest, dataBytes: number): AfcdPlan {
    const ready = Math.max(req.arrivedAt - conn.credit, conn.lastEnd);
    conn.credit = 0;
    let w = 0;
    for (let i = 1; i < this.#free.length; i++) if (this.#free[i]! < this.#free[w]!) w = i;
    const start = Math.max(ready, this.#free[w]!);
    const fixedEnd = start + this.fixedMs(req);
    const streamed = req.operation === AfcOpcode.FileRefRead ? dataBytes : 0;
    const bytesPerMs = this.timing.readBytesPerSecond / 1000;
    const end = fixedEnd + (streamed > 0 ? streamed / bytesPerMs : 0);
    this.#free[w] = end;
    conn.lastEnd = end;
    return { start, fixedEnd, end, bytesPerMs: streamed > 0 ? bytesPerMs : 0 };
  }

  /** A pacer for one AFC connection (give each `serveAfc` its own). */
  pacer(): AfcServicePacer {
    return new AfcdPacer(this, this.#now);
  }
}

/** Splits a reply into pieces with their due times: the header goes with the first piece of data. */
export function replyPieces(reply: Buffer[], plan: AfcdPlan): { due: number; bufs: Buffer[] }[] {
  if (plan.bytesPerMs === 0 || reply.length < 2) return [{ due: plan.end, bufs: reply }];
  const [header, ...body] = reply;
  const out: { due: number; bufs: Buffer[] }[] = [];
  let sent = 0;
  let cur: Buffer[] = [header!];
  let curBytes = 0;
  for (const b of body) {
    for (let off = 0; off < b.length; ) {
      const n = Math.min(PIECE_BYTES - curBytes, b.length - off);
      cur.push(b.subarray(off, off + n));
      curBytes += n;
      off += n;
      if (curBytes === PIECE_BYTES) {
        sent += curBytes;
        out.push({ due: plan.fixedEnd + sent / plan.bytesPerMs, bufs: cur });
        cur = [];
        curBytes = 0;
      }
    }
  }
  if (curBytes > 0 || out.length === 0) {
    sent += curBytes;
    out.push({ due: plan.fixedEnd + sent / plan.bytesPerMs, bufs: cur });
  }
  return out;
}

class AfcdPacer implements AfcServicePacer {
  readonly #model: AfcdModel;
  readonly #now: () => number;
  readonly #conn: AfcdConnectionState = { lastEnd: -Infinity, credit: 0 };

  constructor(model: AfcdModel, now: () => number) {
    this.#model = model;
    this.#now = now;
  }

  async serve(req: AfcServedRequest, reply: Buffer[], send: (pieces: Buffer[]) => boolean): Promise<boolean> {
    let data = 0;
    for (let i = 1; i < reply.length; i++) data += reply[i]!.length;
    const plan = this.#model.plan(this.#conn, req, data);
    let ok = true;
    let lastDue = plan.end;
    for (const p of replyPieces(reply, plan)) {
      const wait = p.due - this.#now();
      if (wait > 0) await new Promise<void>((r) => setTimeout(r, wait));
      ok = send(p.bufs);
      lastDue = p.due;
    }
    this.#conn.credit = Math.min(MAX_CREDIT_MS, Math.max(0, this.#now() - lastDue));
    return ok;
  }
}

/** The most one READ may ask of the emulator's afcd (AfcServerOptions.maxRead's default), bytes. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

/**
 * The fastest any client could read a tree from a device with this afcd, bytes per second: each file costs at least
 * an OPEN, one READ per {@link MAX_READ_BYTES} plus its bytes at the read ceiling, and a CLOSE; each folder one
 * READDIR of its entries; nothing else (no stat, no round trip, no bus, no host cost — each of those only lowers
 * it). The work spreads over the device's `workers`. `fileSizes`: every file's size; `folderEntries`: every folder's
 * entry count. A bound for reading benchmark results (what "N× a peer" can mean on this profile), not a prediction.
 */
export function afcdReadBound(t: AfcdTiming, fileSizes: readonly number[], folderEntries: readonly number[]): number {
  let ms = 0;
  let bytes = 0;
  for (const size of fileSizes) {
    const reads = Math.max(1, Math.ceil(size / MAX_READ_BYTES));
    ms += t.requestMs + t.openMs + reads * (t.requestMs + t.readMs) + (size / t.readBytesPerSecond) * 1000 + t.requestMs + t.closeMs;
    bytes += size;
  }
  for (const n of folderEntries) ms += t.requestMs + t.readdirMs + n * t.readdirEntryMs;
  return ms === 0 ? Infinity : bytes / (ms / 1000 / t.workers);
}
