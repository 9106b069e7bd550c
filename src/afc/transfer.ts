/**
 * pull / push of files and trees. Files are written to `<name>.part` and renamed when complete; mtimes
 * are kept. Several files are in flight at once on the one connection (the request window pipelines
 * their open/read/close round trips), which is what makes thousands of small /DCIM files fast. A pull admits
 * files through an adaptive window (core/window.ts): it starts with 4 files, grows while the connection runs
 * dry, up to `concurrency`, and a byte budget bounds what the files in flight may have outstanding. A file
 * smaller than the READ size is read with one READ (OPEN, then READ + CLOSE together) and written whole; larger
 * files stream, written in 256 KiB batches ({@link LocalFileWriter}).
 */
import * as fsCb from 'node:fs';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, join, posix, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { CallOpts } from '../core/abort.ts';
import { ClosedError, InvalidArgumentError, ProtocolError } from '../core/errors.ts';
import { untilEnd } from '../core/stream-end.ts';
import { AdaptiveWindow, runWindowed } from '../core/window.ts';
import type { AfcFileIo, AfcTreeIo } from './file-io.ts';
import type { AfcFileInfo } from './file-info.ts';
import { AfcOpenMode } from './protocol.ts';

/** What pull/push need of a connection ({@link AfcClient} satisfies it). */
export type AfcTransferClient = AfcFileIo & AfcTreeIo;

/** Progress after each chunk. */
export interface TransferProgress {
  /** File being copied. */
  path: string;
  bytes: number;
  totalBytes: number;
  files: number;
  totalFiles: number;
}

/** Options of pull / push. */
export interface TransferOptions extends CallOpts {
  /** Files copied at once: for a pull the cap of the adaptive window (default 16), for a push the count (default 8). */
  concurrency?: number;
  /** Pull: bytes the files in flight may have outstanding (READs sent, not yet delivered). Default 16 MiB. */
  maxBytesInFlight?: number;
  /** READ / WRITE size. Default 1 MiB for reads (4 in flight), 4 MiB for writes. */
  chunkSize?: number;
  /** READs (or WRITEs) in flight per file. Default 4 for reads, 3 for writes. */
  maxInFlight?: number;
  onProgress?: (p: TransferProgress) => void;
}

/** What was copied. */
export interface TransferResult {
  files: number;
  dirs: number;
  links: number;
  bytes: number;
}

/** Pull defaults: READ size, READs in flight per file, cap of files in flight, byte budget of the window. */
const DEFAULT_READ_CHUNK = 1024 * 1024;
const DEFAULT_READS_IN_FLIGHT = 4;
const DEFAULT_PULL_FILES = 16;
const DEFAULT_PULL_BYTES = 16 * 1024 * 1024;

const openFd = promisify(fsCb.open);
const writevFd = promisify(fsCb.writev);
const futimesFd = promisify(fsCb.futimes);
const closeFd = promisify(fsCb.close);

/** What is left of `parts` after its first `n` bytes (a short writev). */
function after(parts: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of parts) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(n > 0 ? b.subarray(n) : b);
      n = 0;
    }
  }
  return out;
}

/**
 * Bytes of a streamed file gathered for one writev. 256 KiB: a thread-pool hop per 256 KiB instead of per 64 KiB
 * socket chunk, while larger writes cost the kernel more per byte (measured on Linux 6 / ext4: 1 MiB writes into
 * the page cache took 1.1–2.4 s/GB of system time, 64–256 KiB writes 0.25–0.37 s/GB).
 */
const WRITE_BATCH = 256 * 1024;

/** A sync write of a whole small file slower than this moves the rest of the pull to the thread pool. */
const SYNC_WRITE_SLOW_MS = 50;

/**
 * Writes the pulled files to the local disk: `<dst>.part` created, written with writev (a file that arrived whole in
 * one call, a streamed one in batches of {@link WRITE_BATCH}), its mtime set, closed, then renamed to `dst` — so a
 * file under its final name is always complete. A whole small file's five calls are made synchronously on the event
 * loop while that is cheap (a local disk: tens of µs each; a thread-pool round trip per call costs more CPU than the
 * call itself — wake-ups and context switches on a 2-core machine), and through the thread pool for the rest of the
 * pull once one file took over {@link SYNC_WRITE_SLOW_MS} (a slow or network DEST must not stall the event loop).
 */
export class LocalFileWriter {
  #sync: boolean;

  /** `sync: false` writes through the thread pool from the start. */
  constructor(opts: { sync?: boolean } = {}) {
    this.#sync = opts.sync ?? true;
  }

