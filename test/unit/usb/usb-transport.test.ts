import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { decodeFfsEvents, ffsDescriptors, ffsStrings } from '../../../src/usb/ffs-descriptors.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import { TransferReassembler } from '../../../src/usb/packet.ts';
import { configsFromDescriptors, findMuxInterface, guessUsbMode, isAppleMobilePid, locationId, speedBpsFromMbps } from '../../../src/usb/usb-device-info.ts';
import { dashedUdid as serialToUdid } from '../../../src/core/udid.ts';
import type { ConfigDesc, RawConfigDescriptor } from '../../../src/usb/usb-device-info.ts';
import { IN_TRANSFER_SIZE, UsbBulkTransport } from '../../../src/usb/usb-transport.ts';
import type { NativeInEndpoint, NativeInterface, NativeOutEndpoint, NativeUsbDevice, UsbDeviceInfo } from '../../../src/usb/usb-transport.ts';

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

/** libusb-style descriptors of the same iPhone (what `usb` 2.x reports): addresses carry the direction bit. */
const rawEp = (addr: number) => ({ bEndpointAddress: addr, bmAttributes: 2, wMaxPacketSize: 512 });
const rawItf = (n: number, cls: number, sub: number, proto: number, eps: number[]) => ({
  bInterfaceNumber: n,
  bInterfaceClass: cls,
  bInterfaceSubClass: sub,
  bInterfaceProtocol: proto,
  endpoints: eps.map(rawEp),
});
const RAW_IPHONE: RawConfigDescriptor[] = [
  { bConfigurationValue: 1, interfaces: [[rawItf(0, 6, 1, 1, [0x81, 0x02])]] },
  { bConfigurationValue: 2, interfaces: [[rawItf(0, 6, 1, 1, [0x81, 0x02])], [rawItf(1, 0xff, 0xfe, 2, [0x07, 0x86])]] },
];
const RAW_MODE5: RawConfigDescriptor[] = [{ bConfigurationValue: 1, interfaces: [[rawItf(0, 2, 0x0d, 0, [])]] }];

test('configsFromDescriptors: libusb descriptors → endpoint numbers, directions, types; sysfs speed', () => {
  assert.deepEqual(configsFromDescriptors(RAW_IPHONE), IPHONE);
  assert.equal(findMuxInterface(configsFromDescriptors(RAW_MODE5)), undefined);
  assert.equal(speedBpsFromMbps('480'), 480_000_000);
  assert.equal(speedBpsFromMbps('1.5'), 1_500_000);
  assert.equal(speedBpsFromMbps(undefined), 480_000_000);
});

/**
 * A fake `usb` 2.x endpoint pair at the binding boundary. The IN endpoint behaves like node-usb's startPoll: each
 * completion is a view of a fresh `transferSize` buffer (or, with `reuseBuffers`, of one of nTransfers reused ones),
 * a device packet longer than the transfer size arrives as full-size completions plus a short one, and a packet that
 * is a multiple of the transfer size is followed by a ZLP.
 */
class FakeIn extends EventEmitter implements NativeInEndpoint {
  readonly direction = 'in' as const;
  pollActive = false;
  poll: [number, number] | undefined;
  #pool: Buffer[] = [];
  #next = 0;
  constructor(readonly reuseBuffers = false) {
    super();
  }
  startPoll(n: number, size: number): unknown {
    assert.equal(this.pollActive, false);
    this.poll = [n, size];
    this.pollActive = true;
    this.#pool = Array.from({ length: n }, () => Buffer.alloc(size));
    return [];
  }
  stopPoll(cb?: () => void): void {
    if (!this.pollActive) throw new Error('Polling is not active.');
    this.pollActive = false;
    setImmediate(() => {
      this.emit('end');
      cb?.();
    });
  }
  /** One device-side bulk IN transfer (one mux packet). */
  devicePacket(pkt: Buffer): void {
    assert.ok(this.poll, 'no IN transfers submitted');
    const size = this.poll[1];
    const completions: Buffer[] = [];
    for (let off = 0; off < pkt.length; off += size) completions.push(pkt.subarray(off, off + size));
    if (pkt.length % size === 0) completions.push(Buffer.alloc(0));
    for (const c of completions) {
      setImmediate(() => {
        const buf = this.reuseBuffers ? this.#pool[this.#next++ % this.#pool.length]! : Buffer.alloc(size);
        c.copy(buf);
        this.emit('data', buf.subarray(0, c.length));
      });
    }
  }
  fail(msg: string): void {
    this.emit('error', new Error(msg));
    if (this.pollActive) this.stopPoll();
  }
}

