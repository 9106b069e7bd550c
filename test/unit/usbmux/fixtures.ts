/** Shared pieces for usbmux client/server tests: a temp record store, a backend with an echo device. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { UsbmuxError } from '../../../src/usbmux/errors.ts';
import { DirectoryRecordStore } from '../../../src/usbmux/record-store.ts';
import { RecordStoreBackend } from '../../../src/usbmux/store-backend.ts';
import { UsbmuxServer } from '../../../src/usbmux/server.ts';

export const UDID = '00008020-001134490E50003A';

export function usbRecord(deviceId: number, serial = UDID): { deviceId: number; properties: Record<string, string | number> } {
  return {
    deviceId,
    properties: { ConnectionSpeed: 480000000, ConnectionType: 'USB', DeviceID: deviceId, LocationID: 0x00210003, ProductID: 4776, SerialNumber: serial },
  };
}

/**
 * Device ports: 62078 echoes, 1234 speaks first ("ping") then echoes, anything else is refused (Result 3).
 */
export function echoConnect(deviceId: number, port: number): Promise<Duplex> {
  if (port !== 62078 && port !== 1234) return Promise.reject(new UsbmuxError(3));
  const [host, dev] = duplexPair();
  if (port === 1234) dev.write('ping');
  dev.on('data', (c: Buffer) => dev.write(c));
  dev.on('end', () => dev.end());
  void deviceId;
  return Promise.resolve(host);
}

export interface Rig {
  dir: string;
  store: DirectoryRecordStore;
  backend: RecordStoreBackend;
  server: UsbmuxServer;
  address: string;
  cleanup(): Promise<void>;
}

/** A server on a unix socket in a fresh temp dir with one attached device (DeviceID 1). */
export async function startRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'usbmux-test-'));
  const store = new DirectoryRecordStore(join(dir, 'lockdown'));
  const backend = new RecordStoreBackend({ store, connect: echoConnect });
  backend.attach(usbRecord(1));
  const server = new UsbmuxServer(backend);
  const address = await server.listen(`UNIX:${join(dir, 'usbmuxd.sock')}`);
  return {
    dir,
    store,
    backend,
    server,
    address,
    async cleanup() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
