/**
 * The emulator through our own usbmux/lockdown/AFC clients over its real unix socket: Listen events on
 * attach/detach (DeviceIDs move on like a re-enumeration), a detach in the middle of an AFC transfer, link shaping
 * measured end to end, service routing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectAfc, connectLockdown, openDevice } from '../../../src/connect.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';
import type { DeviceEvent } from '../../../src/usbmux/device.ts';
import type { Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { startTestEmulator } from '../../support/emulator.ts';

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof IDeviceError && e.code === code;
}

/** Reads a whole AFC file as a stream and hashes it. */
async function readAll(s: NodeJS.ReadableStream): Promise<{ bytes: number; sha: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha: h.digest('hex') };
}

describe('emulator over its usbmuxd socket', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startTestEmulator({ udid: '00008120-00000000000E0001' });
  });
  after(async () => {
    await emu?.close();
  });

  test('ListDevices shows a USB iPhone with the properties of a real one', async () => {
    const c = await UsbmuxClient.open({ address: emu.address });
    try {
      const list = await c.listDevices();
      assert.equal(list.length, 1);
      const d = list[0]!;
      assert.equal(d.deviceId, 1);
      assert.equal(d.udid, '00008120-00000000000E0001');
      assert.equal(d.connectionType, 'USB');
      assert.equal(d.productId, 4776);
      assert.equal(d.speed, 480_000_000);
      assert.equal(d.properties.SerialNumber, '00008120-00000000000E0001');
      assert.equal(typeof d.properties.LocationID, 'number');
    } finally {
      c.close();
    }
  });

  test('unknown services are InvalidService; a port nobody offered is refused (Result 3)', async () => {
    const dev = await openDevice({ socket: emu.address });
    const lockdown = await connectLockdown(dev);
    try {
      await assert.rejects(lockdown.startService('com.apple.nonexistent'), isCode('ERR_LOCKDOWN_INVALID_SERVICE'));
      const { port } = await lockdown.startService('com.apple.crashreportmover');
      const mover = await dev.connect(port);
      assert.equal((await readAll(mover)).bytes, 4); // "ping", then closed
    } finally {
      lockdown.close();
    }
    await assert.rejects(dev.connect(61000), isCode('ERR_USBMUX_CONNREFUSED'));
  });

  test('detach in the middle of an AFC read: the read fails, Listen sees Detached, re-attach gets a new DeviceID', async () => {
    const big = join(emu.devices[0]!.mediaDir, 'Downloads', 'big.bin');
    await writeFile(big, randomBytes(3 * 1024 * 1024));
    const listener = await UsbmuxClient.open({ address: emu.address });
    const events: DeviceEvent[] = [];
    const it = listener.listen()[Symbol.asyncIterator]();
    const next = async (): Promise<DeviceEvent> => {
      const r = await it.next();
      assert.ok(!r.done);
      events.push(r.value);
      return r.value;
    };
    try {
      const first = await next();
      assert.equal(first.type, 'attached');
      const dev = await openDevice({ socket: emu.address });
      const afc = await connectAfc(dev);
      emu.devices[0]!.iphone.armFault({ kind: 'detach', afterBytes: 1024 * 1024 });
      // the connection closes in the middle of a DATA packet: a truncation (ERR_PROTOCOL) or a close (ERR_CLOSED)
      await assert.rejects(
        readAll(afc.createReadStream('/Downloads/big.bin')),
        (e: unknown) => e instanceof IDeviceError && ['ERR_PROTOCOL', 'ERR_CLOSED'].includes(e.code),
      );
      afc.close();
      const gone = await next();
      assert.deepEqual(gone, { type: 'detached', deviceId: 1 });
      assert.equal(emu.devices[0]!.attached, false);
      // the emulator's usbmuxd answers BADDEV for the stale DeviceID; a provider looks its UDID up: not attached
      await assert.rejects((await UsbmuxClient.open({ address: emu.address })).connect(1, 62078), isCode('ERR_USBMUX_BADDEV'));
      await assert.rejects(dev.connect(62078), isCode('ERR_DEVICE_NOT_FOUND'));

      emu.attach();
      const back = await next();
      assert.equal(back.type, 'attached');
      assert.equal(back.type === 'attached' && back.device.deviceId, 2);
      const dev2 = await openDevice({ socket: emu.address });
      assert.equal(dev2.deviceId, 2);
      const afc2 = await connectAfc(dev2);
      try {
        assert.equal((await afc2.stat('/Downloads/big.bin')).size, 3 * 1024 * 1024);
      } finally {
        afc2.close();
      }
    } finally {
      await it.return?.();
      listener.close();
    }
  });
});

describe('emulator link profile usb2, measured through usbmux + AFC', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startTestEmulator({ link: 'usb2', dcimCount: 1 });
  });
  after(async () => {
    await emu?.close();
  });

  test('an 8 MiB AFC read runs at about 40 MB/s (ratio reported, generous bounds)', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    await writeFile(join(emu.devices[0]!.mediaDir, 'Downloads', 'rate.bin'), data);
    const dev = await openDevice({ socket: emu.address });
    const afc = await connectAfc(dev);
    try {
      const t0 = performance.now();
      const got = await readAll(afc.createReadStream('/Downloads/rate.bin'));
      const ms = performance.now() - t0;
      assert.equal(got.bytes, data.length);
      assert.equal(got.sha, createHash('sha256').update(data).digest('hex'));
      const expectedMs = (data.length / 40_000_000) * 1000;
      const ratio = ms / expectedMs;
      console.log(`usb2 via AFC: ${(data.length / ms / 1000).toFixed(1)} MB/s, time ratio actual/expected = ${ratio.toFixed(2)}`);
      assert.ok(ratio > 0.75 && ratio < 5, `ratio ${ratio}`);
    } finally {
      afc.close();
    }
  });
});