  /** Whether the next file is written synchronously. */
  get sync(): boolean {
    return this.#sync;
  }

  async write(dst: string, parts: Buffer[], t: Date): Promise<void> {
    const part = `${dst}.part`;
    if (this.#sync) {
      const t0 = performance.now();
      writeSync(part, parts, t);
      fsCb.renameSync(part, dst);
      if (performance.now() - t0 > SYNC_WRITE_SLOW_MS) this.#sync = false;
      return;
    }
    const fd = await openFd(part, 'w', 0o666);
    try {
      for (let rest = parts; rest.length > 0; ) rest = after(rest, (await writevFd(fd, rest)).bytesWritten);
      await futimesFd(fd, t, t);
    } finally {
      await closeFd(fd);
    }
    await fs.rename(part, dst);
  }

  /**
   * Writes a streamed file on the event loop: `<dst>.part` opened, each chunk written inside the read stream's sink
   * (so the chunk can be socket memory that is read into again next: no buffer per read, nothing queued), its mtime
   * set, closed, renamed to `dst`. `open` builds the stream around the sink it is given. A write slower than
   * {@link SYNC_WRITE_SLOW_MS} sends the following files through the thread pool ({@link stream}); this one goes on
   * (each write is one read's worth, ≤ 256 KiB). Rejects with the stream's error, the file system's, or ERR_CLOSED.
   */
  async streamSync(open: (sink: (chunk: Buffer) => void) => Readable, dst: string, t: Date): Promise<void> {
    const part = `${dst}.part`;
    const fd = fsCb.openSync(part, 'w', 0o666);
    try {
      const rs = open((c) => {
        const t0 = performance.now();
        for (let off = 0; off < c.length; ) off += fsCb.writeSync(fd, c, off, c.length - off);
        if (performance.now() - t0 > SYNC_WRITE_SLOW_MS) this.#sync = false;
      });
      await untilEnd(rs, 'the device file');
      fsCb.futimesSync(fd, t, t);
    } finally {
      fsCb.closeSync(fd);
    }
    fsCb.renameSync(part, dst);
  }

  /**
   * Writes the bytes of `rs` to `<dst>.part` in batches of {@link WRITE_BATCH}, each one writev through the thread
   * pool (in parallel with the socket reads: the copy into the page cache is most of a large file's CPU; `rs` is
   * paused while a write is behind), sets the mtime, closes, renames to `dst`. Rejects with `rs`'s error,
   * the file system's, or ERR_CLOSED when `rs` closed before its end; `rs` is destroyed on failure.
   */
  async stream(rs: Readable, dst: string, t: Date): Promise<void> {
    const part = `${dst}.part`;
    let fd: number | undefined;
    try {
      // listeners first (an error of `rs` while the file is being opened is this call's), then the open
      await new Promise<void>((resolve, reject) => {
        let pending: Buffer[] = [];
        let bytes = 0;
        let writing = false;
        let ended = false;
        let settled = false;
        const fail = (e: unknown): void => {
          if (settled) return;
          settled = true;
          rs.destroy();
          reject(e);
        };
        const finish = (): void => {
          if (settled || !ended || writing || bytes > 0 || fd === undefined) return;
          settled = true;
          resolve();
        };
        const flush = (): void => {
          if (bytes === 0 || writing || settled || fd === undefined) return;
          const out = fd;
          const batch = pending;
          pending = [];
          bytes = 0;
          writing = true;
          void (async () => {
            for (let rest = batch; rest.length > 0; ) rest = after(rest, (await writevFd(out, rest)).bytesWritten);
          })().then(() => {
            writing = false;
            if (bytes >= WRITE_BATCH || (ended && bytes > 0)) flush();
            if (!writing && rs.isPaused() && !ended) rs.resume();
            finish();
          }, fail);
        };
        rs.on('data', (c: Buffer) => {
          pending.push(c);
          bytes += c.length;
          if (bytes < WRITE_BATCH) return;
          flush();
          if ((writing || fd === undefined) && bytes >= WRITE_BATCH) rs.pause();
        });
        rs.once('end', () => {
          ended = true;
          flush();
          finish();
        });
        rs.once('error', fail);
        rs.once('close', () => {
          if (!ended) fail(new ClosedError('the device file (closed before its end)'));
        });
        const opened = (n: number): void => {
          if (settled) return fsCb.close(n, () => undefined); // failed while opening: the file is the caller's to remove
          fd = n;
          flush();
          if (!writing && rs.isPaused() && !ended) rs.resume();
          finish();
        };
        openFd(part, 'w', 0o666).then(opened, fail);
      });
      await futimesFd(fd!, t, t);
    } finally {
      if (fd !== undefined) await closeFd(fd);
    }
    await fs.rename(part, dst);
  }
}