function fakeDevice(opts: { current: number; raw?: RawConfigDescriptor[]; claimError?: string; reuseBuffers?: boolean }) {
  const calls: string[] = [];
  const raw = opts.raw ?? RAW_IPHONE;
  let current = opts.current;
  let gone = false;
  const inEp = new FakeIn(opts.reuseBuffers);
  const writes: Buffer[] = [];
  const outEp: NativeOutEndpoint = {
    direction: 'out',
    timeout: 1000,
    transfer(data, cb) {
      if (gone) {
        setImmediate(() => cb(new Error('LIBUSB_TRANSFER_NO_DEVICE'), 0));
        return;
      }
      const b = Buffer.from(data);
      writes.push(b);
      // VERSION request → a phone's v2 reply
      if (b.length >= 8 && b.readUInt32BE(0) === 0) {
        const r = Buffer.alloc(20);
        r.writeUInt32BE(0, 0);
        r.writeUInt32BE(20, 4);
        r.writeUInt32BE(2, 8);
        inEp.devicePacket(r);
      }
      setImmediate(() => cb(undefined, b.length));
    },
  };
  const itf = (n: number): NativeInterface => ({
    interfaceNumber: n,
    claim() {
      calls.push(`claim ${n}`);
      if (opts.claimError) throw new Error(opts.claimError);
    },
    release(_closeEndpoints, cb) {
      calls.push(`release ${n}`);
      setImmediate(() => cb());
    },
    isKernelDriverActive: () => n === 0,
    detachKernelDriver() {
      calls.push(`detach ${n}`);
    },
    endpoint(addr) {
      if (n !== 1) return undefined;
      return addr === 0x86 ? inEp : addr === 0x07 ? outEp : undefined;
    },
  });
  const interfacesOf = (v: number) => (raw.find((c) => c.bConfigurationValue === v)?.interfaces ?? []).map((alts) => itf(alts[0]!.bInterfaceNumber));
  const dev: NativeUsbDevice = {
    busNumber: 1,
    deviceAddress: 2,
    portNumbers: [],
    deviceDescriptor: { idVendor: 0x05ac, idProduct: 0x12a8, iSerialNumber: 3, bcdUSB: 0x200 },
    allConfigDescriptors: raw,
    get configDescriptor() {
      return raw.find((c) => c.bConfigurationValue === current);
    },
    interfaces: undefined,
    open() {
      calls.push('open');
      dev.interfaces = interfacesOf(current);
    },
    close() {
      calls.push('close');
      dev.interfaces = undefined;
    },
    setConfiguration(v, cb) {
      calls.push(`select ${v}`);
      current = v;
      dev.interfaces = interfacesOf(v);
      setImmediate(() => cb());
    },
    interface(n) {
      const i = dev.interfaces?.find((x) => x.interfaceNumber === n);
      if (!i) throw new Error('no such interface');
      return i;
    },
    getStringDescriptor(_i, cb) {
      cb(undefined, '00008030001A2B3C4D5E6F70');
    },
    controlTransfer(_rt, _r, _v, _i, _len, cb) {
      setImmediate(() => cb(gone ? new Error('LIBUSB_ERROR_NO_DEVICE') : undefined, Buffer.alloc(2)));
    },
  };
  const info: UsbDeviceInfo = { udid: '00008030-001A2B3C4D5E6F70', serial: '00008030001A2B3C4D5E6F70', productId: 0x12a8, locationId: 0x10002, speed: 480e6, busNumber: 1, address: 2, device: dev };
  const unplug = (msg: string): void => {
    gone = true;
    inEp.fail(msg);
  };
  return { dev, info, calls, inEp, writes, unplug };
}

test('UsbBulkTransport: unconfigured device → select config 2, claim interface 1, 3 × 16 KiB IN in flight, VERSION v2; unplug → ERR_USB_DETACHED', async () => {
  const { info, calls, inEp, unplug } = fakeDevice({ current: 0 });
  const t = await UsbBulkTransport.open(info);
  assert.deepEqual(calls.slice(0, 3), ['open', 'select 2', 'claim 1']);
  const mux = await HostMux.open(t, { timeoutMs: 2000 });
  assert.deepEqual(inEp.poll, [3, 16384]);
  assert.equal(t.inTransferSize, IN_TRANSFER_SIZE);
  assert.equal(mux.version, 2);
  const closed = once(mux, 'close');
  unplug('LIBUSB_TRANSFER_NO_DEVICE');
  const [err] = await closed;
  assert.equal((err as { code: string }).code, 'ERR_USB_DETACHED');
  await t.close();
  assert.ok(calls.includes('release 1') && calls.at(-1) === 'close');
});

