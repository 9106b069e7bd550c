import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main.ts';
import { UsbmuxServer } from '../../../src/usbmux/server.ts';
import { RecordStoreBackend } from '../../../src/usbmux/store-backend.ts';
import { DirectoryRecordStore } from '../../../src/usbmux/record-store.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function io(): { stdout: PassThrough; stderr: PassThrough; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { stdout, stderr, out: () => o, err: () => e };
}

test('--json: a failure is also printed as one JSON object with the stable code', async () => {
  const x = io();
  const rc = await main(['list', '--json', '--socket', 'UNIX:/nonexistent/iosdevice-test.sock'], { stdout: x.stdout, stderr: x.stderr });
  assert.equal(rc, 3, 'exit 3: usbmuxd (so the device) unreachable, per the exit-code contract');
  const obj = JSON.parse(x.out().trim()) as { error: { code: string; message: string } };
  assert.equal(obj.error.code, 'ERR_USBMUX_UNREACHABLE');
  assert.match(x.err(), /ERR_USBMUX_UNREACHABLE/);
});

test('listening on an address in use is ERR_USBMUX_LISTEN_FAILED, not a raw node error', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), 'iosdevice-cli-'));
  const server = new UsbmuxServer(new RecordStoreBackend({ store: new DirectoryRecordStore(dir) }));
  try {
    await assert.rejects(server.listen(`127.0.0.1:${port}`), { code: 'ERR_USBMUX_LISTEN_FAILED', name: 'UsbmuxListenError' });
  } finally {
    await server.close();
    blocker.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a daemon/device connection that closes while a reply is awaited (ERR_CLOSED) exits 3: the device is lost (chaos: kill -9 of the device side during set-up)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'iosdevice-cli-'));
  const path = join(dir, 'mux.sock');
  const server = createServer((s) => s.once('data', () => s.destroy()));
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const x = io();
    const rc = await main(['list', '--json', '--socket', `UNIX:${path}`], { stdout: x.stdout, stderr: x.stderr });
    const obj = JSON.parse(x.out().trim()) as { error: { code: string } };
    assert.equal(obj.error.code, 'ERR_CLOSED');
    assert.equal(rc, 3, 'exit 3: the device (its daemon connection) was lost, per the exit-code contract');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
});
