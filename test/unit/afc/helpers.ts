/** Helpers shared by the AFC tests. */
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AfcDecoder, type AfcDecoded } from '../../../src/afc/codec.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { AfcClient } from '../../../src/afc/client.ts';
import { serveAfc, type AfcServerOptions, type AfcServerHandle } from '../../../src/afc/server.ts';

/** A decoded packet with its content gathered. */
export interface Packet {
  entireLength: number;
  thisLength: number;
  packetNum: number;
  operation: number;
  headerPayload: Buffer;
  data: Buffer;
}

/** Decodes a whole byte string fed in the given chunk sizes (cycled). */
export function decodeAll(bytes: Buffer, chunkSizes: number[] = [bytes.length || 1]): Packet[] {
  const d = new AfcDecoder();
  const out: Packet[] = [];
  let cur: Packet | undefined;
  const dataParts: Buffer[] = [];
  let off = 0;
  let i = 0;
  const drain = (): void => {
    for (let ev: AfcDecoded | undefined; (ev = d.next()); ) {
      if (ev.kind === 'header') {
        cur = { ...ev.header, headerPayload: Buffer.from(ev.headerPayload), data: Buffer.alloc(0) };
        dataParts.length = 0;
      } else if (ev.kind === 'data') dataParts.push(ev.chunk);
      else {
        cur!.data = Buffer.concat(dataParts);
        out.push(cur!);
        cur = undefined;
      }
    }
  };
  while (off < bytes.length) {
    const n = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    d.push(bytes.subarray(off, off + n));
    off += n;
    drain();
  }
  drain();
  return out;
}

/** Every 2-way split of `buf` plus a 1-byte drip, as chunk-size lists. */
export function splitEverywhere(buf: Buffer): number[][] {
  const out: number[][] = [[1]];
  for (let i = 1; i < buf.length; i++) out.push([i, buf.length - i]);
  return out;
}

/** A temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'afc-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** serveAfc + AfcClient over an in-memory duplex pair. */
export function pairedClient(opts: AfcServerOptions, clientOpts?: { maxInFlight?: number }): { client: AfcClient; server: AfcServerHandle; raw: [Duplex, Duplex] } {
  const [a, b] = duplexPair();
  const server = serveAfc(b, opts);
  return { client: new AfcClient(a, clientOpts), server, raw: [a, b] };
}

/** serveAfc + AfcClient over a unix socket in a temp dir. */
export async function socketClient(opts: AfcServerOptions, sockDir: string): Promise<{ client: AfcClient; close: () => Promise<void> }> {
  const path = join(sockDir, 'afc.sock');
  const srv = net.createServer((s) => serveAfc(s, opts));
  await new Promise<void>((res) => srv.listen(path, res));
  const sock = net.connect(path);
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  const client = new AfcClient(sock);
  return {
    client,
    close: async () => {
      client.close();
      await new Promise<void>((res) => srv.close(() => res()));
    },
  };
}

/** Byte-level comparison of two folder trees (names, types, contents, symlink targets). */
export async function treeSnapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of (await fs.readdir(d, { withFileTypes: true })).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[r] = 'dir';
        await walk(p, r);
      } else if (e.isSymbolicLink()) out[r] = `link:${await fs.readlink(p)}`;
      else out[r] = `file:${(await fs.readFile(p)).toString('base64')}`;
    }
  };
  await walk(dir, '');
  return out;
}

/** A scripted device: collects whole request packets and calls `onRequest` for each. */
export function fakeDevice(onRequest: (p: Packet, dev: Duplex) => void): { client: AfcClient; dev: Duplex; seen: Packet[] } {
  const [a, dev] = duplexPair();
  const seen: Packet[] = [];
  let buf = Buffer.alloc(0);
  dev.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      if (buf.length < 40) return;
      const entire = Number(buf.readBigUInt64LE(8));
      if (buf.length < entire) return;
      const [p] = decodeAll(buf.subarray(0, entire));
      buf = buf.subarray(entire);
      seen.push(p!);
      onRequest(p!, dev);
    }
  });
  return { client: new AfcClient(a), dev, seen };
}
