/**
 * Runs inside the QEMU guest (see test/vm/guest/run.sh) against the fake iPhone on dummy_hcd: every check appends
 * `{name, ok, detail, ms}` to $VUSB_OUT/results.json and prints `VMCHECK <ok|FAIL> <name>: <detail>`.
 * Order matters: the direct-USB checks run first, then the real usbmuxd owns the device, then our daemon does.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connectAfc, openDevice } from '../../../src/connect.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { openUsbDevice, listUsbDevices } from '../../../src/providers/usb.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import { UsbBulkTransport } from '../../../src/usb/usb-transport.ts';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';

const OUT = process.env.VUSB_OUT ?? '/tmp';
const MEDIA = '/tmp/vphone/media';
const UDID = readFileSync('/tmp/vphone/ready', 'utf8').trim();
const GADGET_UDC = '/sys/kernel/config/usb_gadget/iphone/UDC';
const results: { name: string; ok: boolean; detail: string; ms: number }[] = [];
const save = (): void => writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 1));

async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
  const t0 = Date.now();
  let ok = false;
  let detail: string;
  try {
    detail = await fn();
    ok = true;
  } catch (e) {
    detail = e instanceof IDeviceError ? `[${e.code}] ${e.message}` : e instanceof Error ? e.message : String(e);
  }
  const ms = Date.now() - t0;
  results.push({ name, ok, detail: detail.slice(0, 2000), ms });
  save();
  console.log(`VMCHECK ${ok ? 'ok' : 'FAIL'} ${name} (${ms} ms): ${detail.split('\n').slice(0, 6).join(' | ')}`);
  return ok;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const cli = (args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 90_000) => run(process.execPath, ['bin/iosdevice.mjs', ...args], { env, timeoutMs });
const expect = (cond: boolean, msg: string): void => {
  if (!cond) throw new Error(msg);
};
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const untilTrue = async (what: string, fn: () => Promise<boolean>, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
};
const plugged = (on: boolean): void => writeFileSync(GADGET_UDC, on ? readFileSync('/tmp/vphone/udc', 'utf8').trim() : '\n');

function spawnBg(cmd: string, args: string[], log: string, env?: NodeJS.ProcessEnv) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const add = (d: Buffer): void => {
    text += d.toString();
    writeFileSync(join(OUT, log), text);
  };
  p.stdout.on('data', add);
  p.stderr.on('data', add);
  return { p, text: () => text };
}

async function stop(p: ReturnType<typeof spawn>): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await once(p, 'close');
  clearTimeout(t);
}

// ---------------------------------------------------------------- direct USB (our host end over `usb` 2.x / libusb)
await check('listUsbDevices finds the virtual iPhone', async () => {
  const d = await listUsbDevices();
  expect(d.some((x) => x.udid === UDID), `found ${JSON.stringify(d.map((x) => x.udid))}`);
  const x = d[0]!;
  return `${x.udid} pid 0x${x.productId.toString(16)} location 0x${x.locationId.toString(16)} speed ${x.speed}`;
});

await check('iosdevice list --usb', async () => {
  const r = await cli(['list', '--usb']);
  expect(r.code === 0 && r.out.includes(UDID), `exit ${r.code}: ${r.out}${r.err}`);
  return r.out.trim();
});

await check('iosdevice info --usb (pairs over USB, TLS session)', async () => {
  const r = await cli(['info', '--usb']);
  expect(r.code === 0 && r.out.includes('17.5'), `exit ${r.code}: ${r.out}${r.err}`);
  return r.out.trim().split('\n').slice(0, 8).join('\n');
});

await check('AFC pull of DCIM over the USB transport is byte-identical', async () => {
  const t0 = Date.now();
  const dev = await openUsbDevice({});
  const done = (): Promise<void> => dev.close();
  try {
    const afc = await connectAfc(dev, { timeoutMs: 30_000 });
    const setupMs = Date.now() - t0;
    const dst = '/tmp/pulled';
    rmSync(dst, { recursive: true, force: true });
    mkdirSync(dst);
    const t1 = Date.now();
    const r = await afc.pull('/DCIM', join(dst, 'DCIM'));
    const ms = Date.now() - t1;
    afc.close();
    let files = 0;
    for await (const f of walkLocal(join(MEDIA, 'DCIM'))) {
      const mine = readFileSync(join(dst, 'DCIM', f));
      expect(sha(mine) === sha(readFileSync(join(MEDIA, 'DCIM', f))), `${f} differs`);
      files++;
    }
    expect(files === r.files && files > 0, `pulled ${r.files} files, device has ${files}`);
    return `${r.files} files, ${r.bytes} bytes identical; session+StartService ${setupMs} ms, pull ${ms} ms (${((r.bytes / ms) * 1000 / 1e6).toFixed(2)} MB/s under TCG)`;
  } finally {
    await done();
  }
});

await check('throughput: 4 MiB AFC read over USB', async () => {
  const big = join(MEDIA, 'big.bin');
  if (!existsSync(big)) writeFileSync(big, randomBytes(4 << 20));
  const dev = await openUsbDevice({});
  try {
    const afc = await connectAfc(dev, { timeoutMs: 30_000 });
    const t0 = Date.now();
    const parts: Buffer[] = [];
    for await (const c of afc.createReadStream('/big.bin')) parts.push(c as Buffer);
    const ms = Date.now() - t0;
    afc.close();
    const got = Buffer.concat(parts);
    expect(got.length === 4 << 20 && got.equals(readFileSync(big)), `read ${got.length} bytes`);
    return `${((got.length / ms) * 1000 / 1e6).toFixed(2)} MB/s (${ms} ms) under TCG`;
  } finally {
    await dev.close();
  }
});

await check('hostile: a 64 KiB OUT packet over real USB → CONTROL error from the device, mux keeps working', async () => {
  const info = (await listUsbDevices())[0]!;
  const t = await UsbBulkTransport.open(info);
  const mux = await HostMux.open(t, { timeoutMs: 15_000 });
  try {
    const log = new Promise<{ level: string; text: string }>((resolve) => mux.once('log', resolve));
    const bad = Buffer.alloc(65536);
    bad.writeUInt32BE(6, 0);
    bad.writeUInt32BE(65536, 4);
    bad.writeUInt32BE(0xfeedface, 8);
    await t.write(bad);
    await t.write(Buffer.alloc(0)); // ZLP: 65536 is a multiple of 512
    const msg = await Promise.race([log, new Promise<never>((_, j) => setTimeout(() => j(new Error('no CONTROL message within 15 s')), 15_000))]);
    expect(msg.level === 'error' && msg.text.includes('65536'), JSON.stringify(msg));
    const ld = new LockdownClient(await mux.connect(62078, { timeoutMs: 15_000 }));
    const type = await ld.queryType({ timeoutMs: 15_000 });
    ld.close();
    expect(t.inTransfers === 3 && t.inTransferSize === 16384, `IN transfers ${t.inTransfers} × ${t.inTransferSize}`);
    return `device said "${msg.text}"; QueryType afterwards: ${type}; IN ${t.inTransfers} × ${t.inTransferSize} B in flight, ${t.copiedCompletions} completions copied`;
  } finally {
    await mux.close();
  }
});

await check('unplug during a direct-USB AFC read → typed ERR_USB_DETACHED, no hang; replug re-enumerates', async () => {
  const dev = await openUsbDevice({});
  try {
    const afc = await connectAfc(dev, { timeoutMs: 30_000 });
    const big = (await afc.readdir('/DCIM/100APPLE')).find((n) => /MOV|HEIC|JPG/i.test(n))!;
    const rs = afc.createReadStream(`/DCIM/100APPLE/${big}`, { chunkSize: 1024, maxInFlight: 1, highWaterMark: 1024 });
    const errP = new Promise<unknown>((resolve) => {
      rs.once('error', resolve);
      rs.once('close', () => resolve(new Error('closed without error')));
    });
    await once(rs, 'data');
    rs.pause();
    const t0 = Date.now();
    plugged(false);
    rs.resume();
    const err = await Promise.race([errP, new Promise((r) => setTimeout(() => r(new Error('hang: no error within 20 s')), 20_000))]);
    const took = Date.now() - t0;
    await dev.close().catch(() => undefined);
    plugged(true);
    await untilTrue('re-enumeration', async () => (await listUsbDevices()).some((d) => d.udid === UDID), 20_000);
    const code = (err as IDeviceError).code;
    const causeCode = ((err as Error).cause as IDeviceError | undefined)?.code;
    expect(code === 'ERR_USB_DETACHED' || causeCode === 'ERR_USB_DETACHED', `got ${code ?? ''} ${(err as Error).message}`);
    return `stream failed with ${code}${causeCode ? ` (cause ${causeCode})` : ''} after ${took} ms; device back on the bus`;
  } finally {
    await dev.close().catch(() => undefined);
  }
});

// ---------------------------------------------------------------- the real usbmuxd 1.1.1 on the same device
{
  const ud = spawnBg('usbmuxd', ['-f', '-v', '-U', 'root'], 'usbmuxd.log');
  await check('real usbmuxd: idevice_id -l lists the virtual iPhone', async () => {
    await untilTrue('idevice_id -l', async () => (await run('idevice_id', ['-l'], { timeoutMs: 10_000 })).out.includes(UDID), 120_000);
    return (await run('idevice_id', ['-l'])).out.trim();
  });
  await check('real usbmuxd: idevicepair pair + ideviceinfo', async () => {
    const p = await run('idevicepair', ['pair'], { timeoutMs: 30_000 });
    expect(p.code === 0, `idevicepair: ${p.out}${p.err}`);
    const r = await run('ideviceinfo', ['-k', 'ProductVersion'], { timeoutMs: 30_000 });
    expect(r.code === 0 && r.out.trim() === '17.5', `ideviceinfo exit ${r.code}: ${r.out}${r.err}`);
    const all = await run('ideviceinfo', [], { timeoutMs: 30_000 });
    expect(all.code === 0 && all.out.includes(`UniqueDeviceID: ${UDID}`), `ideviceinfo: ${all.out.slice(0, 300)}${all.err}`);
    return `${p.out.trim()}; ProductVersion ${r.out.trim()}; ${all.out.split('\n').length} lines`;
  });
  await stop(ud.p);
}

// ---------------------------------------------------------------- our daemon: iosdevice usbmuxd
{
  const sock = 'UNIX:/tmp/iosdevice-usbmuxd.sock';
  const env = { USBMUXD_SOCKET_ADDRESS: sock };
  const daemon = spawnBg(process.execPath, ['bin/iosdevice.mjs', 'usbmuxd', '--socket', sock, '--poll', '500', '-v', '--records', '/tmp/our-lockdown'], 'our-usbmuxd.log');
  await check('iosdevice usbmuxd: idevice_id -l (real libimobiledevice client)', async () => {
    await untilTrue('idevice_id -l via our daemon', async () => (await run('idevice_id', ['-l'], { env, timeoutMs: 10_000 })).out.includes(UDID), 120_000);
    return (await run('idevice_id', ['-l'], { env })).out.trim();
  });
  await check('iosdevice usbmuxd: idevicepair pair + ideviceinfo (TLS through our mux)', async () => {
    const p = await run('idevicepair', ['pair'], { env, timeoutMs: 30_000 });
    expect(p.code === 0, `idevicepair: ${p.out}${p.err}`);
    const r = await run('ideviceinfo', ['-k', 'ProductVersion'], { env, timeoutMs: 30_000 });
    expect(r.code === 0 && r.out.trim() === '17.5', `ideviceinfo exit ${r.code}: ${r.out}${r.err}`);
    expect(existsSync(`/tmp/our-lockdown/${UDID}.plist`), 'no pair record stored in the usbmuxd layout');
    const rec = readFileSync(`/tmp/our-lockdown/${UDID}.plist`, 'utf8');
    expect(rec.startsWith('<?xml'), 'pair record not stored as XML');
    return `${p.out.trim()}; ProductVersion ${r.out.trim()}; record stored as XML`;
  });
  await check('iosdevice usbmuxd: unplug/replug → Detached/Attached, typed error on an open transfer, no hang', async () => {
    const listener = await UsbmuxClient.open({ address: sock });
    const events = listener.listen({ timeoutMs: 10_000 })[Symbol.asyncIterator]();
    const first = (await events.next()).value;
    expect(first?.type === 'attached', `first event ${JSON.stringify(first)}`);
    const dev = await openDevice({ socket: sock });
    const afc = await connectAfc(dev, { timeoutMs: 30_000 });
    const name = (await afc.readdir('/DCIM/100APPLE'))[0]!;
    const rs = afc.createReadStream(`/DCIM/100APPLE/${name}`, { chunkSize: 1024, maxInFlight: 1, highWaterMark: 1024 });
    const errP = new Promise<unknown>((resolve) => {
      rs.once('error', resolve);
      rs.once('end', () => resolve(undefined));
      rs.once('close', () => resolve(new Error('closed')));
    });
    await once(rs, 'data');
    rs.pause();
    const t0 = Date.now();
    plugged(false);
    rs.resume();
    const ev = await Promise.race([events.next(), new Promise<never>((_, j) => setTimeout(() => j(new Error('no Detached within 20 s')), 20_000))]);
    const detachMs = Date.now() - t0;
    expect(ev.value?.type === 'detached', `event ${JSON.stringify(ev.value)}`);
    const err = await Promise.race([errP, new Promise((r) => setTimeout(() => r(new Error('hang')), 20_000))]);
    afc.close();
    plugged(true);
    const t1 = Date.now();
    const ev2 = await Promise.race([events.next(), new Promise<never>((_, j) => setTimeout(() => j(new Error('no Attached within 30 s')), 30_000))]);
    expect(ev2.value?.type === 'attached', `event ${JSON.stringify(ev2.value)}`);
    await events.return?.();
    const e = err as IDeviceError | undefined;
    const what = e === undefined ? 'the read finished before the unplug' : `stream error ${e.code ?? e.message}`;
    expect(e === undefined || e instanceof IDeviceError, `untyped error: ${String(e)}`);
    return `Detached after ${detachMs} ms, ${what}, Attached again after ${Date.now() - t1} ms (DeviceID ${ev2.value?.type === 'attached' ? ev2.value.device.deviceId : '?'})`;
  });
  await stop(daemon.p);
}

async function* walkLocal(root: string, rel = ''): AsyncIterable<string> {
  const { readdirSync, statSync } = await import('node:fs');
  for (const n of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (statSync(join(root, r)).isDirectory()) yield* walkLocal(root, r);
    else yield r;
  }
}

const failed = results.filter((r) => !r.ok).length;
console.log(`VMCHECK summary: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
