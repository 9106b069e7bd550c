/**
 * `iosdevice usbmuxd [--socket ADDR] [--records DIR] [--poll MS] [-v]`: a usbmuxd-compatible daemon over our own USB
 * transport (src/daemon/usb-daemon.ts). Real libimobiledevice tools talk to it through USBMUXD_SOCKET_ADDRESS=ADDR.
 * Runs until SIGINT/SIGTERM. Never run it next to the system usbmuxd on the same device (both claim the interface).
 */
import type { Command } from '../command.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { UsbmuxServer } from '../../usbmux/server.ts';
import { UsbMuxDaemon } from '../../daemon/usb-daemon.ts';

const usage = `usage: iosdevice usbmuxd [--socket ADDR] [--records DIR] [--poll MS] [-v]

A usbmuxd-compatible daemon that talks to devices over its own USB transport.
  --socket ADDR   listen address: UNIX:/path, /path, host:port or [v6]:port
                  (default: $USBMUXD_SOCKET_ADDRESS, else UNIX:/var/run/usbmuxd)
  --records DIR   pair record directory (default /var/lib/lockdown)
  --poll MS       USB bus scan interval (default 1000)
  -v, --verbose   log device events to stderr
Stop the system usbmuxd first: only one process can claim a device's usbmux interface.`;

const command: Command = {
  name: 'usbmuxd',
  summary: 'usbmuxd-compatible daemon over our own USB transport',
  usage,
  async run(args, io) {
    let socket: string | undefined;
    let records: string | undefined;
    let poll = 1000;
    let verbose = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const value = (): string => {
        const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
        if (v === undefined) throw new InvalidArgumentError(`${a} needs a value`);
        return v;
      };
      const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
      if (name === '--help' || name === '-h') {
        io.stdout.write(usage + '\n');
        return 0;
      } else if (name === '--socket') socket = value();
      else if (name === '--records') records = value();
      else if (name === '--poll') {
        poll = Number(value());
        if (!Number.isInteger(poll) || poll < 50) throw new InvalidArgumentError('--poll must be an integer ≥ 50 (ms)');
      } else if (name === '-v' || name === '--verbose') verbose = true;
      else throw new InvalidArgumentError(`unknown option ${a}\n${usage}`);
    }
    const address = socket ?? io.env.USBMUXD_SOCKET_ADDRESS ?? 'UNIX:/var/run/usbmuxd';
    const daemon = new UsbMuxDaemon({ recordDir: records, pollMs: poll });
    const log = (m: string): void => void io.stderr.write(`usbmuxd: ${m}\n`);
    if (verbose) daemon.on('log', log);
    daemon.on('attached', (id: number, udid: string) => log(`Attached ${udid} as DeviceID ${id}`));
    daemon.on('detached', (id: number, udid: string) => log(`Detached ${udid} (DeviceID ${id})`));
    const server = new UsbmuxServer(daemon.backend);
    const bound = await server.listen(address);
    log(`listening on ${bound}`);
    await daemon.start();
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await daemon.stop();
    await server.close();
    return 0;
  },
};

export default command;
