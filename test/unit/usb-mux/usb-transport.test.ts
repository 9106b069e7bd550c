import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { decodeFfsEvents, ffsDescriptors, ffsStrings } from '../../../src/usb-mux/ffs-descriptors.ts';
import { HostMux } from '../../../src/usb-mux/host-mux.ts';
import { findMuxInterface, guessUsbMode, isAppleMobilePid, locationId, serialToUdid } from '../../../src/usb-mux/usb-device-info.ts';
import type { ConfigDesc } from '../../../src/usb-mux/usb-device-info.ts';
import { UsbBulkTransport } from '../../../src/usb-mux/usb-transport.ts';
import type { NativeUsbDevice, UsbDeviceInfo } from '../../../src/usb-mux/usb-transport.ts';

const bulk = (n: number, d: 'in' | 'out') => ({ endpointNumber: n, direction: d, type: 'bulk', packetSize: 512 });
const ptp = { interfaceNumber: 0, alternates: [{ interfaceClass: 6, interfaceSubclass: 1, interfaceProtocol: 1, endpoints: [bulk(1, 'in'), bulk(2, 'out')] }] };
/** Like a real iPhone (and our gadget): config 1 PTP, config 2 PTP + usbmux as interface 1, OUT listed first. */
const IPHONE: ConfigDesc[] = [
  { configurationValue: 1, interfaces: [ptp] },
  {
    configurationValue: 2,
    interfaces: [ptp, { interfaceNumber: 1, alternates: [{ interfaceClass: 0xff, interfaceSubclass: 0xfe, interfaceProtocol: 2, endpoints: [bulk(7, 'out'), bulk(6, 'in')] }] }],
  },
];
/** iOS 17 USB mode 5: one configuration, CDC-NCM only. */
const MODE5: ConfigDesc[] = [
  { configurationValue: 1, interfaces: [{ interfaceNumber: 0, alternates: [{ interfaceClass: 2, interfaceSubclass: 0x0d, interfaceProtocol: 0, endpoints: [] }] }] },
];

test('findMuxInterface walks configurations from the highest and reads endpoint numbers from descriptors', () => {
  assert.deepEqual(findMuxInterface(IPHONE), { configurationValue: 2, interfaceNumber: 1, inEndpoint: 6, outEndpoint: 7, outPacketSize: 512 });
  assert.equal(findMuxInterface(MODE5), undefined);
  assert.equal(guessUsbMode(MODE5), 5);
  assert.equal(guessUsbMode(IPHONE), 1);
  // all three of class/subclass/protocol must match (usbmuxd's || is a latent bug)
  const wrongProto = structuredClone(IPHONE);
  wrongProto[1]!.interfaces[1]!.alternates[0]!.interfaceProtocol = 1;
  assert.equal(findMuxInterface(wrongProto), undefined);
});

test('UDID, PID and LocationID rules', () => {
  assert.equal(serialToUdid('00008030001A2B3C4D5E6F70'), '00008030-001A2B3C4D5E6F70');
  assert.equal(serialToUdid('0123456789abcdef0123456789abcdef01234567'), '0123456789abcdef0123456789abcdef01234567');
  assert.ok(isAppleMobilePid(0x12a8) && isAppleMobilePid(0x8600) && isAppleMobilePid(0x1905));
  assert.ok(!isAppleMobilePid(0x12b0) && !isAppleMobilePid(0x0250));
  assert.equal(locationId(1, 2), 0x10002);
});

test('FunctionFS blobs: v2 descriptor header, FS + HS sets, one string', () => {
  const d = ffsDescriptors('usbmux');
  assert.equal(d.readUInt32LE(0), 3); // FUNCTIONFS_DESCRIPTORS_MAGIC_V2
  assert.equal(d.readUInt32LE(4), d.length);
  assert.equal(d.readUInt32LE(8), 3); // HAS_FS_DESC | HAS_HS_DESC
  assert.equal(d.readUInt32LE(12), 3);
  assert.equal(d.readUInt32LE(16), 3);
  // FS interface descriptor: ff/fe/02 with 2 endpoints, OUT first
  assert.deepEqual([...d.subarray(20, 29)], [9, 4, 0, 0, 2, 0xff, 0xfe, 0x02, 1]);
  assert.equal(d[29 + 2], 0x01);
  const s = ffsStrings('usbmux');
  assert.equal(s.readUInt32LE(0), 2);
  assert.equal(s.readUInt32LE(4), s.length);
  assert.equal(s.toString('utf8', 18, s.length - 1), 'Apple USB Multiplexor');
  const ev = Buffer.alloc(24);
  ev[8] = 2;
  ev[20] = 4;
  ev[12] = 0xc0;
  ev[13] = 0x45;
  assert.deepEqual(
    decodeFfsEvents(ev).map((e) => [e.type, e.bmRequestType, e.bRequest]),
    [
      [2, 0, 0],
      [4, 0xc0, 0x45],
    ],
  );
});

