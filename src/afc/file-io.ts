/**
 * What the file streams and pull/push need of an AFC connection. {@link AfcClient} implements it; the streams
 * and transfer.ts depend only on this interface, so the client can build on them without an import circle.
 */
import type { Readable, Writable } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import type { AfcFileInfo } from './file-info.ts';
import type { AfcOpenMode } from './protocol.ts';

/** Options of `AfcClient.createReadStream`. */
export interface AfcReadStreamOptions {
  /** Bytes per READ request, 1 KiB – 16 MiB (devices are known to work with 1–4 MiB). Default 1 MiB. */
  chunkSize?: number;
  /** READs in flight at once. Default 4. */
  maxInFlight?: number;
  /** Known file size (e.g. from stat): lets the final EOF-confirming READ be pipelined with the last data READ. */
  size?: number;
  /** Byte offset to start at (a FileRefSeek after opening). */
  start?: number;
  /** Readable highWaterMark in bytes. Default 1 MiB. */
  highWaterMark?: number;
  /** Abort signal for the whole stream (destroys it with ERR_ABORTED). */
  signal?: AbortSignal;
  /**
   * Takes the file's bytes, in order, instead of the stream's 'data' events: each chunk is valid only during the
   * call (it may be socket memory that is reused next, see core/read-recycler.ts), so the sink must be done with it
   * (written, hashed) before it returns. The stream then emits no 'data', only 'end' / 'error' / 'close' (resume()
   * it to see 'end'). A sink that throws destroys the stream with that error.
   */
  sink?: (chunk: Buffer) => void;
}

/** Options of {@link AfcFileIo.readStreaming}. */
export interface AfcStreamingReadOpts extends CallOpts {
  /** onData is done with each chunk when it returns (see AfcRequestOpts.transientData). */
  transientData?: boolean;
  /** Called synchronously once the reply is complete, before the promise settles (see AfcRequestOpts.onEnd). */
  onEnd?: () => void;
}

/** Options of `AfcClient.createWriteStream`. */
export interface AfcWriteStreamOptions {
  /** Bytes per WRITE packet, 1 KiB – 16 MiB. Default 4 MiB (1–4 MiB is what devices are known to take). */
  chunkSize?: number;
  /** WRITE packets in flight. Default 3. */
  maxInFlight?: number;
  /** Open mode ('w' by default; 'a' appends). */
  mode?: AfcOpenMode | 'w' | 'w+' | 'a' | 'a+' | 'r+';
  /** Writable highWaterMark. Default 4 MiB. */
  highWaterMark?: number;
  signal?: AbortSignal;
}

/** File-handle operations (the read and write streams). Errors: ERR_AFC_*, ERR_CLOSED, ERR_PROTOCOL, ERR_TIMEOUT, ERR_ABORTED. */
export interface AfcFileIo {
  open(path: string, mode?: AfcOpenMode | string, o?: CallOpts): Promise<number>;
  /**
   * One READ of up to `size` bytes, its data handed to `onData` as views; resolves with the byte count (0 = EOF).
   */
  readStreaming(handle: number, size: number, onData: (chunk: Buffer) => void, o?: AfcStreamingReadOpts): Promise<number>;
  /** One WRITE packet. */
  writePacket(handle: number, data: Buffer | readonly Buffer[], o?: CallOpts): Promise<void>;
  seek(handle: number, offset: number, whence?: number, o?: CallOpts): Promise<void>;
  closeFile(handle: number, o?: CallOpts): Promise<void>;
  /** The connection underneath (streams skip a CLOSE on a closed one; a pull's window watches the pending requests). */
  readonly connection: { readonly closed: boolean; readonly pendingCount?: number };
}

/** Tree operations pull/push use on top of {@link AfcFileIo}. */
export interface AfcTreeIo {
  stat(path: string, o?: CallOpts): Promise<AfcFileInfo>;
  walk(root: string, o?: CallOpts): AsyncIterable<{ path: string; info: AfcFileInfo }>;
  mkdir(path: string, o?: CallOpts): Promise<void>;
  remove(path: string, o?: CallOpts): Promise<void>;
  rename(from: string, to: string, o?: CallOpts): Promise<void>;
  link(target: string, linkPath: string, type?: 'symlink' | 'hard', o?: CallOpts): Promise<void>;
  setModTime(path: string, time: Date | bigint, o?: CallOpts): Promise<void>;
  createReadStream(path: string, opts?: AfcReadStreamOptions): Readable;
  createWriteStream(path: string, opts?: AfcWriteStreamOptions): Writable;
}