const transportClosed = (t: UsbBulkTransport) => new Promise<Error | undefined>((resolve) => t.onClose(resolve));

test('UsbBulkTransport: an unplug reported as a plain transfer error is still ERR_USB_DETACHED (device probe)', async () => {
  const { info, unplug } = fakeDevice({ current: 2 });
  const t = await UsbBulkTransport.open(info);
  const closed = transportClosed(t);
  t.onData(() => undefined);
  unplug('LIBUSB_TRANSFER_ERROR');
  assert.equal(((await closed) as unknown as { code: string }).code, 'ERR_USB_DETACHED');
  await t.close();
});

test('UsbBulkTransport: a transfer error on a present device is ERR_USB_TRANSFER', async () => {
  const { info, inEp, calls } = fakeDevice({ current: 2 });
  const t = await UsbBulkTransport.open(info);
  const closed = transportClosed(t);
  t.onData(() => undefined);
  inEp.fail('LIBUSB_TRANSFER_OVERFLOW');
  assert.equal(((await closed) as unknown as { code: string }).code, 'ERR_USB_TRANSFER');
  await t.close();
  assert.ok(calls.includes('release 1') && calls.at(-1) === 'close');
});

test('UsbBulkTransport: configuration 1 active → kernel drivers detached from it before switching', async () => {
  const { info, calls } = fakeDevice({ current: 1 });
  const t = await UsbBulkTransport.open(info);
  assert.deepEqual(calls.slice(0, 4), ['open', 'detach 0', 'select 2', 'claim 1']);
  await t.close();
  assert.ok(calls.includes('release 1') && calls.at(-1) === 'close');
  await assert.rejects(t.write(Buffer.alloc(4)), { code: 'ERR_USB_DETACHED' });
});

for (const reuseBuffers of [false, true]) {
  test(`UsbBulkTransport: packets split across 16 KiB completions reassemble by header length (${reuseBuffers ? 'reused' : 'fresh'} buffers)`, async () => {
    const { info, inEp } = fakeDevice({ current: 2, reuseBuffers });
    const t = await UsbBulkTransport.open(info);
    const reasm = new TransferReassembler({ transferSize: t.inTransferSize });
    const chunks: Buffer[] = [];
    const packets: Buffer[] = [];
    t.onData((c) => {
      chunks.push(c);
      const p = reasm.push(c);
      if (p) packets.push(p);
    });
    // 40000 B → 16384 + 16384 + 7232; 32768 B → 16384 + 16384 + ZLP; 100 B whole
    const sent = [40000, 32768, 100].map((n, k) => {
      const b = Buffer.alloc(n, 0x41 + k);
      b.writeUInt32BE(1, 0);
      b.writeUInt32BE(n, 4);
      return b;
    });
    for (const b of sent) inEp.devicePacket(b);
    // the completions arrive on timers: wait for the three packets (a fixed sleep was too short on a loaded machine)
    for (const t0 = Date.now(); packets.length < sent.length && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(packets, sent);
    if (!reuseBuffers) {
      // fresh buffers (node-usb 2.x allocates one per submission): views handed on, every one still intact
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat(sent));
      assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length);
      assert.equal(t.copiedCompletions, 0);
    } else {
      // a binding that reused its buffers would be detected and every later completion copied
      assert.ok(t.copiedCompletions >= chunks.length - 3, `copied ${t.copiedCompletions} of ${chunks.length}`);
    }
    await t.close();
  });
}

test('UsbBulkTransport: typed errors for a busy interface and for USB mode 5', async () => {
  const busy = fakeDevice({ current: 2, claimError: 'LIBUSB_ERROR_BUSY' });
  await assert.rejects(UsbBulkTransport.open(busy.info), { code: 'ERR_USB_BUSY' });
  assert.equal(busy.calls.at(-1), 'close');
  const m5 = fakeDevice({ current: 1, raw: RAW_MODE5 });
  await assert.rejects(UsbBulkTransport.open(m5.info), { code: 'ERR_USB_NO_MUX_INTERFACE' });
});
