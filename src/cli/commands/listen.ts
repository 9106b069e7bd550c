/** `iosdevice listen`: prints device attach / detach / pair events until interrupted. */
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, parseCommonArgs, writeJson } from '../common.ts';
import { IDeviceError, InvalidArgumentError } from '../../core/errors.ts';
import { UsbmuxClient } from '../../usbmux/client.ts';
import { formatMuxAddress, resolveUsbmuxAddress } from '../../usbmux/address.ts';
import { sameUdid } from '../../core/udid.ts';
import type { DeviceEvent } from '../../usbmux/device.ts';
import { deviceJson, deviceLine } from '../device-format.ts';

const usage = `usage: iosdevice listen [--json] [--socket ADDR] [-u UDID] [--count N]

Prints one line per device event (attached / detached / paired) until Ctrl-C. Devices present at the
start are reported as attached first. With --json every line is a JSON object. With -u only the events of
that device are printed (and counted).

options:
${COMMON_OPTIONS_USAGE.split('\n').filter((l) => !l.includes('--usb')).join('\n')}
  --count N       exit after N events

If no usbmuxd is reachable, start one (\`sudo usbmuxd -f\`) or run the virtual iPhone (\`iosdevice emulator\`).
`;

function eventJson(ev: DeviceEvent): Record<string, unknown> {
  if (ev.type === 'attached') return { event: 'attached', ...deviceJson(ev.device) };
  return { event: ev.type, deviceId: ev.deviceId };
}

function eventLine(ev: DeviceEvent): string {
  if (ev.type === 'attached') return `attached  ${deviceLine(ev.device)}`;
  return `${ev.type.padEnd(8)}  id ${ev.deviceId}`;
}

const command: Command = {
  name: 'listen',
  summary: 'print device attach/detach/pair events',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { maxPositionals: 0, options: ['--count'] });
    if (p.common.usb) throw new InvalidArgumentError('listen reads usbmuxd; --usb is not supported here');
    const countText = p.options.get('--count');
    const count = countText === undefined ? Infinity : Number(countText);
    if (!(Number.isInteger(count) && count >= 1) && count !== Infinity) throw new InvalidArgumentError('--count must be a positive integer');
    const address = resolveUsbmuxAddress(p.common.socket, io.env);
    const client = await UsbmuxClient.open({ address, signal: io.signal, timeoutMs: 5000 });
    let seen = 0;
    /** With -u: the usbmuxd ids the device has had (detached/paired events carry only the id). */
    const ids = new Set<number>();
    const wanted = (ev: DeviceEvent): boolean => {
      if (p.common.udid === undefined) return true;
      if (ev.type !== 'attached') return ids.has(ev.deviceId);
      if (!sameUdid(ev.device.udid, p.common.udid)) return false;
      ids.add(ev.device.deviceId);
      return true;
    };
    try {
      const events = client.listen({
        signal: io.signal,
        timeoutMs: 5000,
        onReady: () => io.stderr.write(`listening on ${formatMuxAddress(address)} (Ctrl-C to stop)\n`),
      });
      for await (const ev of events) {
        if (!wanted(ev)) continue;
        if (p.common.json) writeJson(io, eventJson(ev));
        else io.stdout.write(eventLine(ev) + '\n');
        if (++seen >= count) break;
      }
    } catch (e) {
      // Ctrl-C is the normal way out.
      if (e instanceof IDeviceError && e.code === 'ERR_ABORTED' && io.signal.aborted) return 0;
      throw e;
    } finally {
      client.close();
    }
    return 0;
  },
};

export default command;