function writeSync(path: string, parts: Buffer[], t: Date): void {
  const fd = fsCb.openSync(path, 'w', 0o666);
  try {
    for (let rest = parts; rest.length > 0; ) rest = after(rest, fsCb.writevSync(fd, rest));
    fsCb.futimesSync(fd, t, t);
  } finally {
    fsCb.closeSync(fd);
  }
}

/**
 * A file that fits one READ: OPEN, then READ(size + 1) and CLOSE in one write (exactly `size` bytes prove EOF), then
 * written whole. Resolves false (nothing written) when the device gave other than `size` bytes: the file changed
 * since the stat, and the stream path reads it to its real EOF.
 */
async function pullOneRead(client: AfcTransferClient, j: Job, co: CallOpts, writer: LocalFileWriter, progress: Progress): Promise<boolean> {
  const h = await client.open(j.src, AfcOpenMode.RDONLY, co);
  const parts: Buffer[] = [];
  let n = 0;
  const read = client.readStreaming(h, j.size + 1, (c) => {
    parts.push(c);
    n += c.length;
  }, co);
  const close = client.closeFile(h, co);
  const [r, c] = await Promise.allSettled([read, close]);
  if (r.status === 'rejected') throw r.reason;
  if (c.status === 'rejected') throw c.reason;
  if (n !== j.size) return false;
  await writer.write(j.dst, parts, new Date(Number(j.mtimeNs / 1_000_000n)));
  progress.add(j.src, n);
  return true;
}

interface Job {
  src: string;
  dst: string;
  size: number;
  mtimeNs: bigint;
}

async function runPool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

class Progress {
  bytes = 0;
  files = 0;
  constructor(
    readonly totalBytes: number,
    readonly totalFiles: number,
    readonly cb?: (p: TransferProgress) => void,
  ) {}
  add(path: string, n: number): void {
    this.bytes += n;
    this.cb?.({ path, bytes: this.bytes, totalBytes: this.totalBytes, files: this.files, totalFiles: this.totalFiles });
  }
}

