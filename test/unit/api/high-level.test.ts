/**
 * The high-level entry (`iosdevice`, imported by package name) against the virtual iPhone: list and watch
 * devices, pair with trust events and AbortSignal, an AFC client in one call with `using`-style disposal,
 * the photo backup with progress events and a summary, and a custom destination layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import {
  backupPhotos,
  connectAfc,
  connectLockdown,
  IDeviceError,
  listDevices,
  openDevice,
  pair,
  photoDevice,
  watchDevices,
  type BackupEvent,
  type DeviceChange,
  type TrustEvent,
} from 'iosdevice';
import { startEmulator } from 'iosdevice/emulator';
import { runBackup, type CustomLayout } from 'iosdevice/photos';

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), 'iosdevice-api-'));

test('listDevices: the attached virtual iPhone, and an empty list once it is detached', async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  try {
    const [d, ...rest] = await listDevices({ socket: emu.address });
    assert.equal(rest.length, 0);
    assert.equal(d!.udid, emu.devices[0]!.udid);
    assert.equal(d!.connectionType, 'USB');
    emu.detach();
    assert.deepEqual(await listDevices({ socket: emu.address }), []);
  } finally {
    await emu.close();
  }
});

test('listDevices: no usbmuxd at the address is ERR_USBMUX_UNREACHABLE', async () => {
  await assert.rejects(listDevices({ socket: 'UNIX:/nonexistent/iosdevice.sock' }), { code: 'ERR_USBMUX_UNREACHABLE', name: 'UsbmuxUnreachableError' });
});

test('watchDevices: attached first, then detach/attach with the UDID; the signal ends the loop with ERR_ABORTED', async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  const udid = emu.devices[0]!.udid;
  const ac = new AbortController();
  const seen: DeviceChange[] = [];
  try {
    await assert.rejects(
      (async () => {
        for await (const c of watchDevices({ socket: emu.address, signal: ac.signal })) {
          seen.push(c);
          if (seen.length === 1) emu.detach();
          else if (seen.length === 2) emu.attach();
          else ac.abort();
        }
      })(),
      (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_ABORTED',
    );
    assert.deepEqual(seen.map((c) => [c.type, c.udid]), [['attached', udid], ['detached', udid], ['attached', udid]]);
    assert.notEqual((seen[2] as { device: { deviceId: number } }).device.deviceId, (seen[0] as { device: { deviceId: number } }).device.deviceId);
  } finally {
    await emu.close();
  }
});

test('watchDevices: leaving the loop with break closes the usbmuxd connection', { timeout: 20_000 }, async () => {
  const emu = await startEmulator({ dcimCount: 1 });
  const dir = await tmp();
  // a pass-through socket in front of the emulator shows when the client side closes
  let closed!: () => void;
  const clientClosed = new Promise<void>((r) => (closed = r));
  const proxy = createServer((c) => {
    const up = connect(emu.address.slice('UNIX:'.length));
    c.pipe(up).pipe(c);
    c.on('error', () => {});
    up.on('error', () => {});
    c.on('close', () => {
      up.destroy();
      closed();
    });
  });
  await new Promise<void>((r) => proxy.listen(join(dir, 'mux.sock'), r));
  try {
    for await (const c of watchDevices({ socket: `UNIX:${join(dir, 'mux.sock')}` })) {
      assert.equal(c.type, 'attached');
      break;
    }
    await clientClosed;
  } finally {
    proxy.close();
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('pair: trust events while the dialog waits, a saved record that opens a session', async () => {
  const emu = await startEmulator({ dcimCount: 1, trust: 'prompt', name: 'Test iPhone', iosVersion: '17.5' });
  try {
    const phone = emu.devices[0]!.iphone;
    phone.lockdown.once('dialog', () => setImmediate(() => phone.lockdown.tapTrust()));
    const dev = await openDevice({ socket: emu.address });
    const events: TrustEvent['type'][] = [];
    const record = await pair(dev, { onTrustEvent: (e) => events.push(e.type), timeoutMs: 10_000 });
    assert.deepEqual(events, ['waiting-for-trust', 'paired']);
    assert.ok(phone.lockdown.trustedHostIds().includes(record.HostID));
    assert.equal((await dev.pairRecords.read(dev.udid))?.HostID, record.HostID);
    const lockdown = await connectLockdown(dev, { autoPair: false });
    try {
      assert.equal(await lockdown.getValue('DeviceName'), 'Test iPhone');
      assert.equal(await lockdown.getValue('ProductVersion'), '17.5');
    } finally {
      lockdown.close();
    }
  } finally {
    await emu.close();
  }
});

test('pair: "Don\'t Trust" is ERR_PAIRING_DENIED and an abort is ERR_ABORTED; neither saves a record', async () => {
  const emu = await startEmulator({ dcimCount: 1, trust: 'deny' });
  try {
    const dev = await openDevice({ socket: emu.address });
    const events: string[] = [];
    await assert.rejects(pair(dev, { onTrustEvent: (e) => events.push(e.type) }), { code: 'ERR_PAIRING_DENIED', name: 'PairingError' });
    assert.deepEqual(events, ['denied']);
    emu.devices[0]!.iphone.lockdown.trust = 'prompt';
    const ac = new AbortController();
    emu.devices[0]!.iphone.lockdown.once('dialog', () => ac.abort(new Error('user closed the window')));
    await assert.rejects(pair(dev, { signal: ac.signal }), { code: 'ERR_ABORTED' });
    assert.equal(await dev.pairRecords.read(dev.udid), undefined);
  } finally {
    await emu.close();
  }
});

test('connectAfc: walk /DCIM, stream a file byte for byte, Symbol.dispose closes the client', async () => {
  const emu = await startEmulator({ dcimCount: 3 });
  try {
    const dev = await openDevice({ socket: emu.address });
    const afc = await connectAfc(dev);
    const files: { path: string; size: number }[] = [];
    for await (const { path, info } of afc.walk('/DCIM')) if (info.type === 'file') files.push({ path, size: info.size });
    const want = emu.devices[0]!.manifest!.files;
    assert.equal(files.length, want.length);
    const first = files.sort((a, b) => (a.path < b.path ? -1 : 1))[0]!;
    const chunks: Buffer[] = [];
    let progress = 0;
    for await (const c of afc.createReadStream(first.path) as AsyncIterable<Buffer>) {
      chunks.push(c);
      progress += c.length;
    }
    assert.equal(progress, first.size);
    assert.ok(Buffer.concat(chunks).equals(await readFile(join(emu.devices[0]!.mediaDir, first.path))));
    afc[Symbol.dispose]();
    await assert.rejects(afc.stat('/DCIM'), { code: 'ERR_CLOSED' });
  } finally {
    await emu[Symbol.asyncDispose]();
  }
});

test('backupPhotos: pairs on first use, progress events and a summary; a rerun copies nothing', async () => {
  const emu = await startEmulator({ dcimCount: 6, trust: 'auto', trustDelayMs: 50 });
  const dest = await tmp();
  try {
    const dev = await openDevice({ socket: emu.address });
    const trust: string[] = [];
    const events: BackupEvent['type'][] = [];
    const s = await backupPhotos(dev, { dest, onTrustEvent: (e) => trust.push(e.type), onEvent: (e) => events.push(e.type) });
    assert.ok(trust.includes('paired'));
    const n = emu.devices[0]!.manifest!.files.length;
    assert.equal(s.copied, n);
    assert.equal(s.failed.length, 0);
    assert.ok(events.includes('plan') && events.includes('progress') && events.includes('file'));
    const again = await backupPhotos(dev, { dest });
    assert.equal(again.copied, 0);
    assert.equal(again.skipped, n);
  } finally {
    await emu.close();
    await rm(dest, { recursive: true, force: true });
  }
});

test('runBackup with a CustomLayout: files go where folderFor says, groups together; an unsafe folder is refused per file', async () => {
  const emu = await startEmulator({ dcimCount: 6 });
  const dest = await tmp();
  const bad = await tmp();
  try {
    const dev = await openDevice({ socket: emu.address });
    await pair(dev);
    const byMonth: CustomLayout = { needsCaptureDate: true, folderFor: (_f, captured) => ['by-month', captured?.slice(0, 7) ?? 'undated'] };
    const s = await runBackup({ dest, device: photoDevice(dev), layout: byMonth });
    const n = emu.devices[0]!.manifest!.files.length;
    assert.equal(s.copied, n);
    const months = await readdir(join(dest, 'by-month'));
    assert.ok(months.length > 0 && months.every((m) => /^\d{4}-\d{2}$/.test(m)), months.join());
    let placed = 0;
    for (const m of months) placed += (await readdir(join(dest, 'by-month', m))).length;
    assert.equal(placed, n);
    const evil: CustomLayout = { folderFor: () => ['..', 'escaped'] };
    const r = await runBackup({ dest: bad, device: photoDevice(dev), layout: evil });
    assert.equal(r.copied, 0);
    assert.equal(r.failed.length, n);
    assert.ok(r.failed.every((f) => f.code === 'ERR_PHOTOS_UNSAFE_PATH'));
    assert.deepEqual((await readdir(bad)).filter((x) => x !== '.iosdevice'), []);
  } finally {
    await emu.close();
    await rm(dest, { recursive: true, force: true });
    await rm(bad, { recursive: true, force: true });
  }
});
