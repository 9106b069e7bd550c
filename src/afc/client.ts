/**
 * AfcClient: typed AFC operations over one Duplex (service tier). Every method takes a last CallOpts and
 * rejects with AfcError (the device's non-zero status, codes ERR_AFC_*), AfcBadReplyError (ERR_AFC_BAD_REPLY:
 * a well-framed reply whose content is unusable, e.g. `st_size: -1`; only that call fails, the connection stays
 * usable), ProtocolError (ERR_PROTOCOL, ERR_PROTOCOL_TOO_LARGE: broken framing; the connection is closed),
 * ClosedError (ERR_CLOSED), TimeoutError, AbortError, or InvalidArgumentError (ERR_INVALID_ARG: bad argument,
 * e.g. a path containing NUL).
 */
import { posix } from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import { InvalidArgumentError, ProtocolError } from '../core/errors.ts';
import { bodyU64, parseKeyValues, parseNulList, type AfcPacketFields } from './codec.ts';
import { AfcConnection, type AfcReply } from './connection.ts';
import { AfcBadReplyError, AfcError, AfcTooManyEntriesError } from './errors.ts';
import { toDeviceInfo, toFileInfo, type AfcDeviceInfo, type AfcFileInfo } from './file-info.ts';
import { AfcLinkType, AfcOpcode, AfcWhence, OPEN_MODE_BY_NAME, opcodeName, type AfcLockOp, type AfcOpenMode } from './protocol.ts';
import { AfcReadStream, type AfcReadStreamOptions } from './read-stream.ts';
import type { AfcStreamingReadOpts } from './file-io.ts';
import { pullPath, pushPath, type TransferOptions, type TransferResult } from './transfer.ts';
import { AfcWriteStream, type AfcWriteStreamOptions } from './write-stream.ts';

export type { AfcFileInfo, AfcDeviceInfo } from './file-info.ts';

/** Options of {@link AfcClient.readdir}. */
export interface ReaddirOpts extends CallOpts {
  /** Most names accepted in the listing: ERR_AFC_TOO_MANY_ENTRIES above, checked while parsing. Default: no cap. */
  maxEntries?: number;
}

/** Client options. */
export interface AfcClientOptions {
  /** Requests in flight on the connection (window). Default 16. */
  maxInFlight?: number;
  /** Largest reply data accepted (ERR_PROTOCOL_TOO_LARGE above). Default 64 MiB. */
  maxReplyData?: number;
}

/** Largest single WRITE packet the client sends (bigger writes are chunked). */
const WRITE_CHUNK = 4 * 1024 * 1024;

/** A single path component (no separators, not '.' or '..'). */
function isPlainName(n: string): boolean {
  return n !== '' && n !== '.' && n !== '..' && !n.includes('/');
}

function checkPath(p: string): string {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) throw new InvalidArgumentError(`bad AFC path: ${JSON.stringify(p)}`);
  return p;
}

/** Client for one AFC connection (com.apple.afc, house_arrest, crashreportcopymobile, or our serveAfc). */
export class AfcClient {
  readonly #conn: AfcConnection;

  constructor(stream: Duplex, opts: AfcClientOptions = {}) {
    this.#conn = new AfcConnection(stream, opts);
  }

  /** Bytes of received traffic that were copied (headers spanning socket chunks, reassembled replies). */
  get bytesCopied(): number {
    return this.#conn.bytesCopied;
  }

  /** The underlying connection (for tools that send raw requests). */
  get connection(): AfcConnection {
    return this.#conn;
  }

  /**
   * GetFileInfo (lstat: symlinks are not followed). Throws ERR_AFC_OBJECT_NOT_FOUND for a missing path,
   * ERR_AFC_BAD_REPLY for an unusable dictionary (odd key/value list, a number field that is not a number).
   */
  async stat(path: string, o?: CallOpts): Promise<AfcFileInfo> {
    const body = await this.#data(AfcOpcode.GetFileInfo, { strings: [checkPath(path)] }, path, o);
    return this.#parse(AfcOpcode.GetFileInfo, path, () => toFileInfo(parseKeyValues(body)));
  }

