/**
 * An in-memory device for engine tests: a tree of files, folders and symlinks with any names
 * (including ones no real file system allows: '..', 'a/b', NUL), AFC-like errors (status 8/10),
 * and connection drops after N bytes of file data (every in-flight and later call on that
 * connection rejects with ERR_CLOSED, as AfcClient does when its stream closes).
 */
import { Readable } from 'node:stream';
import { ClosedError, IDeviceError } from '../../../src/core/errors.ts';
import type { PhotoAfc, PhotoDevice, PhotoFileInfo } from '../../../src/photos/source.ts';

type Node =
  | { kind: 'dir'; names: string[]; birth: Date; mtime: Date }
  | { kind: 'file'; data: Buffer; birth: Date; mtime: Date; denied?: boolean }
  | { kind: 'symlink'; target: string; birth: Date; mtime: Date };

class FakeAfcError extends IDeviceError {
  constructor(readonly status: number, path: string) {
    super(status === 8 ? 'ERR_AFC_OBJECT_NOT_FOUND' : status === 10 ? 'ERR_AFC_PERM_DENIED' : 'ERR_AFC_UNKNOWN_ERROR', `${path}: status ${status}`);
  }
}

const CHUNK = 64 * 1024;

export class MemDevice implements PhotoDevice {
  udid = '00008030-FAKE00000000001E';
  /** DeviceName: the folder below DEST (device-folder.ts). */
  name = 'Test iPhone';
  nodes = new Map<string, Node>();
  /** Per opened connection (in order): drop after this many file-data bytes. */
  dropPlan: (number | undefined)[] = [];
  opened = 0;
  removed: string[] = [];
  /** Paths that vanish right after they are listed. */
  vanishOnList = new Set<string>();
  /** Refuse new connections (unplugged). */
  unplugged = false;

  constructor() {
    this.nodes.set('/DCIM', { kind: 'dir', names: [], birth: new Date(0), mtime: new Date(0) });
  }

  #parent(path: string): string {
    const i = path.lastIndexOf('/');
    return i <= 0 ? '/' : path.slice(0, i);
  }

  #link(parent: string, name: string): void {
    if (!this.nodes.has(parent)) this.mkdir(parent);
    const p = this.nodes.get(parent);
    if (p?.kind !== 'dir') throw new Error(`not a dir: ${parent}`);
    if (!p.names.includes(name)) p.names.push(name);
  }

  mkdir(path: string): void {
    if (this.nodes.has(path)) return;
    this.#link(this.#parent(path), path.slice(path.lastIndexOf('/') + 1));
    this.nodes.set(path, { kind: 'dir', names: [], birth: new Date(0), mtime: new Date(0) });
  }

  /** Adds a file; `name` may be hostile (the path is only a map key). */
  addFile(dir: string, name: string, data: Buffer, birth = new Date(2023, 4, 6, 12, 0, 0), opts: { denied?: boolean } = {}): string {
    if (!this.nodes.has(dir)) this.mkdir(dir);
    const path = `${dir}/${name}`;
    this.#link(dir, name);
    this.nodes.set(path, { kind: 'file', data, birth, mtime: birth, ...opts });
    return path;
  }

  /** Rewrites a file in place, as an app on the phone might: new bytes, and the mtime kept unless given. */
  editFile(path: string, data: Buffer, mtime?: Date): void {
    const n = this.nodes.get(path);
    if (n?.kind !== 'file') throw new Error(`not a file: ${path}`);
    n.data = data;
    if (mtime) n.mtime = mtime;
  }

  addSymlink(dir: string, name: string, target: string): void {
    const path = `${dir}/${name}`;
    this.#link(dir, name);
    this.nodes.set(path, { kind: 'symlink', target, birth: new Date(0), mtime: new Date(0) });
  }

  /** All regular files (path → data). */
  files(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [p, n] of this.nodes) if (n.kind === 'file') out.set(p, n.data);
    return out;
  }

  async openAfc(): Promise<PhotoAfc> {
    if (this.unplugged) throw new ClosedError('connect');
    const drop = this.dropPlan[this.opened++];
    return new MemAfc(this, drop);
  }

  node(path: string): Node | undefined {
    return this.nodes.get(path);
  }

  removeNode(path: string): void {
    this.nodes.delete(path);
    const parent = this.nodes.get(this.#parent(path));
    if (parent?.kind === 'dir') parent.names = parent.names.filter((n) => `${this.#parent(path)}/${n}` !== path);
  }
}

class MemAfc implements PhotoAfc {
  #sent = 0;
  #closed = false;
  #streams = new Set<Readable>();

  constructor(readonly dev: MemDevice, readonly dropAfter: number | undefined) {}

  #check(what: string): void {
    if (this.#closed) throw new ClosedError(what);
  }

  /** Counts data bytes; returns how many of `n` may pass before the drop (then closes). */
  #allow(n: number): number {
    if (this.dropAfter === undefined) return n;
    const room = Math.max(0, this.dropAfter - this.#sent);
    this.#sent += Math.min(room, n);
    return Math.min(room, n);
  }

  #drop(): void {
    this.#closed = true;
    for (const s of this.#streams) s.destroy(new ClosedError('afc read'));
  }

  async stat(path: string): Promise<PhotoFileInfo> {
    await new Promise<void>((r) => setImmediate(r));
    this.#check('stat');
    const n = this.dev.node(path);
    if (!n) throw new FakeAfcError(8, path);
    const size = n.kind === 'file' ? n.data.length : n.kind === 'symlink' ? n.target.length : 0;
    return {
      size, type: n.kind, mtime: n.mtime, birthtime: n.birth, mtimeNs: BigInt(n.mtime.getTime()) * 1_000_000n,
      ...(n.kind === 'symlink' ? { linkTarget: n.target } : {}),
    };
  }

  async readdir(path: string): Promise<string[]> {
    await new Promise<void>((r) => setImmediate(r));
    this.#check('readdir');
    const n = this.dev.node(path);
    if (!n) throw new FakeAfcError(8, path);
    if (n.kind !== 'dir') throw new FakeAfcError(7, path);
    const names = [...n.names];
    for (const name of names) if (this.dev.vanishOnList.has(`${path}/${name}`)) this.dev.removeNode(`${path}/${name}`);
    return names;
  }

  createReadStream(path: string, opts?: { start?: number }): Readable {
    let pos = opts?.start ?? 0;
    let data: Buffer | undefined;
    const s = new Readable({
      highWaterMark: CHUNK,
      read: () => {
        setImmediate(() => {
          if (s.destroyed) return;
          if (this.#closed) return void s.destroy(new ClosedError('afc read'));
          if (!data) {
            const n = this.dev.node(path);
            if (!n || n.kind !== 'file') return void s.destroy(new FakeAfcError(8, path));
            if (n.denied) return void s.destroy(new FakeAfcError(10, path));
            data = n.data;
          }
          if (pos >= data.length) return void s.push(null);
          const want = Math.min(CHUNK, data.length - pos);
          const ok = this.#allow(want);
          if (ok > 0) s.push(data.subarray(pos, pos + ok));
          pos += ok;
          if (ok < want) this.#drop();
        });
      },
    });
    this.#streams.add(s);
    s.once('close', () => this.#streams.delete(s));
    return s;
  }

  async remove(path: string): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.#check('remove');
    if (!this.dev.node(path)) throw new FakeAfcError(8, path);
    this.dev.removeNode(path);
    this.dev.removed.push(path);
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#streams) s.destroy(new ClosedError('afc read'));
  }
}
