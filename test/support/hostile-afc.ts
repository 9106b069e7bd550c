/**
 * An independent hostile AFC device for the hostile-device suite: a small responder that speaks AFC frames
 * directly (its own framing code; nothing from src/afc), serving a virtual tree it is told to serve and
 * misbehaving on purpose: lying sizes, malformed stat replies, names no file system allows, a listing of a
 * million names generated on demand, a folder tree that fans out into itself, data that trickles or stops,
 * replies with a wrong packet_num, a wrong length or a broken magic.
 *
 * It stands in for afcd behind the project's own usbmuxd server and lockdownd: the emulator's `services` hook
 * hands it each com.apple.afc connection (see {@link hostileEmulator}).
 *
 * Frame (little-endian u64s): magic "CFA6LPAA" | entire_length | this_length | packet_num | operation, then
 * this_length − 40 bytes of header payload (u64 arguments, NUL-terminated paths), then the data area.
 */
import type { Duplex } from 'node:stream';

const MAGIC = Buffer.from('CFA6LPAA', 'latin1');
const OP = { STATUS: 1, DATA: 2, READ_DIR: 3, REMOVE_PATH: 8, GET_FILE_INFO: 10, GET_DEVINFO: 11, FILE_OPEN: 13, FILE_OPEN_RES: 14, FILE_READ: 15, FILE_SEEK: 17, FILE_CLOSE: 20 } as const;
const ST = { OK: 0, NOT_FOUND: 8, PERM_DENIED: 10, NOT_SUPPORTED: 15, BAD_ARG: 7 } as const;

/** A node of the virtual tree. `info` entries override (or, set to undefined, remove) GetFileInfo keys. */
export type HostileNode =
  | { kind: 'dir'; info?: Record<string, string | undefined> }
  | { kind: 'file'; data: Buffer; info?: Record<string, string | undefined>; trickle?: { bytes: number; everyMs: number }; stallAfter?: number }
  | { kind: 'symlink'; target: string; info?: Record<string, string | undefined> };

/** What the responder does wrong, beyond what the tree says. */
export interface Misbehaviour {
  /** Names of a folder, as sent (may contain '/', NUL, '..': the tree's own keys are not consulted). */
  listing?: (path: string) => string[] | Buffer | undefined;
  /** Node for a path not in the tree (fan-out: any path under a prefix is a folder). */
  lookup?: (path: string) => HostileNode | undefined;
  /** Answer this request with a broken frame (then keep going), or stop answering altogether. */
  corrupt?: (req: { op: number; path: string | undefined; conn: number }) => 'packet_num' | 'length' | 'magic' | 'stall' | undefined;
}

/** One request as decoded. */
interface Req {
  num: bigint;
  op: number;
  args: Buffer;
}

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function header(entire: number, thisLen: number, num: bigint, op: number): Buffer {
  return Buffer.concat([MAGIC, u64(entire), u64(thisLen), u64(num), u64(op)]);
}

function nulList(items: readonly string[]): Buffer {
  return Buffer.from(items.map((s) => `${s}\0`).join(''), 'utf8');
}

/** The responder: call {@link serve} for each accepted stream. */
export class HostileAfc {
  readonly tree = new Map<string, HostileNode>();
  readonly removed: string[] = [];
  readonly readPaths: string[] = [];
  connections = 0;
  requests = 0;
  readonly #streams = new Set<Duplex>();

  constructor(readonly misbehave: Misbehaviour = {}) {
    this.dir('/');
    this.dir('/DCIM');
  }

  /** Adds a folder (and its parents). */
  dir(path: string, info?: HostileNode['info']): this {
    const parts = path.split('/').filter(Boolean);
    for (let i = 0; i <= parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      if (!this.tree.has(p)) this.tree.set(p, { kind: 'dir' });
    }
    if (info) this.tree.set(path, { kind: 'dir', info });
    return this;
  }

