/**
 * Guest-side device process: a VirtualIPhone presented on the guest's UDC through FunctionFS (src/usb/ffs-device.ts).
 * Usage (as root in the VM, with UV_THREADPOOL_SIZE=16):
 *   node --import tsx scripts/vusb/fake-iphone.ts --serial 00008030001A2B3C4D5E6F70 --media DIR --crash DIR --ready FILE
 * Generates a small DCIM tree in DIR when it has none, binds the gadget, writes FILE ("<udid>\n") once bound, and runs
 * until SIGTERM (then removes the gadget).
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { IPhoneGadget } from '../../src/usb/ffs-device.ts';
import { generateDcim } from '../../src/virtual-iphone/dcim-generator.ts';
import { VirtualIPhone } from '../../src/virtual-iphone/virtual-iphone.ts';

const { values } = parseArgs({
  options: {
    serial: { type: 'string', default: '00008030001A2B3C4D5E6F70' },
    media: { type: 'string', default: '/tmp/vphone/media' },
    crash: { type: 'string', default: '/tmp/vphone/crash' },
    ready: { type: 'string', default: '/tmp/vphone/ready' },
    count: { type: 'string', default: '12' },
    verbose: { type: 'boolean', default: false },
  },
});
const log = (m: string): void => void process.stderr.write(`[fake-iphone] ${m}\n`);
mkdirSync(values.media!, { recursive: true });
mkdirSync(values.crash!, { recursive: true });
if (!existsSync(`${values.media}/DCIM`)) {
  const m = await generateDcim(values.media!, { count: Number(values.count), scale: 0.02, seed: 7 });
  log(`generated ${m.files.length} files, ${m.totalBytes} bytes`);
}
const iphone = new VirtualIPhone({ udid: values.serial!, mediaDir: values.media!, crashDir: values.crash!, trust: 'auto' });
const gadget = IPhoneGadget.create({ serial: values.serial!, connect: (port) => iphone.connect(port) });
gadget.on('session', (mux) => {
  log('usbmux session (configuration 2 enabled)');
  mux.on('reject', (e: Error) => log(`refused host packet: ${e.message}`));
  mux.on('close', (e?: Error) => log(`usbmux session ended${e ? `: ${e.message}` : ''}`));
});
if (values.verbose) gadget.on('log', (m: string) => log(m));
gadget.plug();
writeFileSync(values.ready!, `${iphone.udid}\n`);
log(`bound to ${gadget.udc} as ${iphone.udid}`);
const stop = async (): Promise<void> => {
  await gadget.destroy();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
