/**
 * A PhotoDevice backed by a real folder through the real AFC stack: AfcClient ⇄ duplexPair ⇄ serveAfc,
 * optionally through the emulator's fault wrapper (drop after N bytes).
 */
import { AfcClient } from '../../../src/afc/client.ts';
import { serveAfc, type AfcServerOptions } from '../../../src/afc/server.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import type { PhotoDevice } from '../../../src/photos/source.ts';
import { DeviceFaults } from '../../../src/virtual-iphone/faults.ts';

export interface FolderDevice extends PhotoDevice {
  faults: DeviceFaults;
  opened: number;
}

export function folderDevice(root: string, hooks?: AfcServerOptions['hooks']): FolderDevice {
  const dev: FolderDevice = {
    udid: '00008101-000A1B2C3D4E5F60',
    name: 'Folder iPhone',
    faults: new DeviceFaults(() => undefined),
    opened: 0,
    async openAfc() {
      dev.opened++;
      const [host, device] = duplexPair();
      serveAfc(device, { root, ...(hooks ? { hooks } : {}) });
      return new AfcClient(dev.faults.wrap(host, 0));
    },
  };
  return dev;
}