  /** ReadDir without '.' and '..'. Throws ERR_AFC_TOO_MANY_ENTRIES past `o.maxEntries` names (counting '.' and '..'). */
  async readdir(path: string, o?: ReaddirOpts): Promise<string[]> {
    const body = await this.#data(AfcOpcode.ReadDir, { strings: [checkPath(path)] }, path, o);
    const max = o?.maxEntries;
    let names: string[];
    try {
      names = parseNulList(body, max === undefined ? Infinity : max + 2); // room for '.' and '..'
    } catch (e) {
      if (e instanceof AfcTooManyEntriesError && max !== undefined) throw new AfcTooManyEntriesError(max, path);
      throw e;
    }
    return names.filter((n) => n !== '.' && n !== '..');
  }

  /**
   * Walks the tree under `root` depth-first (pre-order, not following symlinks), stat-ing each directory's
   * entries pipelined. Entries that vanish between ReadDir and GetFileInfo are skipped, and so are names a
   * device must never send ('', '.', '..', anything containing '/'), so a hostile listing cannot point outside `root`.
   */
  async *walk(root: string, o?: CallOpts): AsyncIterable<{ path: string; info: AfcFileInfo }> {
    const stack = [checkPath(root)];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const paths = (await this.readdir(dir, o)).filter(isPlainName).map((n) => posix.join(dir, n));
      const results = await Promise.allSettled(paths.map((p) => this.stat(p, o)));
      const subdirs: string[] = [];
      for (let i = 0; i < paths.length; i++) {
        const r = results[i]!;
        if (r.status === 'rejected') {
          if (r.reason instanceof AfcError && r.reason.code === 'ERR_AFC_OBJECT_NOT_FOUND') continue;
          throw r.reason;
        }
        yield { path: paths[i]!, info: r.value };
        if (r.value.type === 'dir') subdirs.push(paths[i]!);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }

  /** GetDeviceInfo: model and file system sizes. */
  async deviceInfo(o?: CallOpts): Promise<AfcDeviceInfo> {
    const body = await this.#data(AfcOpcode.GetDeviceInfo, {}, undefined, o);
    return this.#parse(AfcOpcode.GetDeviceInfo, undefined, () => toDeviceInfo(parseKeyValues(body)));
  }

  /** FileRefOpen; resolves with the handle. `mode` is 1-6 or 'r' | 'r+' | 'w' | 'w+' | 'a' | 'a+'. */
  async open(path: string, mode: AfcOpenMode | string = 'r', o?: CallOpts): Promise<number> {
    const m = typeof mode === 'string' ? OPEN_MODE_BY_NAME[mode] : mode;
    if (m === undefined || !Number.isInteger(m) || m < 1 || m > 6) throw new InvalidArgumentError(`bad open mode ${String(mode)}`);
    const r = await this.#call(AfcOpcode.FileRefOpen, { u64: [m], strings: [checkPath(path)] }, o);
    return this.#result(r, AfcOpcode.FileRefOpen, AfcOpcode.FileRefOpenResult, path);
  }

  /** FileRefRead: up to `size` bytes from the handle's position (empty buffer at EOF). */
  async read(handle: number, size: number, o?: CallOpts): Promise<Buffer> {
    return this.#data(AfcOpcode.FileRefRead, { u64: [handle, size] }, undefined, o);
  }

  /**
   * FileRefRead whose DATA bytes go to `onData` as views of socket chunks (no buffering, no copy).
   * Resolves with the number of bytes (0 = EOF).
   */
  async readStreaming(handle: number, size: number, onData: (chunk: Buffer) => void, o?: AfcStreamingReadOpts): Promise<number> {
    const r = await this.#conn.request(AfcOpcode.FileRefRead, { u64: [handle, size] }, { ...o, onData });
    if (r.header.operation === AfcOpcode.Data) {
      for (const c of r.content) onData(c); // only when the connection could not stream (never for DATA)
      return r.contentLength;
    }
    this.#status(r, AfcOpcode.FileRefRead);
    return 0;
  }

  /** FileRefWrite; data over 4 MiB is sent as several WRITE packets (pipelined). */
  async write(handle: number, data: Buffer | readonly Buffer[], o?: CallOpts): Promise<void> {
    const pieces = Buffer.isBuffer(data) ? [data] : data;
    const sends: Promise<void>[] = [];
    for (const piece of pieces) {
      for (let off = 0; off < piece.length; off += WRITE_CHUNK) sends.push(this.writePacket(handle, piece.subarray(off, off + WRITE_CHUNK), o));
    }
    if (sends.length === 0) sends.push(this.writePacket(handle, Buffer.alloc(0), o));
    await Promise.all(sends);
  }

  /** One FileRefWrite packet carrying `data` (one buffer or pieces of one area, never copied). */
  async writePacket(handle: number, data: Buffer | readonly Buffer[], o?: CallOpts): Promise<void> {
    this.#status(await this.#call(AfcOpcode.FileRefWrite, { u64: [handle], data }, o), AfcOpcode.FileRefWrite);
  }

  /** FileRefSeek; `whence` 0 SET, 1 CUR, 2 END. */
  async seek(handle: number, offset: number, whence: number = AfcWhence.SET, o?: CallOpts): Promise<void> {
    if (!Number.isSafeInteger(offset)) throw new InvalidArgumentError(`bad seek offset ${offset}`);
    this.#status(await this.#call(AfcOpcode.FileRefSeek, { u64: [handle, whence, offset] }, o), AfcOpcode.FileRefSeek);
  }

  /** FileRefTell: the handle's position. */
  async tell(handle: number, o?: CallOpts): Promise<number> {
    return this.#result(await this.#call(AfcOpcode.FileRefTell, { u64: [handle] }, o), AfcOpcode.FileRefTell, AfcOpcode.FileRefTellResult);
  }

  /** TruncateFile: sets the size of the file at `path`. */
  async truncate(path: string, size: number, o?: CallOpts): Promise<void> {
    await this.#statusCall(AfcOpcode.TruncateFile, { u64: [size], strings: [checkPath(path)] }, path, o);
  }

  /** FileRefSetFileSize: sets the size of an open file. */
  async setFileSize(handle: number, size: number, o?: CallOpts): Promise<void> {
    this.#status(await this.#call(AfcOpcode.FileRefSetFileSize, { u64: [handle, size] }, o), AfcOpcode.FileRefSetFileSize);
  }

  /** FileRefLock: 5 shared, 6 exclusive, 12 unlock (all non-blocking; ERR_AFC_OP_WOULD_BLOCK when held). */
  async lock(handle: number, op: AfcLockOp, o?: CallOpts): Promise<void> {
    this.#status(await this.#call(AfcOpcode.FileRefLock, { u64: [handle, op] }, o), AfcOpcode.FileRefLock);
  }

  /** FileRefClose. */
  async closeFile(handle: number, o?: CallOpts): Promise<void> {
    this.#status(await this.#call(AfcOpcode.FileRefClose, { u64: [handle] }, o), AfcOpcode.FileRefClose);
  }

  /** MakeDir (creates parents, like the device). */
  async mkdir(path: string, o?: CallOpts): Promise<void> {
    await this.#statusCall(AfcOpcode.MakeDir, { strings: [checkPath(path)] }, path, o);
  }

  /** RemovePath: a file or an empty directory (non-empty → ERR_AFC_UNKNOWN_ERROR, status 1, as the device). */
  async remove(path: string, o?: CallOpts): Promise<void> {
    await this.#statusCall(AfcOpcode.RemovePath, { strings: [checkPath(path)] }, path, o);
  }

  /** RemovePathAndContents (recursive). */
  async removeAll(path: string, o?: CallOpts): Promise<void> {
    await this.#statusCall(AfcOpcode.RemovePathAndContents, { strings: [checkPath(path)] }, path, o);
  }

  /** RenamePath. */
  async rename(from: string, to: string, o?: CallOpts): Promise<void> {
    await this.#statusCall(AfcOpcode.RenamePath, { strings: [checkPath(from), checkPath(to)] }, from, o);
  }

  /** MakeLink: `linkPath` → `target`; 'symlink' (default) or 'hard'. */
  async link(target: string, linkPath: string, type: 'symlink' | 'hard' = 'symlink', o?: CallOpts): Promise<void> {
    const t = type === 'hard' ? AfcLinkType.HARDLINK : AfcLinkType.SYMLINK;
    await this.#statusCall(AfcOpcode.MakeLink, { u64: [t], strings: [checkPath(target), checkPath(linkPath)] }, linkPath, o);
  }

  /** SetModTime; `time` as a Date or nanoseconds since the epoch. */
  async setModTime(path: string, time: Date | bigint, o?: CallOpts): Promise<void> {
    const ns = typeof time === 'bigint' ? time : BigInt(time.getTime()) * 1_000_000n;
    if (ns < 0n) throw new InvalidArgumentError('modification time before 1970');
    await this.#statusCall(AfcOpcode.SetModTime, { u64: [ns], strings: [checkPath(path)] }, path, o);
  }

  /** A Readable of the file's bytes (views of socket chunks), several READs in flight, bounded memory. */
  createReadStream(path: string, opts?: AfcReadStreamOptions): Readable {
    return new AfcReadStream(this, checkPath(path), opts);
  }

  /** A Writable that sends chunked WRITE packets to `path` (opened with mode 'w' unless told otherwise). */
  createWriteStream(path: string, opts?: AfcWriteStreamOptions): Writable {
    return new AfcWriteStream(this, checkPath(path), opts);
  }

  /** Copies a remote file or tree to `local` (via `.part` files renamed when complete, mtimes kept). */
  pull(remote: string, local: string, opts?: TransferOptions): Promise<TransferResult> {
    return pullPath(this, checkPath(remote), local, opts);
  }

  /** Copies a local file or tree to `remote` (via `.part` files renamed when complete, mtimes kept). */
  push(local: string, remote: string, opts?: TransferOptions): Promise<TransferResult> {
    return pushPath(this, local, checkPath(remote), opts);
  }

  /** Closes the connection; pending calls reject with ERR_CLOSED. */
  close(): void {
    this.#conn.close();
  }

  /** `using afc = await connectAfc(dev)` closes the connection at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #call(op: number, fields: AfcPacketFields, o?: CallOpts): Promise<AfcReply> {
    return this.#conn.request(op, fields, o ?? {});
  }

  async #statusCall(op: number, fields: AfcPacketFields, path: string | undefined, o?: CallOpts): Promise<void> {
    this.#status(await this.#call(op, fields, o), op, path);
  }

  async #data(op: number, fields: AfcPacketFields, path: string | undefined, o?: CallOpts): Promise<Buffer> {
    const r = await this.#call(op, fields, o);
    if (r.header.operation === AfcOpcode.Data) return this.#flatten(r);
    this.#status(r, op, path);
    return Buffer.alloc(0); // STATUS 0 in place of DATA: empty content
  }

  /** Result u64 of an OpenResult / TellResult reply (placement-agnostic), or throws the STATUS. */
  #result(r: AfcReply, op: number, expected: number, path?: string): number {
    if (r.header.operation === expected) return this.#parse(op, path, () => bodyU64(this.#flatten(r), 0, opcodeName(expected)));
    this.#status(r, op, path);
    throw new AfcBadReplyError(op, `answered with STATUS 0 instead of ${opcodeName(expected)}`, path);
  }

