/** `iosdevice listen`: prints device attach / detach / pair events until interrupted. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, parseCommonArgs, writeJson } from '../common.ts';
import { IDeviceError, InvalidArgumentError } from '../../core/errors.ts';
import { UsbmuxClient } from '../../usbmux/client.ts';
import { formatMuxAddress, resolveUsbmuxAddress } from '../../usbmux/address.ts';
import { sameUdid } from '../../core/udid.ts';
import type { UsbmuxDevice } from '../../usbmux/device.ts';
import { listDevices } from '../../devices.ts';
import { deviceJson, deviceLine } from '../device-format.ts';

const usage = `usage: iosdevice listen [--json] [--socket ADDR | --usb] [-u UDID] [--count N]

Prints one line per device event (attached / detached / paired) until Ctrl-C. Devices present at the
start are reported as attached first. Every event names the device's UDID (detached and paired too).
With --json every line is a JSON object. With -u only the events of that device are printed (and counted).
With --usb the USB bus is watched through our own transport (polled every second; no usbmuxd involved):
attached and detached only.

options:
${COMMON_OPTIONS_USAGE}
  --count N       exit after N events

If no usbmuxd is reachable, start one (\`sudo usbmuxd -f\`) or run the virtual iPhone (\`iosdevice emulator\`).
`;

/** One event with the UDID resolved (usbmuxd's Detached/Paired carry only the DeviceID). */
type Event =
  | { type: 'attached'; udid: string; device: UsbmuxDevice }
  | { type: 'detached' | 'paired'; udid: string | undefined; deviceId: number };

function eventJson(ev: Event): Record<string, unknown> {
  if (ev.type === 'attached') return { event: 'attached', ...deviceJson(ev.device) };
  return { event: ev.type, udid: ev.udid ?? null, deviceId: ev.deviceId };
}

function eventLine(ev: Event): string {
  if (ev.type === 'attached') return `attached  ${deviceLine(ev.device)}`;
  return `${ev.type.padEnd(8)}  ${(ev.udid ?? '?').padEnd(25)}  id ${ev.deviceId}`;
}

/** usbmuxd's Listen, with the UDID of each DeviceID remembered from its Attached. */
async function* usbmuxEvents(address: ReturnType<typeof resolveUsbmuxAddress>, io: CliIO): AsyncGenerator<Event> {
  const client = await UsbmuxClient.open({ address, signal: io.signal, timeoutMs: 5000 });
  const udids = new Map<number, string>();
  try {
    const events = client.listen({
      signal: io.signal,
      timeoutMs: 5000,
      onReady: () => io.stderr.write(`listening on ${formatMuxAddress(address)} (Ctrl-C to stop)\n`),
    });
    for await (const ev of events) {
      if (ev.type === 'attached') {
        udids.set(ev.device.deviceId, ev.device.udid);
        yield { type: 'attached', udid: ev.device.udid, device: ev.device };
      } else {
        const udid = udids.get(ev.deviceId);
        if (ev.type === 'detached') udids.delete(ev.deviceId);
        yield { type: ev.type, udid, deviceId: ev.deviceId };
      }
    }
  } finally {
    client.close();
  }
}

/** The USB bus read every `pollMs` through our own transport; changes by UDID. The first read's errors are thrown. */
async function* usbEvents(io: CliIO, pollMs = 1000): AsyncGenerator<Event> {
  const present = new Map<string, UsbmuxDevice>();
  for (let first = true; ; first = false) {
    const now = await listDevices({ usb: true });
    if (first) io.stderr.write('listening on the USB bus (Ctrl-C to stop)\n');
    const seen = new Set(now.map((d) => d.udid));
    for (const [udid, d] of present) {
      if (seen.has(udid)) continue;
      present.delete(udid);
      yield { type: 'detached', udid, deviceId: d.deviceId };
    }
    for (const d of now) {
      if (present.has(d.udid)) continue;
      present.set(d.udid, d);
      yield { type: 'attached', udid: d.udid, device: d };
    }
    await sleep(pollMs, undefined, { signal: io.signal });
  }
}

const command: Command = {
  name: 'listen',
  summary: 'print device attach/detach/pair events',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { maxPositionals: 0, options: ['--count'] });
    if (p.common.usb && p.common.socket !== undefined) throw new InvalidArgumentError('--usb reads the USB bus, --socket a usbmuxd: give one of them');
    const countText = p.options.get('--count');
    const count = countText === undefined ? Infinity : Number(countText);
    if (!(Number.isInteger(count) && count >= 1) && count !== Infinity) throw new InvalidArgumentError('--count must be a positive integer');
    const events = p.common.usb ? usbEvents(io) : usbmuxEvents(resolveUsbmuxAddress(p.common.socket, io.env), io);
    const want = p.common.udid;
    let seen = 0;
    try {
      for await (const ev of events) {
        if (want !== undefined && (ev.udid === undefined || !sameUdid(ev.udid, want))) continue;
        if (p.common.json) writeJson(io, eventJson(ev));
        else io.stdout.write(eventLine(ev) + '\n');
        if (++seen >= count) break;
      }
    } catch (e) {
      // Ctrl-C is the normal way out.
      if (io.signal.aborted && (!(e instanceof IDeviceError) || e.code === 'ERR_ABORTED')) return 0;
      throw e;
    }
    return 0;
  },
};

export default command;
