/**
 * Reading library data from the device: small ranged reads of a file (for the Live Photo content identifier,
 * without copying the file), and streaming Photos.sqlite + its -wal into a local staging folder (never into
 * memory: the database is 1–3 GB on large libraries).
 *
 * Copy consistency: the phone may checkpoint between the reads of the database and of its WAL. Both are copied,
 * then stat'ed again; when either changed size or mtime meanwhile, the copy is made again (3 attempts), and the
 * run says so if it never settled.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { errorCode, isConnectionLost, TimeoutError } from '../../core/errors.ts';
import { untilEnd } from '../../core/stream-end.ts';
import type { ConnectionSlots } from '../connections.ts';
import type { PhotoAfc, PhotoFileInfo } from '../source.ts';
import type { RandomReader } from './bytes.ts';

/** Longest single ranged read (bytes); parsers cap their own sizes well below this. */
const MAX_RANGE = 4 * 1024 * 1024;
const COPY_ATTEMPTS = 3;
export const DB_PATH = '/PhotoData/Photos.sqlite';

/** Reads `length` bytes at `offset` of a device file over one connection (open, seek, read, close). */
export async function readRange(conn: PhotoAfc, remote: string, offset: number, length: number, idleMs: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const want = Math.min(length, MAX_RANGE);
  const rs = conn.createReadStream(remote, { start: offset, size: want, chunkSize: Math.max(1024, want) });
  const chunks: Buffer[] = [];
  let n = 0;
  const timer = setTimeout(() => rs.destroy(new TimeoutError(`reading ${remote}`, idleMs)), idleMs);
  try {
    for await (const c of rs as AsyncIterable<Buffer>) {
      timer.refresh();
      chunks.push(n + c.length > want ? c.subarray(0, want - n) : c);
      n += c.length;
      if (n >= want) break;
    }
  } finally {
    clearTimeout(timer);
    if (!rs.destroyed) rs.destroy();
  }
  return Buffer.concat(chunks);
}

/**
 * A RandomReader over a device file through the run's connection slots: a dropped connection is replaced and
 * the read retried (the slots' reconnect budget bounds this).
 */
export function deviceReader(slots: ConnectionSlots, slot: number, remote: string, idleMs: number): RandomReader {
  return async (offset, length) => {
    for (;;) {
      const c = await slots.get(slot);
      try {
        return await readRange(c, remote, offset, length, idleMs);
      } catch (e) {
        if (!isConnectionLost(e)) throw e;
        slots.broken(slot, c);
      }
    }
  };
}

async function statOrUndefined(conn: PhotoAfc, remote: string, idleMs: number): Promise<PhotoFileInfo | undefined> {
  try {
    return await conn.stat(remote, { timeoutMs: idleMs });
  } catch (e) {
    if (errorCode(e) === 'ERR_AFC_OBJECT_NOT_FOUND') return undefined;
    throw e;
  }
}

/**
 * Streams a device file into a new local file, hashing it. The bytes are written inside the read (the stream's
 * sink: each chunk is socket memory that is read into again next), so a 1–3 GB database leaves no trail of dead
 * 64 KiB buffers waiting for a GC; a PhotoAfc without sink mode delivers 'data' events instead, written the same way.
 */
async function streamTo(conn: PhotoAfc, remote: string, size: number, local: string, idleMs: number): Promise<string> {
  const fh = await fsp.open(local, 'wx', 0o600);
  const hash = createHash('sha256');
  let rs: Readable | undefined;
  let timer: NodeJS.Timeout | undefined;
  const write = (c: Buffer): void => {
    timer?.refresh();
    hash.update(c);
    for (let off = 0; off < c.length; ) off += writeSync(fh.fd, c, off, c.length - off);
  };
  try {
    const stream = conn.createReadStream(remote, { size, sink: write });
    rs = stream;
    timer = setTimeout(() => stream.destroy(new TimeoutError(`reading ${remote}`, idleMs)), idleMs);
    stream.on('data', (c: Buffer) => {
      try {
        write(c);
      } catch (e) {
        stream.destroy(e as Error);
      }
    });
    await untilEnd(stream, `the read of ${remote}`);
    await fh.sync();
  } finally {
    clearTimeout(timer);
    if (rs && !rs.destroyed) rs.destroy();
    await fh.close();
  }
  return hash.digest('hex');
}

const same = (a: PhotoFileInfo | undefined, b: PhotoFileInfo | undefined): boolean =>
  a?.size === b?.size && a?.mtime.getTime() === b?.mtime.getTime() && a?.mtimeNs === b?.mtimeNs;

/** The staged copy: paths, sizes, and whether it settled (no change while it was copied). */
export interface StagedDb {
  db: string;
  bytes: number;
  walBytes: number;
  settled: boolean;
}

/**
 * Streams Photos.sqlite and Photos.sqlite-wal (when present) into `dir` (created, must be empty or absent).
 * Resolves undefined when the device has no Photos.sqlite.
 * @throws connection errors (the caller retries the whole copy on a fresh connection); fs errors
 */
export async function stageDatabase(conn: PhotoAfc, dir: string, idleMs: number): Promise<StagedDb | undefined> {
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 1; ; attempt++) {
    const db0 = await statOrUndefined(conn, DB_PATH, idleMs);
    if (!db0) return undefined;
    const wal0 = await statOrUndefined(conn, `${DB_PATH}-wal`, idleMs);
    const local = join(dir, 'Photos.sqlite');
    for (const f of [local, `${local}-wal`]) await fsp.rm(f, { force: true });
    await streamTo(conn, DB_PATH, db0.size, local, idleMs);
    if (wal0) await streamTo(conn, `${DB_PATH}-wal`, wal0.size, `${local}-wal`, idleMs);
    const db1 = await statOrUndefined(conn, DB_PATH, idleMs);
    const wal1 = await statOrUndefined(conn, `${DB_PATH}-wal`, idleMs);
    const settled = same(db0, db1) && same(wal0, wal1);
    if (settled || attempt >= COPY_ATTEMPTS) return { db: local, bytes: db0.size, walBytes: wal0?.size ?? 0, settled };
  }
}
