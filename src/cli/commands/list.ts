/** `iosdevice list`: the devices usbmuxd (or the virtual iPhone) currently publishes. */
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, parseCommonArgs, writeJson } from '../common.ts';
import { UsbmuxClient } from '../../usbmux/client.ts';
import { sameUdid } from '../../core/udid.ts';
import { DeviceNotFoundError } from '../../provider.ts';
import type { UsbmuxDevice } from '../../usbmux/device.ts';
import { deviceJson, deviceLine } from '../device-format.ts';
import { formatMuxAddress, resolveUsbmuxAddress } from '../../usbmux/address.ts';

const usage = `usage: iosdevice list [--json] [--socket ADDR | --usb] [-u UDID]

Lists the devices attached through usbmuxd (USB and network), or with --usb the Apple devices on the USB bus.
Exit status 0 even when none is attached; with -u UDID, 3 when that device is not attached.

options:
${COMMON_OPTIONS_USAGE}

If no usbmuxd is reachable, start one (\`sudo usbmuxd -f\`) or run the virtual iPhone (\`iosdevice emulator\`).
`;

const command: Command = {
  name: 'list',
  summary: 'list attached devices (via usbmuxd)',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { maxPositionals: 0 });
    const address = resolveUsbmuxAddress(p.common.socket, io.env);
    const opts = { signal: io.signal, timeoutMs: 5000 };
    let devices: UsbmuxDevice[];
    if (p.common.usb) {
      // our own USB transport: Apple devices straight from the bus (numbered in bus order; no daemon involved)
      const { listUsbDevices } = await import('../../providers/usb.ts');
      devices = (await listUsbDevices()).map((d, i) => ({
        deviceId: i + 1,
        udid: d.udid,
        connectionType: 'USB',
        productId: d.productId,
        locationId: d.locationId,
        speed: d.speed,
        properties: {},
      }));
    } else {
      const client = await UsbmuxClient.open({ address, ...opts });
      try {
        devices = await client.listDevices(opts);
      } finally {
        client.close();
      }
    }
    if (p.common.udid !== undefined) {
      const all = devices;
      devices = devices.filter((d) => sameUdid(d.udid, p.common.udid!));
      if (devices.length === 0) {
        const where = p.common.usb ? 'on the USB bus' : `usbmuxd at ${formatMuxAddress(address)}`;
        throw new DeviceNotFoundError(`device ${p.common.udid} is not attached (${where}: ${all.map((d) => d.udid).join(', ') || 'no devices'})`);
      }
    }
    if (p.common.json) {
      writeJson(io, devices.map(deviceJson));
      return 0;
    }
    if (devices.length === 0) {
      io.stdout.write(p.common.usb ? 'no Apple device on the USB bus\n' : `no devices attached (usbmuxd at ${formatMuxAddress(address)})\n`);
      return 0;
    }
    for (const d of devices) io.stdout.write(deviceLine(d) + '\n');
    return 0;
  },
};

export default command;