async function localIsDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Implementation of {@link AfcClient.pull}. */
export async function pullPath(client: AfcTransferClient, remote: string, local: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const co: CallOpts = { ...(opts.signal ? { signal: opts.signal } : {}) };
  const top = await client.stat(remote, co);
  const result: TransferResult = { files: 0, dirs: 0, links: 0, bytes: 0 };
  const jobs: Job[] = [];
  const links: { target: string; dst: string }[] = [];
  if (top.type === 'dir') {
    await fs.mkdir(local, { recursive: true });
    result.dirs++;
    const base = resolve(local);
    for await (const { path, info } of client.walk(remote, co)) {
      const dst = join(local, ...posix.relative(remote, path).split('/'));
      if (!resolve(dst).startsWith(base + sep)) throw new ProtocolError('afc', `device path ${JSON.stringify(path)} leads outside ${local}`);
      if (info.type === 'dir') {
        // Never write through a symlink left by an earlier pull.
        if ((await fs.lstat(dst).catch(() => undefined))?.isSymbolicLink()) await fs.rm(dst);
        await fs.mkdir(dst, { recursive: true });
        result.dirs++;
      } else if (info.type === 'symlink' && info.linkTarget !== undefined) links.push({ target: info.linkTarget, dst });
      else if (info.type === 'file') jobs.push({ src: path, dst, size: info.size, mtimeNs: info.mtimeNs });
    }
  } else {
    const dst = (await localIsDir(local)) ? join(local, posix.basename(remote)) : local;
    if (top.type === 'symlink' && top.linkTarget !== undefined) links.push({ target: top.linkTarget, dst });
    else jobs.push({ src: remote, dst, size: top.size, mtimeNs: top.mtimeNs });
  }
  const progress = new Progress(
    jobs.reduce((a, j) => a + j.size, 0),
    jobs.length,
    opts.onProgress,
  );
  const chunk = opts.chunkSize ?? DEFAULT_READ_CHUNK;
  const perFile = chunk * (opts.maxInFlight ?? DEFAULT_READS_IN_FLIGHT);
  const maxFiles = opts.concurrency ?? DEFAULT_PULL_FILES;
  const window = new AdaptiveWindow({
    initialFiles: Math.min(4, maxFiles),
    maxFiles,
    maxBytes: opts.maxBytesInFlight ?? DEFAULT_PULL_BYTES,
    starved: () => (client.connection.pendingCount ?? 0) < 2,
  });
  const writer = new LocalFileWriter();
  // a file can have its size + 1 bytes (the READs of a known size) but never more than one stream's reads outstanding
  await runWindowed(jobs, window, (j) => Math.min(j.size + 1, perFile), async (j) => {
    const part = `${j.dst}.part`;
    if (j.size < chunk) {
      try {
        if (await pullOneRead(client, j, co, writer, progress)) {
          progress.files++;
          result.files++;
          return;
        }
      } catch (e) {
        await fs.rm(part, { force: true });
        throw e;
      }
    }
    const streamOpts = {
      size: j.size,
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
      ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    const t = new Date(Number(j.mtimeNs / 1_000_000n));
    try {
      if (writer.sync) {
        await writer.streamSync((write) => client.createReadStream(j.src, { ...streamOpts, sink: (c) => {
          write(c);
          progress.add(j.src, c.length);
        } }), j.dst, t);
      } else {
        const rs = client.createReadStream(j.src, streamOpts);
        rs.on('data', (c: Buffer) => progress.add(j.src, c.length));
        await writer.stream(rs, j.dst, t);
      }
    } catch (e) {
      await fs.rm(part, { force: true });
      throw e;
    }
    progress.files++;
    result.files++;
  }, opts.signal);
  for (const l of links) {
    await fs.rm(l.dst, { force: true });
    await fs.symlink(l.target, l.dst);
    result.links++;
  }
  result.bytes = progress.bytes;
  return result;
}

async function remoteInfo(client: AfcTransferClient, p: string, co: CallOpts): Promise<AfcFileInfo | undefined> {
  try {
    return await client.stat(p, co);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_AFC_OBJECT_NOT_FOUND') return undefined;
    throw e;
  }
}

/** Implementation of {@link AfcClient.push}. */
export async function pushPath(client: AfcTransferClient, local: string, remote: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const co: CallOpts = { ...(opts.signal ? { signal: opts.signal } : {}) };
  const top = await fs.lstat(local).catch(() => undefined);
  if (!top) throw new InvalidArgumentError(`no such local path: ${local}`);
  const result: TransferResult = { files: 0, dirs: 0, links: 0, bytes: 0 };
  const jobs: Job[] = [];
  const links: { target: string; dst: string }[] = [];
  const toJob = (src: string, dst: string, st: { size: number; mtimeMs: number }): Job => ({
    src,
    dst,
    size: st.size,
    mtimeNs: BigInt(Math.round(st.mtimeMs)) * 1_000_000n,
  });
  if (top.isDirectory()) {
    await client.mkdir(remote, co);
    result.dirs++;
    const walk = async (dir: string): Promise<void> => {
      for (const ent of await fs.readdir(dir, { withFileTypes: true })) {
        const src = join(dir, ent.name);
        const dst = posix.join(remote, ...relative(local, src).split(sep));
        if (ent.isDirectory()) {
          await client.mkdir(dst, co);
          result.dirs++;
          await walk(src);
        } else if (ent.isSymbolicLink()) links.push({ target: await fs.readlink(src), dst });
        else if (ent.isFile()) jobs.push(toJob(src, dst, await fs.stat(src)));
      }
    };
    await walk(local);
  } else {
    const info = await remoteInfo(client, remote, co);
    const dst = info?.type === 'dir' ? posix.join(remote, basename(local)) : remote;
    if (top.isSymbolicLink()) links.push({ target: await fs.readlink(local), dst });
    else jobs.push(toJob(local, dst, top));
  }
  const progress = new Progress(
    jobs.reduce((a, j) => a + j.size, 0),
    jobs.length,
    opts.onProgress,
  );
  const chunkSize = opts.chunkSize ?? 4 * 1024 * 1024;
  await runPool(jobs, opts.concurrency ?? 8, async (j) => {
    const part = `${j.dst}.part`;
    const rs = createReadStream(j.src, { highWaterMark: chunkSize });
    rs.on('data', (c: Buffer | string) => progress.add(j.src, c.length));
    try {
      await pipeline(
        rs,
        client.createWriteStream(part, {
          chunkSize,
          ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      );
      await client.rename(part, j.dst, co);
      await client.setModTime(j.dst, j.mtimeNs, co);
    } catch (e) {
      await client.remove(part).catch(() => undefined);
      throw e;
    }
    progress.files++;
    result.files++;
  });
  for (const l of links) {
    if (await remoteInfo(client, l.dst, co)) await client.remove(l.dst, co);
    await client.link(l.target, l.dst, 'symlink', co);
    result.links++;
  }
  result.bytes = progress.bytes;
  return result;
}
