/**
 * Device side of AFC backed by a real folder: what com.apple.afc does on an iPhone, for the virtual
 * iPhone and for tests. Requests on one connection are served strictly in order (clients that keep
 * several READs in flight on one handle rely on that); replies are laid out as Apple's device does
 * (STATUS / FILE_OPEN_RES / TELL_RES with this = entire = 48, DATA with this = 40 and the bytes after the
 * header). Malformed framing (bad magic, lengths over the caps) closes that connection only.
 */
import * as fsCb from 'node:fs';
import * as fs from 'node:fs/promises';
import { constants as C } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { IDeviceError } from '../core/errors.ts';
import {
  AfcDecoder,
  bodyI64,
  bodyU64,
  encodeDataReplyHeader,
  encodeKeyValues,
  encodeNulList,
  encodeOpenResultReply,
  encodeStatusReply,
  encodeTellResultReply,
  parseNulList,
  type AfcHeader,
} from './codec.ts';
import { AfcLinkType, AfcOpcode, AfcStatus } from './protocol.ts';
import { fileInfoSync, LockTable, PathJail, StatusReply, statusOf } from './server-fs.ts';
import type { AfcServicePacer } from './server-pacer.ts';

export type { AfcServedRequest, AfcServicePacer } from './server-pacer.ts';

const readFd = promisify(fsCb.read);
const writevFd = promisify(fsCb.writev);
const fstatFd = promisify(fsCb.fstat);
const ftruncateFd = promisify(fsCb.ftruncate);
const closeFd = promisify(fsCb.close);
const openFd = promisify(fsCb.open);

/** Options of {@link serveAfc}. */
export interface AfcServerOptions {
  /** Folder served as the AFC root ('/'). */
  root: string;
  /** GetDeviceInfo Model. Default 'iPhone10,3'. */
  model?: string;
  /** Most bytes one READ answers (larger requests get a short read, as a device may do). Default: no limit below maxRead. */
  readChunkLimit?: number;
  /** READ requests above this get STATUS TOO_MUCH_DATA (13) instead of an allocation. Default 16 MiB. */
  maxRead?: number;
  /** Largest WRITE data area accepted; a bigger packet closes the connection. Default 32 MiB. */
  maxWrite?: number;
  /**
   * Test/emulator hooks to inject hostile names or file info: `readdir` gets the AFC path as sent and the full
   * listing (starting with '.' and '..') and returns what to send; `stat` gets the GetFileInfo dictionary and
   * returns what to send (keys in insertion order).
   */
  hooks?: {
    readdir?(path: string, names: string[]): string[];
    stat?(path: string, info: Record<string, string>): Record<string, string>;
  };
  /** Called once when the connection is closed because of malformed input (ERR_PROTOCOL / ERR_PROTOCOL_TOO_LARGE). */
  onError?(err: IDeviceError): void;
  /**
   * Device timing (the emulator's `real` profile, src/virtual-iphone/afcd-model.ts): each reply is handed to the
   * pacer, which writes it (in pieces) when the modelled device would. Default: replies leave as soon as served.
   */
  pacer?: AfcServicePacer;
}

/** Handle returned by {@link serveAfc}. */
export interface AfcServerHandle {
  /** Closes the connection and every open file. */
  close(): void;
  /** Resolves when the connection has ended and every file is closed. */
  readonly done: Promise<void>;
}

interface Request {
  header: AfcHeader;
  args: Buffer;
  data: Buffer[];
  dataLength: number;
  arrivedAt: number;
  items?: number;
}

interface OpenFile {
  fd: number;
  path: string;
  pos: number;
  append: boolean;
}

/** READs up to this size are served without an fstat first (see #read). */
const SMALL_READ = 1024 * 1024;

const OPEN_FLAGS: Record<number, number> = {
  1: C.O_RDONLY,
  2: C.O_RDWR | C.O_CREAT,
  3: C.O_WRONLY | C.O_CREAT | C.O_TRUNC,
  4: C.O_RDWR | C.O_CREAT | C.O_TRUNC,
  5: C.O_WRONLY | C.O_APPEND | C.O_CREAT,
  6: C.O_RDWR | C.O_APPEND | C.O_CREAT,
};


/** Text of the path argument: up to the first NUL (a missing NUL is tolerated). */
function pathArg(args: Buffer, offset: number): string {
  const list = parseNulList(args.subarray(offset));
  if (list.length === 0 || list[0] === '') throw new StatusReply(AfcStatus.INVALID_ARG);
  return list[0]!;
}