  /** Accepts STATUS 0; throws AfcError for another status and ERR_AFC_BAD_REPLY for an unexpected operation or a short body. */
  #status(r: AfcReply, op: number, path?: string): void {
    if (r.header.operation !== AfcOpcode.Status) throw new AfcBadReplyError(op, `answered with ${opcodeName(r.header.operation)}`, path);
    const status = this.#parse(op, path, () => bodyU64(this.#flatten(r), 0, 'STATUS'));
    if (status !== 0) throw new AfcError(status, op, path);
  }

  /**
   * Runs a parser over one reply's content: its failures are that request's (ERR_AFC_BAD_REPLY with the
   * path), never the connection's.
   */
  #parse<T>(op: number, path: string | undefined, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof AfcBadReplyError) throw path !== undefined && e.path === undefined ? new AfcBadReplyError(e.opcode, e.reason, path, { cause: e }) : e;
      if (e instanceof ProtocolError) throw new AfcBadReplyError(op, e.reason, path, { cause: e });
      throw e;
    }
  }

  #flatten(r: AfcReply): Buffer {
    if (r.content.length === 1) return r.content[0]!;
    if (r.content.length === 0) return Buffer.alloc(0);
    this.#conn.countCopy(r.contentLength);
    return Buffer.concat(r.content, r.contentLength);
  }
}