  /** Adds a file (and its folders); `name` may be anything, the path is only a key. */
  file(dir: string, name: string, data: Buffer, extra: Omit<Extract<HostileNode, { kind: 'file' }>, 'kind' | 'data'> = {}): string {
    this.dir(dir);
    const path = `${dir}/${name}`;
    this.tree.set(path, { kind: 'file', data, ...extra });
    return path;
  }

  symlink(dir: string, name: string, target: string): string {
    this.dir(dir);
    const path = `${dir}/${name}`;
    this.tree.set(path, { kind: 'symlink', target });
    return path;
  }

  /** Regular files still on the "device" (path → bytes). */
  files(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [p, n] of this.tree) if (n.kind === 'file') out.set(p, n.data);
    return out;
  }

  /** Ends every connection. */
  close(): void {
    for (const s of this.#streams) s.destroy();
  }

  #node(path: string): HostileNode | undefined {
    return this.tree.get(path) ?? this.misbehave.lookup?.(path);
  }

  #names(path: string): string[] | Buffer | undefined {
    const custom = this.misbehave.listing?.(path);
    if (custom) return custom;
    const n = this.#node(path);
    if (n?.kind !== 'dir') return undefined;
    const prefix = path === '/' ? '/' : `${path}/`;
    const names: string[] = [];
    for (const p of this.tree.keys()) if (p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) names.push(p.slice(prefix.length));
    return names;
  }

  #info(n: HostileNode): Record<string, string> {
    const base: Record<string, string | undefined> = {
      st_size: String(n.kind === 'file' ? n.data.length : n.kind === 'symlink' ? n.target.length : 102),
      st_blocks: '8',
      st_nlink: '1',
      st_ifmt: n.kind === 'file' ? 'S_IFREG' : n.kind === 'dir' ? 'S_IFDIR' : 'S_IFLNK',
      st_mtime: '1700000000123456789',
      st_birthtime: '1700000000000000000',
      ...(n.kind === 'symlink' ? { LinkTarget: n.target } : {}),
      ...n.info,
    };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
    return out;
  }

  /** Serves one AFC connection on `s` (the device end). */
  serve(s: Duplex): void {
    const conn = ++this.connections;
    this.#streams.add(s);
    s.once('close', () => this.#streams.delete(s));
    s.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    let stalled = false;
    const handles = new Map<number, { path: string; pos: number }>();
    let nextHandle = 1;
    // replies go out strictly in order, one at a time (a trickled reply holds back the ones after it)
    let chain: Promise<void> = Promise.resolve();
    const send = (parts: Buffer[], trickle?: { bytes: number; everyMs: number }): void => {
      chain = chain.then(async () => {
        if (s.destroyed) return;
        if (!trickle) {
          s.write(Buffer.concat(parts));
          return;
        }
        const all = Buffer.concat(parts);
        for (let off = 0; off < all.length && !s.destroyed; off += trickle.bytes) {
          s.write(all.subarray(off, off + trickle.bytes));
          await new Promise((r) => setTimeout(r, trickle.everyMs));
        }
      });
    };
    const status = (num: bigint, st: number): void => send([header(48, 48, num, OP.STATUS), u64(st)]);
    const data = (num: bigint, body: Buffer, trickle?: { bytes: number; everyMs: number }): void =>
      send([header(40 + body.length, 40, num, OP.DATA), body], trickle);

    const onRequest = (r: Req): void => {
      this.requests++;
      const pathArg = (off: number): string => {
        const end = r.args.indexOf(0, off);
        return r.args.toString('utf8', off, end < 0 ? r.args.length : end);
      };
      const path = r.op === OP.READ_DIR || r.op === OP.GET_FILE_INFO || r.op === OP.REMOVE_PATH ? pathArg(0) : r.op === OP.FILE_OPEN ? pathArg(8) : undefined;
      const bad = this.misbehave.corrupt?.({ op: r.op, path, conn });
      if (bad === 'stall') {
        stalled = true;
        return;
      }
      if (bad === 'packet_num') return void send([header(48, 48, r.num + 1000n, OP.STATUS), u64(0)]);
      if (bad === 'length') return void send([header(40, 48, r.num, OP.STATUS), u64(0)]); // entire < this
      if (bad === 'magic') return void send([Buffer.from('CFA6LPAB', 'latin1'), u64(48), u64(48), u64(r.num), u64(OP.STATUS), u64(0)]);
      switch (r.op) {
        case OP.READ_DIR: {
          const names = this.#names(path!);
          if (names === undefined) return status(r.num, ST.NOT_FOUND);
          return data(r.num, Buffer.isBuffer(names) ? names : nulList(['.', '..', ...names]));
        }
        case OP.GET_FILE_INFO: {
          const n = this.#node(path!);
          if (!n) return status(r.num, ST.NOT_FOUND);
          const kv = Object.entries(this.#info(n)).flat();
          return data(r.num, nulList(kv));
        }
        case OP.GET_DEVINFO:
          return data(r.num, nulList(['Model', 'iPhone10,3', 'FSTotalBytes', '64000000000', 'FSFreeBytes', '32000000000', 'FSBlockSize', '4096']));
        case OP.FILE_OPEN: {
          const n = this.#node(path!);
          if (!n) return status(r.num, ST.NOT_FOUND);
          if (n.kind !== 'file') return status(r.num, ST.PERM_DENIED);
          this.readPaths.push(path!);
          const h = nextHandle++;
          handles.set(h, { path: path!, pos: 0 });
          return send([header(48, 48, r.num, OP.FILE_OPEN_RES), u64(h)]);
        }
        case OP.FILE_READ: {
          const h = handles.get(Number(r.args.readBigUInt64LE(0)));
          const want = Number(r.args.readBigUInt64LE(8));
          const n = h && this.#node(h.path);
          if (!h || n?.kind !== 'file') return status(r.num, ST.BAD_ARG);
          if (n.stallAfter !== undefined && h.pos >= n.stallAfter) {
            stalled = true;
            return;
          }
          const end = Math.min(n.data.length, h.pos + want, n.stallAfter ?? Infinity);
          const chunk = n.data.subarray(h.pos, end);
          h.pos = end;
          return data(r.num, chunk, n.trickle);
        }
        case OP.FILE_SEEK: {
          const h = handles.get(Number(r.args.readBigUInt64LE(0)));
          if (h) h.pos = Number(r.args.readBigInt64LE(16));
          return status(r.num, h ? ST.OK : ST.BAD_ARG);
        }
        case OP.FILE_CLOSE:
          handles.delete(Number(r.args.readBigUInt64LE(0)));
          return status(r.num, ST.OK);
        case OP.REMOVE_PATH: {
          const n = this.#node(path!);
          if (!n) return status(r.num, ST.NOT_FOUND);
          this.tree.delete(path!);
          this.removed.push(path!);
          return status(r.num, ST.OK);
        }
        default:
          return status(r.num, ST.NOT_SUPPORTED);
      }
    };

    s.on('data', (c: Buffer) => {
      if (stalled) return;
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      while (buf.length >= 40 && !stalled) {
        if (!buf.subarray(0, 8).equals(MAGIC)) return void s.destroy();
        const entire = Number(buf.readBigUInt64LE(8));
        const thisLen = Number(buf.readBigUInt64LE(16));
        if (thisLen < 40 || entire < thisLen || entire > 64 << 20) return void s.destroy();
        if (buf.length < entire) return;
        const r: Req = { num: buf.readBigUInt64LE(24), op: Number(buf.readBigUInt64LE(32)), args: Buffer.from(buf.subarray(40, thisLen)) };
        buf = buf.subarray(entire);
        onRequest(r);
      }
    });
  }
}

/** The listing of `count` names `IMG_<i>.JPG`, encoded once on demand (about 15 bytes per name). */
export function hugeListing(count: number): Buffer {
  const parts: string[] = ['.\0..\0'];
  for (let i = 0; i < count; i++) parts.push(`IMG_${i}.JPG\0`);
  return Buffer.from(parts.join(''), 'utf8');
}