function u64Arg(args: Buffer, offset: number): number {
  try {
    return bodyU64(args, offset, 'argument');
  } catch {
    throw new StatusReply(AfcStatus.INVALID_ARG);
  }
}

/**
 * Serves AFC on `stream` from the folder `opts.root`. Implements ReadDir, GetFileInfo, GetDeviceInfo,
 * FileRefOpen (modes 1-6)/Read/Write/Seek/Tell/SetFileSize/Lock/Close, TruncateFile, MakeDir (with parents),
 * RemovePath, RemovePathAndContents, RenamePath, MakeLink, SetModTime; other operations answer
 * UNKNOWN_PACKET_TYPE (6). Paths are confined to the root. Never throws; bad framing → onError + close.
 */
export function serveAfc(stream: Duplex, opts: AfcServerOptions): AfcServerHandle {
  return new AfcServerConnection(stream, opts).handle;
}

class AfcServerConnection {
  readonly handle: AfcServerHandle;
  readonly #s: Duplex;
  readonly #o: AfcServerOptions;
  readonly #jail: PathJail;
  readonly #decoder: AfcDecoder;
  readonly #files = new Map<number, OpenFile>();
  readonly #locks = new LockTable();
  readonly #queue: Request[] = [];
  #current: Request | undefined;
  #queuedBytes = 0;
  #nextHandle = 1;
  #busy = false;
  #ended = false;
  #closed = false;
  #resolveDone!: () => void;

