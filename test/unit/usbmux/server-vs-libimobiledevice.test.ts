/**
 * Our UsbmuxServer against the REAL libimobiledevice/libusbmuxd tools (Debian), which need no
 * device for these: idevice_id -l (ListDevices), idevicepair systembuid (ReadBUID), iproxy (Connect
 * + raw pipe, both directions, device that speaks first). Each child has a hard timeout and is killed in finally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { promisify } from 'node:util';
import { skipUnlessTools } from '../../support/peers.ts';
import { UDID, startRig } from './fixtures.ts';

const run = promisify(execFile);

test('idevice_id -l lists the backend device by its dashed UDID', { skip: skipUnlessTools('idevice_id') }, async () => {
  const rig = await startRig();
  try {
    const r = await run('idevice_id', ['-l'], { env: { ...process.env, USBMUXD_SOCKET_ADDRESS: rig.address }, timeout: 10_000 });
    assert.equal(r.stdout, `${UDID}\n`);
  } finally {
    await rig.cleanup();
  }
});

test('idevice_id -n / -l separate Network and USB records (NetworkAddress sockaddr accepted by libusbmuxd)', { skip: skipUnlessTools('idevice_id') }, async () => {
  const rig = await startRig();
  try {
    const netUdid = '00008101-000A11223344556E';
    rig.backend.attach({
      deviceId: 2,
      properties: {
        ConnectionType: 'Network',
        DeviceID: 2,
        EscapedFullServiceName: 'aa:bb:cc:dd:ee:ff@fe80::1._apple-mobdev2._tcp.local.',
        InterfaceIndex: 4,
        NetworkAddress: Buffer.from('1002f27ec0a80114' + '00'.repeat(8), 'hex'),
        SerialNumber: netUdid,
      },
    });
    const env = { ...process.env, USBMUXD_SOCKET_ADDRESS: rig.address };
    assert.equal((await run('idevice_id', ['-n'], { env, timeout: 10_000 })).stdout, `${netUdid}\n`);
    assert.equal((await run('idevice_id', ['-l'], { env, timeout: 10_000 })).stdout, `${UDID}\n`);
  } finally {
    await rig.cleanup();
  }
});

test('idevicepair systembuid prints our stored SystemBUID', { skip: skipUnlessTools('idevicepair') }, async () => {
  const rig = await startRig();
  try {
    const r = await run('idevicepair', ['systembuid'], { env: { ...process.env, USBMUXD_SOCKET_ADDRESS: rig.address }, timeout: 10_000 });
    assert.equal(r.stdout.trim(), await rig.store.systemBuid());
  } finally {
    await rig.cleanup();
  }
});

/** True when the kernel lists a TCP socket in LISTEN state on `port` (Linux /proc/net/tcp{,6}). */
function isListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      return false;
    }
    return text.split('\n').some((line) => {
      const cols = line.trim().split(/\s+/);
      return cols[1]?.endsWith(hex) === true && cols[3] === '0A';
    });
  });
}

/** `n` distinct free TCP ports (all held open while choosing, so they cannot repeat). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  return ports;
}

test('iproxy forwards through our Connect: echo both ways, and a device that speaks first', { skip: skipUnlessTools('iproxy') }, async () => {
  const rig = await startRig();
  const [echoPort, pingPort] = (await freePorts(2)) as [number, number];
  const child = spawn('iproxy', [`${echoPort}:62078`, `${pingPort}:1234`, '-u', UDID], {
    env: { ...process.env, USBMUXD_SOCKET_ADDRESS: rig.address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    // iproxy's stdout is block-buffered on a pipe, and probing its ports with connections races with its
    // per-connection threads (seen: a later connection's data never forwarded). Wait (bounded) until the
    // kernel lists both ports as LISTEN instead.
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!(isListening(echoPort) && isListening(pingPort))) {
      if (exited || Date.now() > deadline) throw new Error(`iproxy did not listen on ${echoPort}/${pingPort}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const talk = async (port: number, send: string | undefined, want: string): Promise<string> => {
      const s = netConnect(port, '127.0.0.1');
      await once(s, 'connect');
      if (send) s.write(send);
      let got = '';
      for await (const c of s) {
        got += (c as Buffer).toString();
        if (got.length >= want.length) break;
      }
      s.destroy();
      return got;
    };
    assert.equal(await talk(echoPort, 'hello through iproxy', 'hello through iproxy'), 'hello through iproxy');
    assert.equal(await talk(pingPort, undefined, 'ping'), 'ping');
  } finally {
    clearTimeout(hard);
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    await rig.cleanup();
  }
});

test('TCP listen address (127.0.0.1:0 → bound port): idevice_id -l over TCP', { skip: skipUnlessTools('idevice_id') }, async () => {
  const rig = await startRig();
  try {
    const tcp = await rig.server.listen('127.0.0.1:0');
    assert.match(tcp, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(tcp, '127.0.0.1:0');
    const r = await run('idevice_id', ['-l'], { env: { ...process.env, USBMUXD_SOCKET_ADDRESS: tcp }, timeout: 10_000 });
    assert.equal(r.stdout, `${UDID}\n`);
  } finally {
    await rig.cleanup();
  }
});

test('what libusbmuxd sends: the requests our server receives from idevice_id are the documented ones', { skip: skipUnlessTools('idevice_id') }, async () => {
  const rig = await startRig();
  const { UsbmuxRequestDecoder } = await import('../../../src/usbmux/server-codec.ts');
  const seen: unknown[] = [];
  // Spy: decode every client's bytes alongside the real handler.
  const origHandle = rig.server.handle.bind(rig.server);
  const { createServer } = await import('node:net');
  const { join } = await import('node:path');
  const spy = createServer((sock) => {
    const dec = new UsbmuxRequestDecoder();
    sock.on('data', (c: Buffer) => {
      dec.push(c);
      for (let r = dec.next(); r; r = dec.next()) seen.push(r);
    });
    origHandle(sock);
  });
  const path = join(rig.dir, 'spy.sock');
  await new Promise<void>((r) => spy.listen(path, r));
  try {
    await run('idevice_id', ['-l'], { env: { ...process.env, USBMUXD_SOCKET_ADDRESS: `UNIX:${path}` }, timeout: 10_000 });
    assert.equal(seen.length, 1);
    const req = seen[0] as { kind: string; version: number; tag: number; plist: Record<string, unknown> };
    assert.equal(req.kind, 'plist');
    assert.equal(req.version, 1);
    assert.equal(req.plist.MessageType, 'ListDevices');
    assert.equal(req.plist.ClientVersionString, 'libusbmuxd 2.0.2');
    assert.equal(req.plist.kLibUSBMuxVersion, 3);
    assert.equal(req.plist.ProgName, 'idevice_id');
  } finally {
    spy.close();
    await rig.cleanup();
  }
});
