/**
 * Servers the benchmark clients talk to, run in the parent process: serveAfc on a unix socket and a raw
 * byte pump (the ceiling: the same file bytes through a plain unix socket), both optionally behind the
 * emulator's link shaper (src/virtual-iphone/link.ts, shared by all connections like one USB cable).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { serveAfc } from '../../src/afc/server.ts';
import { DeviceLink, TokenBucket, type LinkParams } from '../../src/virtual-iphone/link.ts';

export interface RunningServer {
  path: string;
  close(): Promise<void>;
}

async function listen(dir: string, name: string, onConn: (s: Duplex) => void): Promise<RunningServer> {
  const path = join(dir, name);
  const srv = net.createServer((s) => onConn(s));
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(path, res));
  const conns = new Set<net.Socket>();
  srv.on('connection', (s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
  });
  return {
    path,
    close: () =>
      new Promise<void>((res) => {
        for (const s of conns) s.destroy();
        srv.close(() => res());
      }),
  };
}

/** serveAfc(root) on a unix socket; with `link`, every connection goes through one shaped link. */
export function startAfcServer(dir: string, root: string, link?: LinkParams): Promise<RunningServer> {
  const shaper = link ? new DeviceLink(link) : undefined;
  return listen(dir, 'afc.sock', (s) => serveAfc(shaper ? shaper.wrap(s) : s, { root }));
}

/**
 * Sends the files' bytes back to back to each connection, then ends it. With `deviceBytesPerSecond` (the `real`
 * profile's read ceiling) the bytes leave the "device" no faster than that, before the link: the ceiling of the
 * profile for pure data, without any per-request cost.
 */
export function startRawServer(dir: string, files: string[], link?: LinkParams, deviceBytesPerSecond?: number): Promise<RunningServer> {
  const shaper = link ? new DeviceLink(link) : undefined;
  return listen(dir, 'raw.sock', (sock) => {
    const out = shaper ? shaper.wrap(sock) : sock;
    out.on('error', () => undefined);
    // 1 MiB of burst absorbs timer lateness (a late timer must not lower the rate); due times are virtual.
    const device = deviceBytesPerSecond ? new TokenBucket(deviceBytesPerSecond, 1024 * 1024) : undefined;
    void (async () => {
      try {
        for (const f of files) {
          if (!device && (await stat(f)).size <= 1024 * 1024) {
            // small files in one read (a stream per file would make the ceiling the cost of opening streams)
            if (!out.write(await readFile(f))) await once(out, 'drain');
            continue;
          }
          for await (const chunk of createReadStream(f, { highWaterMark: device ? 64 * 1024 : 1024 * 1024 })) {
            if (device) {
              const wait = device.reserve((chunk as Buffer).length) - performance.now();
              if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            }
            if (!out.write(chunk)) await once(out, 'drain');
          }
        }
        out.end();
      } catch {
        out.destroy();
      }
    })();
  });
}