  constructor(stream: Duplex, opts: AfcServerOptions) {
    this.#s = stream;
    this.#o = opts;
    this.#jail = new PathJail(opts.root);
    this.#decoder = new AfcDecoder({ maxHeaderPayload: 64 * 1024, maxData: opts.maxWrite ?? 32 * 1024 * 1024 });
    const done = new Promise<void>((r) => (this.#resolveDone = r));
    this.handle = { close: () => this.#close(), done };
    stream.on('data', (c: Buffer) => this.#onData(c));
    stream.on('end', () => {
      this.#ended = true;
      this.#kick();
    });
    stream.on('error', () => this.#close());
    stream.on('close', () => this.#close());
    stream.resume(); // the stream may arrive explicitly paused
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#decoder.push(chunk);
    try {
      for (;;) {
        const ev = this.#decoder.next();
        if (!ev) break;
        if (ev.kind === 'header') this.#current = { header: ev.header, args: ev.headerPayload, data: [], dataLength: 0, arrivedAt: 0 };
        else if (ev.kind === 'data') {
          this.#current!.data.push(ev.chunk);
          this.#current!.dataLength += ev.chunk.length;
        } else {
          const r = this.#current!;
          this.#current = undefined;
          if (this.#o.pacer) r.arrivedAt = performance.now();
          this.#queue.push(r);
          this.#queuedBytes += r.dataLength + r.args.length;
        }
      }
    } catch (e) {
      if (e instanceof IDeviceError) this.#o.onError?.(e);
      this.#close();
      return;
    }
    // Bound memory: stop reading while many requests wait to be served.
    if (this.#queue.length > 256 || this.#queuedBytes > 64 * 1024 * 1024) this.#s.pause();
    this.#kick();
  }

  #kick(): void {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    // Waiting for 'drain' overlaps with serving the next request (one reply of read-ahead), so the file
    // system read of the next READ happens while the previous reply is still leaving.
    let drained: Promise<void> | undefined;
    while (this.#queue.length > 0 && !this.#closed) {
      const r = this.#queue.shift()!;
      this.#queuedBytes -= r.dataLength + r.args.length;
      if (this.#s.isPaused() && this.#queue.length < 64 && this.#queuedBytes < 16 * 1024 * 1024) this.#s.resume();
      let reply: Buffer[];
      try {
        reply = await this.#dispatch(r);
      } catch (e) {
        reply = [encodeStatusReply(r.header.packetNum, statusOf(e))];
      }
      if (drained) await drained;
      drained = undefined;
      if (this.#closed) break;
      const pacer = this.#o.pacer;
      const ok = pacer
        ? await pacer.serve(
            { operation: r.header.operation, arrivedAt: r.arrivedAt, requestDataBytes: r.dataLength, ...(r.items !== undefined ? { items: r.items } : {}) },
            reply,
            (pieces) => this.#write(pieces),
          )
        : this.#write(reply);
      if (this.#closed) break;
      if (!ok) drained = new Promise<void>((res) => this.#waitDrain(res));
    }
    if (drained) await drained;
    this.#busy = false;
    if (this.#queue.length > 0 && !this.#closed) return this.#kick(); // arrived while the last drain was awaited
    if (this.#ended && this.#queue.length === 0 && !this.#closed) {
      this.#s.end();
      void this.#cleanup();
    }
  }

  /** Writes pieces of a reply under one cork; the last write()'s result (false after close). */
  #write(pieces: Buffer[]): boolean {
    if (this.#closed) return false;
    const s = this.#s;
    s.cork();
    let ok = true;
    for (const b of pieces) ok = s.write(b);
    s.uncork();
    return ok;
  }

  #waitDrain(res: () => void): void {
    const done = (): void => {
      this.#s.off('drain', done);
      this.#s.off('close', done);
      res();
    };
    this.#s.on('drain', done);
    this.#s.on('close', done);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    if (!this.#s.destroyed) this.#s.destroy();
    void this.#cleanup();
  }

  async #cleanup(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    this.#locks.clear();
    await Promise.all(files.map((f) => closeFd(f.fd).catch(() => undefined)));
    this.#resolveDone();
  }

  #status(r: Request, status = 0): Buffer[] {
    return [encodeStatusReply(r.header.packetNum, status)];
  }

  #data(r: Request, body: Buffer): Buffer[] {
    return body.length > 0 ? [encodeDataReplyHeader(r.header.packetNum, body.length), body] : [encodeDataReplyHeader(r.header.packetNum, 0)];
  }

  #file(args: Buffer): [number, OpenFile] {
    const h = u64Arg(args, 0);
    const f = this.#files.get(h);
    if (!f) throw new StatusReply(AfcStatus.INVALID_ARG);
    return [h, f];
  }

  async #dispatch(r: Request): Promise<Buffer[]> {
    const a = r.args;
    switch (r.header.operation) {
      case AfcOpcode.ReadDir: {
        const p = pathArg(a, 0);
        const host = await this.#jail.resolve(p, 'follow');
        let names = ['.', '..', ...(await fs.readdir(host))];
        if (this.#o.hooks?.readdir) names = this.#o.hooks.readdir(p, names);
        r.items = names.length;
        return this.#data(r, encodeNulList(names));
      }
      case AfcOpcode.GetFileInfo: {
        const p = pathArg(a, 0);
        let info = fileInfoSync(this.#jail.resolveNoFollowSync(p));
        if (this.#o.hooks?.stat) info = this.#o.hooks.stat(p, info);
        return this.#data(r, encodeKeyValues(info));
      }
      case AfcOpcode.GetDeviceInfo: {
        const st = await fs.statfs(await this.#jail.rootReal());
        return this.#data(
          r,
          encodeKeyValues({
            Model: this.#o.model ?? 'iPhone10,3',
            FSTotalBytes: String(st.blocks * st.bsize),
            FSFreeBytes: String(st.bavail * st.bsize),
            FSBlockSize: String(st.bsize),
          }),
        );
      }
      case AfcOpcode.FileRefOpen: {
        const mode = u64Arg(a, 0);
        const flags = OPEN_FLAGS[mode];
        if (flags === undefined) throw new StatusReply(AfcStatus.INVALID_ARG);
        const host = await this.#jail.resolve(pathArg(a, 8), 'follow');
        const fd = await openFd(host, flags, 0o644);
        const h = this.#nextHandle++;
        this.#files.set(h, { fd, path: host, pos: 0, append: mode >= 5 });
        return [encodeOpenResultReply(r.header.packetNum, h)];
      }
      case AfcOpcode.FileRefRead:
        return this.#read(r);
      case AfcOpcode.FileRefWrite: {
        const [, f] = this.#file(a);
        if (r.dataLength > 0) {
          const { bytesWritten } = await writevFd(f.fd, r.data, f.append ? undefined : f.pos);
          f.pos = f.append ? (await fstatFd(f.fd)).size : f.pos + bytesWritten;
        }
        return this.#status(r);
      }
      case AfcOpcode.FileRefSeek: {
        const [, f] = this.#file(a);
        const whence = u64Arg(a, 8);
        const off = a.length >= 24 ? bodyI64(a, 16, 'offset') : 0n;
        let base: bigint;
        if (whence === 0) base = 0n;
        else if (whence === 1) base = BigInt(f.pos);
        else if (whence === 2) base = BigInt((await fstatFd(f.fd)).size);
        else throw new StatusReply(AfcStatus.INVALID_ARG);
        const pos = base + off;
        if (pos < 0n || pos > BigInt(Number.MAX_SAFE_INTEGER)) throw new StatusReply(AfcStatus.INVALID_ARG);
        f.pos = Number(pos);
        return this.#status(r);
      }
      case AfcOpcode.FileRefTell: {
        const [, f] = this.#file(a);
        return [encodeTellResultReply(r.header.packetNum, f.pos)];
      }
      case AfcOpcode.FileRefSetFileSize: {
        const [, f] = this.#file(a);
        await ftruncateFd(f.fd, u64Arg(a, 8));
        return this.#status(r);
      }
      case AfcOpcode.FileRefLock: {
        const [h, f] = this.#file(a);
        this.#locks.lock(h, f.path, u64Arg(a, 8));
        return this.#status(r);
      }
      case AfcOpcode.FileRefClose: {
        const [h, f] = this.#file(a);
        this.#files.delete(h);
        this.#locks.unlock(h, f.path);
        await closeFd(f.fd);
        return this.#status(r);
      }
      case AfcOpcode.TruncateFile:
        await fs.truncate(await this.#jail.resolve(pathArg(a, 8), 'follow'), u64Arg(a, 0));
        return this.#status(r);
      case AfcOpcode.MakeDir:
        await fs.mkdir(await this.#jail.resolve(pathArg(a, 0), 'create-parents'), { recursive: true });
        return this.#status(r);
      case AfcOpcode.RemovePath: {
        const host = await this.#notRoot(pathArg(a, 0));
        if ((await fs.lstat(host)).isDirectory()) await fs.rmdir(host);
        else await fs.unlink(host);
        return this.#status(r);
      }
      case AfcOpcode.RemovePathAndContents: {
        const host = await this.#notRoot(pathArg(a, 0));
        await fs.lstat(host);
        await fs.rm(host, { recursive: true });
        return this.#status(r);
      }
      case AfcOpcode.RenamePath: {
        const [from, to] = parseNulList(a);
        if (!from || !to) throw new StatusReply(AfcStatus.INVALID_ARG);
        await fs.rename(await this.#notRoot(from), await this.#notRoot(to));
        return this.#status(r);
      }
      case AfcOpcode.MakeLink: {
        const type = u64Arg(a, 0);
        const [target, link] = parseNulList(a.subarray(8));
        if (!target || !link) throw new StatusReply(AfcStatus.INVALID_ARG);
        const linkHost = await this.#notRoot(link);
        if (type === AfcLinkType.HARDLINK) await fs.link(await this.#notRoot(target), linkHost);
        else if (type === AfcLinkType.SYMLINK) await fs.symlink(target, linkHost);
        else throw new StatusReply(AfcStatus.INVALID_ARG);
        return this.#status(r);
      }
      case AfcOpcode.SetModTime: {
        const ns = a.length >= 8 ? a.readBigUInt64LE(0) : 0n;
        const host = await this.#jail.resolve(pathArg(a, 8), 'follow');
        const st = await fs.stat(host);
        await fs.utimes(host, st.atime, Number(ns / 1000n) / 1e6);
        return this.#status(r);
      }
      default:
        return this.#status(r, AfcStatus.UNKNOWN_PACKET_TYPE);
    }
  }

  async #notRoot(p: string): Promise<string> {
    if (PathJail.normalise(p).length === 0) throw new StatusReply(AfcStatus.PERM_DENIED);
    return this.#jail.resolve(p, 'nofollow');
  }

  async #read(r: Request): Promise<Buffer[]> {
    const [, f] = this.#file(r.args);
    const size = u64Arg(r.args, 8);
    if (size > (this.#o.maxRead ?? 16 * 1024 * 1024)) throw new StatusReply(AfcStatus.TOO_MUCH_DATA);
    const want = Math.min(size, this.#o.readChunkLimit ?? size);
    // Up to 1 MiB the buffer is the size asked for (a reader that knows the size asks size + 1); above, only what the
    // file can still give (fstat) — never a 16 MiB buffer for a small file. The read lands straight in the reply
    // buffer; a directory answers EISDIR → OBJECT_IS_DIR.
    let len = want;
    if (want > SMALL_READ) {
      const st = await fstatFd(f.fd);
      if (st.isDirectory()) throw new StatusReply(AfcStatus.OBJECT_IS_DIR);
      len = Math.max(0, Math.min(want, st.size - f.pos));
    }
    if (len === 0) return this.#data(r, Buffer.alloc(0));
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await readFd(f.fd, buf, 0, len, f.pos);
    f.pos += bytesRead;
    return this.#data(r, bytesRead === len ? buf : buf.subarray(0, bytesRead));
  }
}