/** A fake `usb` 3.x device at the binding boundary, answering VERSION like a phone. */
function fakeDevice(opts: { current: number; configs?: ConfigDesc[]; claimError?: string }) {
  const calls: string[] = [];
  let pendingIn: ((d: Uint8Array | null) => void) | undefined;
  const queued: Buffer[] = [];
  const deliver = (b: Buffer): void => {
    if (pendingIn) {
      const r = pendingIn;
      pendingIn = undefined;
      r(b);
    } else queued.push(b);
  };
  let current = opts.current;
  let inErr: Error | undefined;
  const dev: NativeUsbDevice & { unplug(): void } = {
    vendorId: 0x05ac,
    productId: 0x12a8,
    bus: '1',
    address: 2,
    speed: 'high',
    serialNumber: '00008030001A2B3C4D5E6F70',
    configurations: opts.configs ?? IPHONE,
    get configuration() {
      if (current === 0) throw new Error('device is not configured');
      return { configurationValue: current };
    },
    opened: false,
    async open() {
      calls.push('open');
    },
    async close() {
      calls.push('close');
    },
    async selectConfiguration(v) {
      calls.push(`select ${v}`);
      current = v;
    },
    async claimInterface(n) {
      calls.push(`claim ${n}`);
      if (opts.claimError) throw new Error(opts.claimError);
    },
    async releaseInterface(n) {
      calls.push(`release ${n}`);
    },
    async detachKernelDriver(n) {
      calls.push(`detach ${n}`);
    },
    nativeTransferIn(ep, _timeout, length) {
      assert.equal(ep, 6);
      assert.equal(length, 65536);
      if (inErr) return Promise.reject(inErr);
      const q = queued.shift();
      if (q) return Promise.resolve(q);
      return new Promise((resolve, reject) => {
        pendingIn = resolve;
        dev.unplug = () => {
          inErr = new Error('transferIn error: device disconnected');
          pendingIn = undefined;
          reject(inErr);
        };
      });
    },
    async nativeTransferOut(ep, _timeout, data) {
      assert.equal(ep, 7);
      const b = Buffer.from(data);
      if (b.length >= 8 && b.readUInt32BE(0) === 0) {
        const r = Buffer.alloc(20);
        r.writeUInt32BE(0, 0);
        r.writeUInt32BE(20, 4);
        r.writeUInt32BE(2, 8);
        setImmediate(() => deliver(r));
      }
      return b.length;
    },
    async clearHalt() {},
    unplug() {},
  };
  const info: UsbDeviceInfo = { udid: '00008030-001A2B3C4D5E6F70', serial: dev.serialNumber!, productId: 0x12a8, locationId: 0x10002, speed: 480e6, busNumber: 1, address: 2, device: dev };
  return { dev, info, calls };
}

test('UsbBulkTransport: unconfigured device → select config 2, claim interface 1, VERSION v2; unplug → ERR_USB_DETACHED', async () => {
  const { dev, info, calls } = fakeDevice({ current: 0 });
  const t = await UsbBulkTransport.open(info);
  assert.deepEqual(calls.slice(0, 4), ['open', 'select 2', 'detach 1', 'claim 1']);
  const mux = await HostMux.open(t, { timeoutMs: 2000 });
  assert.equal(mux.version, 2);
  const closed = once(mux, 'close');
  dev.unplug();
  const [err] = await closed;
  assert.equal((err as { code: string }).code, 'ERR_USB_DETACHED');
});

test('UsbBulkTransport: configuration 1 active → kernel drivers detached from it before switching', async () => {
  const { info, calls } = fakeDevice({ current: 1 });
  const t = await UsbBulkTransport.open(info);
  assert.deepEqual(calls.slice(0, 5), ['open', 'detach 0', 'select 2', 'detach 1', 'claim 1']);
  await t.close();
  assert.ok(calls.includes('release 1') && calls.at(-1) === 'close');
});

test('UsbBulkTransport: typed errors for a busy interface and for USB mode 5', async () => {
  const busy = fakeDevice({ current: 2, claimError: 'claimInterface error: interface is busy' });
  await assert.rejects(UsbBulkTransport.open(busy.info), { code: 'ERR_USB_BUSY' });
  assert.equal(busy.calls.at(-1), 'close');
  const m5 = fakeDevice({ current: 1, configs: MODE5 });
  await assert.rejects(UsbBulkTransport.open(m5.info), { code: 'ERR_USB_NO_MUX_INTERFACE' });
});
