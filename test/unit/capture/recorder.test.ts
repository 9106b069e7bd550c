/**
 * Recording: the in-process recorder (recordDuplex) and the recording proxy in front of the emulator produce pcapng
 * files that reassemble to exactly the bytes exchanged, one synthetic TCP stream per connection (port 27015), with
 * SYN/FIN, large writes split into ≤ 65495-byte segments, and the key log in a DSB before the packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { CaptureRecorder, RECORD_SERVER_PORT, recordDuplex } from '../../../src/capture/recorder.ts';
import { startRecordingProxy } from '../../../src/capture/proxy.ts';
import { readPcapng, SECRETS_TLS_KEYLOG } from '../../../src/capture/pcapng.ts';
import { reassemble, parseTcpFrame, TcpFlag } from '../../../src/capture/tcp.ts';
import { decodeCapture } from '../../../src/capture/decode.ts';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';
import { startEmulator } from '../../../src/virtual-iphone/emulator.ts';
import captureCommand from '../../../src/cli/commands/capture.ts';

test('recorder: recordDuplex records both directions of an in-memory stream, byte-exactly', async () => {
  let t = 1_000_000_000_000n;
  const rec = new CaptureRecorder({ now: () => (t += 1000n), resolution: 'ns' });
  const [host, device] = duplexPair();
  const conn = rec.connection();
  const wrapped = recordDuplex(host, conn);
  const big = Buffer.alloc(150_000, 7);
  const got: Buffer[] = [];
  device.on('data', (d: Buffer) => {
    got.push(d);
    if (Buffer.concat(got).length === 5 + big.length) device.end(Buffer.from('reply'));
  });
  const echoed: Buffer[] = [];
  wrapped.on('data', (d: Buffer) => echoed.push(d));
  wrapped.write(Buffer.from('hello'));
  wrapped.write(big);
  await new Promise<void>((r) => wrapped.once('end', () => r()));
  wrapped.destroy();
  rec.addKeylog('CLIENT_RANDOM 0011 2233\n');
  rec.finish();
  assert.equal(Buffer.concat(echoed).toString(), 'reply');
  const pc = readPcapng(rec.bytes(), { strict: true });
  assert.equal(pc.secrets[0]!.type, SECRETS_TLS_KEYLOG);
  assert.equal(pc.secrets[0]!.data.toString(), 'CLIENT_RANDOM 0011 2233\n');
  const segs = pc.packets.map((p) => parseTcpFrame(pc.interfaces[0]!.linkType, p.data)!);
  assert.equal(segs[0]!.flags, TcpFlag.SYN);
  assert.equal(segs[1]!.flags, TcpFlag.SYN | TcpFlag.ACK);
  assert.equal(segs[1]!.ack, (segs[0]!.seq + 1) >>> 0);
  assert.ok(segs.every((s) => s.payload.length <= 65495));
  assert.ok(segs.some((s) => s.flags & TcpFlag.FIN));
  assert.ok(pc.packets.every((p, i) => i === 0 || p.timestampNs! > pc.packets[i - 1]!.timestampNs!));
  const [s] = reassemble(pc.packets, () => pc.interfaces[0]!.linkType);
  assert.equal(s!.server.port, RECORD_SERVER_PORT);
  assert.deepEqual(s!.c2s.data, Buffer.concat([Buffer.from('hello'), big]));
  assert.equal(s!.s2c.data.toString(), 'reply');
});

test('recorder: the proxy records each client connection as its own stream (our client → emulator)', async () => {
  const emu = await startEmulator({ dcimCount: 1, dcim: { scale: 0.002, seed: 3 } });
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const file = join(tmp, 'out.pcapng');
  try {
    const rec = new CaptureRecorder({ file });
    const proxy = await startRecordingProxy({ listen: join(tmp, 'mux.sock'), upstream: emu.address, recorder: rec });
    for (let i = 0; i < 2; i++) {
      const c = await UsbmuxClient.open({ address: proxy.address, timeoutMs: 5000 });
      const list = await c.listDevices({ timeoutMs: 5000 });
      assert.equal(list.length, 1);
      c.close();
    }
    const c = await UsbmuxClient.open({ address: proxy.address, timeoutMs: 5000 });
    assert.match(await c.readBuid({ timeoutMs: 5000 }), /^[0-9A-F-]{36}$/);
    c.close();
    await proxy.close();
    rec.finish();
    assert.equal(proxy.connections, 3);
    const d = decodeCapture(readFileSync(file));
    assert.deepEqual(d.streams.map((s) => [s.request, s.server]), [
      ['ListDevices', `127.0.0.1:${RECORD_SERVER_PORT}`],
      ['ListDevices', `127.0.0.1:${RECORD_SERVER_PORT}`],
      ['ReadBUID', `127.0.0.1:${RECORD_SERVER_PORT}`],
    ]);
    assert.equal(new Set(d.streams.map((s) => s.client)).size, 3);
    const reply = d.streams[0]!.events.find((e) => e.layer === 'usbmux' && e.dir === 's2c');
    assert.ok(reply && reply.layer === 'usbmux' && reply.plist && Array.isArray(reply.plist.DeviceList));
  } finally {
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: `iosdevice capture` prints the address, records until stopped, embeds --keylog', async () => {
  const emu = await startEmulator({ dcimCount: 1, dcim: { scale: 0.002, seed: 3 } });
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const out = join(tmp, 'cap.pcapng');
  const keys = join(tmp, 'keys.log');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(keys, `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}\n`);
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const ac = new AbortController();
  try {
    const printed = new Promise<string>((resolve) => stdout.on('data', () => {
      const m = /USBMUXD_SOCKET_ADDRESS=(\S+)/.exec(text);
      if (m) resolve(m[1]!);
    }));
    const run = captureCommand.run(['--out', out, '--upstream', emu.address, '--keylog', keys], { stdout, stderr: new PassThrough(), env: {}, signal: ac.signal });
    const address = await printed;
    const c = await UsbmuxClient.open({ address, timeoutMs: 5000 });
    await c.listDevices({ timeoutMs: 5000 });
    c.close();
    ac.abort();
    assert.equal(await run, 0);
    assert.match(text, /1 connections recorded/);
    const d = decodeCapture(readFileSync(out));
    assert.equal(d.streams.length, 1);
    assert.equal(d.keylogEntries, 1);
  } finally {
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: recordProvider records our client in-process (lockdown session decrypted, AFC) without a proxy', async () => {
  const { openDevice, connectAfc } = await import('../../../src/connect.ts');
  const { recordProvider } = await import('../../../src/capture/record-provider.ts');
  const emu = await startEmulator({ dcimCount: 2, dcim: { scale: 0.002, seed: 5 } });
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const keylog = join(tmp, 'keys.log');
  try {
    const rec = new CaptureRecorder();
    const dev = recordProvider(await openDevice({ socket: emu.address, env: { SSLKEYLOGFILE: keylog } }, { timeoutMs: 10_000 }), rec);
    const afc = await connectAfc(dev, { autoPair: true, timeoutMs: 20_000, keylog });
    const names = await afc.readdir('/DCIM');
    afc.close();
    rec.addKeylog(readFileSync(keylog));
    rec.finish();
    const d = decodeCapture(rec.bytes());
    assert.deepEqual(d.streams.map((s) => [s.request, s.port, s.protocol]), [['Connect', 62078, 'lockdown'], ['Connect', d.streams[1]!.port, 'afc']]);
    const inTls = d.streams[0]!.events.filter((e) => e.layer === 'lockdown' && e.tls).map((e) => (e.layer === 'lockdown' ? e.plist.Request : ''));
    assert.ok(inTls.includes('StartService'), inTls.join(' '));
    const listing = d.streams[1]!.events.find((e) => e.layer === 'afc' && e.inReplyTo === 'ReadDir');
    assert.ok(listing && listing.layer === 'afc' && names.every((n) => listing.names!.includes(n)));
  } finally {
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: the proxy never deletes a non-socket file at --listen; listen failures and bad --out are ERR_INVALID_ARG', async () => {
  const { writeFileSync, statSync } = await import('node:fs');
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  try {
    const precious = join(tmp, 'notes.txt');
    writeFileSync(precious, 'keep me');
    const rec = new CaptureRecorder();
    await assert.rejects(startRecordingProxy({ listen: precious, upstream: 'UNIX:/nonexistent/usbmuxd', recorder: rec }), { code: 'ERR_INVALID_ARG' });
    assert.equal(readFileSync(precious, 'utf8'), 'keep me');
    await assert.rejects(startRecordingProxy({ listen: join(tmp, 'no', 'such', 'dir.sock'), upstream: 'UNIX:/nonexistent/usbmuxd', recorder: rec }), { code: 'ERR_INVALID_ARG' });
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
    await assert.rejects(captureCommand.run(['--out', join(tmp, 'no', 'such', 'out.pcapng'), '--upstream', 'UNIX:/nonexistent/usbmuxd'], io), { code: 'ERR_INVALID_ARG' });
    // an existing world-readable file is tightened to 0600 (it may embed a TLS key log)
    const out = join(tmp, 'old.pcapng');
    writeFileSync(out, 'x', { mode: 0o644 });
    new CaptureRecorder({ file: out }).finish();
    assert.equal(statSync(out).mode & 0o777, 0o600);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: `iosdevice capture` warns at once when the upstream usbmuxd is not reachable', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const stderr = new PassThrough();
  let err = '';
  const ac = new AbortController();
  const warned = new Promise<void>((resolve) => stderr.on('data', (d: Buffer) => ((err += d.toString()), /warning: usbmuxd/.test(err) && resolve())));
  try {
    const run = captureCommand.run(['--out', join(tmp, 'c.pcapng'), '--upstream', 'UNIX:/nonexistent/usbmuxd'], { stdout: new PassThrough(), stderr, env: {}, signal: ac.signal });
    await warned;
    ac.abort();
    assert.equal(await run, 0);
    assert.match(err, /ENOENT/);
  } finally {
    ac.abort();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: `iosdevice capture --json` prints the address and the final count as JSON lines; device options are refused', async () => {
  const emu = await startEmulator({ dcimCount: 1, dcim: { scale: 0.002, seed: 3 } });
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const stdout = new PassThrough();
  let text = '';
  const ac = new AbortController();
  try {
    const printed = new Promise<string>((resolve) => stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const first = text.split('\n')[0]!;
      if (text.includes('\n')) resolve((JSON.parse(first) as { address: string }).address);
    }));
    const io = { stdout, stderr: new PassThrough(), env: {}, signal: ac.signal };
    const run = captureCommand.run(['--json', '--out', join(tmp, 'c.pcapng'), '--upstream', emu.address], io);
    const address = await printed;
    const c = await UsbmuxClient.open({ address, timeoutMs: 5000 });
    await c.listDevices({ timeoutMs: 5000 });
    c.close();
    ac.abort();
    assert.equal(await run, 0);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual([lines[0]!.event, lines[1]!.event, lines[1]!.connections], ['recording', 'stopped', 1]);
    const io2 = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
    await assert.rejects(captureCommand.run(['--out', join(tmp, 'd.pcapng'), '-u', 'X'], io2), { code: 'ERR_INVALID_ARG' });
  } finally {
    ac.abort();
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('recorder: a recorder that fails to write (disk full) closes that connection and is reported, never an uncaught throw', async () => {
  const { createServer, connect } = await import('node:net');
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-rec-'));
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(join(tmp, 'up.sock'), resolve));
  const failing = {
    connection: () => ({
      c2s() {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
      s2c() {},
      close() {},
    }),
  } as unknown as CaptureRecorder;
  const errors: unknown[] = [];
  try {
    const proxy = await startRecordingProxy({ listen: join(tmp, 'mux.sock'), upstream: `UNIX:${join(tmp, 'up.sock')}`, recorder: failing, onError: (e) => errors.push(e) });
    const c = connect(join(tmp, 'mux.sock'));
    c.on('error', () => {});
    c.write('hello');
    await new Promise((resolve) => c.once('close', resolve));
    assert.equal(errors.length, 1);
    assert.equal(proxy.failure?.code, 'ERR_CAPTURE_WRITE');
    await proxy.close();
  } finally {
    echo.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
