/**
 * A recording proxy between a real tool and the emulator's usbmuxd socket: it forwards bytes unchanged and decodes
 * what the CLIENT sends with our own codecs (usbmux requests; after Connect(62078) the plaintext lockdown requests up
 * to StartSession, where TLS begins). The transcript shows which path the real tool took through the protocol.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { LockdownFrameDecoder } from '../../src/lockdown/codec.ts';
import { decodePortNumber } from '../../src/usbmux/port.ts';
import { UsbmuxRequestDecoder } from '../../src/usbmux/server-codec.ts';

/** One client request: `usbmux ListDevices`, `usbmux Connect 62078`, `lockdown GetValue ProductVersion`, … */
export type TranscriptLine = string;

/** A running spy. */
export interface Spy {
  /** USBMUXD_SOCKET_ADDRESS of the spy. */
  address: string;
  /** Requests in arrival order (across connections). */
  lines: TranscriptLine[];
  close(): Promise<void>;
}

/** Starts a spy in `dir` forwarding to the emulator at `target` (`UNIX:/path`). */
export async function startSpy(target: string, dir: string): Promise<Spy> {
  const upstreamPath = target.slice('UNIX:'.length);
  const path = join(dir, 'spy.sock');
  const lines: TranscriptLine[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = createConnection(upstreamPath);
    sockets.add(client).add(up);
    up.pipe(client);
    let mux: UsbmuxRequestDecoder | undefined = new UsbmuxRequestDecoder();
    let lockdown: LockdownFrameDecoder | undefined;
    const onLockdown = (chunk: Buffer): void => {
      lockdown!.push(chunk);
      for (let m = lockdown!.next(); m; m = lockdown?.next()) {
        const key = typeof m.Key === 'string' ? ` ${m.Key}` : '';
        lines.push(`lockdown ${String(m.Request)}${key}`);
        if (m.Request === 'StartSession') lockdown = undefined; // TLS from here on
      }
    };
    client.on('data', (chunk: Buffer) => {
      up.write(chunk);
      try {
        if (mux) {
          mux.push(chunk);
          for (let r = mux.next(); r; r = mux?.next()) {
            if (r.kind !== 'plist') continue;
            if (r.messageType === 'Connect') {
              const port = decodePortNumber(r.plist.PortNumber as number);
              lines.push(`usbmux Connect ${port}`);
              const rest = mux.drain();
              mux = undefined;
              if (port === 62078) {
                lockdown = new LockdownFrameDecoder();
                for (const b of rest) onLockdown(b);
              }
              return;
            }
            lines.push(`usbmux ${r.messageType}`);
          }
        } else if (lockdown) onLockdown(chunk);
      } catch {
        mux = undefined;
        lockdown = undefined;
      }
    });
    const done = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('end', () => up.end());
    up.on('end', () => client.end());
    client.on('error', done).on('close', done);
    up.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    address: `UNIX:${path}`,
    lines,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
