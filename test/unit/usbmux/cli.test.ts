/** `iosdevice list` / `iosdevice listen` against our server (unix socket), through the CLI entry point. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main.ts';
import { UDID, startRig, usbRecord } from './fixtures.ts';

function io(env: NodeJS.ProcessEnv = {}, signal = new AbortController().signal) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  /** Resolves once the stream's text so far matches (event-driven, no polling). */
  const waitFor = (which: 'stdout' | 'stderr', re: RegExp): Promise<void> =>
    new Promise((resolve) => {
      const s = which === 'stdout' ? out : err;
      const check = (): void => {
        if (re.test(which === 'stdout' ? stdout : stderr)) {
          s.off('data', check);
          resolve();
        }
      };
      s.on('data', check);
      check();
    });
  return { io: { stdout: out, stderr: err, env, signal }, text: () => ({ stdout, stderr }), waitFor };
}

test('list: human and --json output; --socket beats USBMUXD_SOCKET_ADDRESS', async () => {
  const rig = await startRig();
  try {
    const a = io({ USBMUXD_SOCKET_ADDRESS: 'UNIX:/nonexistent/sock' });
    assert.equal(await main(['list', '--socket', rig.address], a.io), 0);
    assert.match(a.text().stdout, new RegExp(`^${UDID}\\s+USB\\s+id 1\\s+product 0x12a8`));
    const b = io({ USBMUXD_SOCKET_ADDRESS: rig.address });
    assert.equal(await main(['list', '--json'], b.io), 0);
    assert.deepEqual(JSON.parse(b.text().stdout), [{ udid: UDID, deviceId: 1, connectionType: 'USB', productId: 4776, locationId: 0x00210003, speed: 480000000 }]);
    rig.backend.detach(1);
    const c = io();
    assert.equal(await main(['list', '--json', '--socket', rig.address], c.io), 0);
    assert.deepEqual(JSON.parse(c.text().stdout), []);
  } finally {
    await rig.cleanup();
  }
});

test('list: no usbmuxd reachable → exit 3, says how to start one (--socket UNIX:/path or /path); a bare path in the environment → exit 2', async () => {
  for (const socket of ['UNIX:/nonexistent/usbmuxd', '/nonexistent/usbmuxd']) {
    const a = io();
    assert.equal(await main(['list', '--socket', socket], a.io), 3);
    assert.match(a.text().stderr, /ERR_USBMUX_UNREACHABLE/);
    assert.match(a.text().stderr, /usbmuxd -f/);
    assert.match(a.text().stderr, /iosdevice emulator/);
  }
  const b = io({ USBMUXD_SOCKET_ADDRESS: '/var/run/usbmuxd' });
  assert.equal(await main(['list'], b.io), 2);
  assert.match(b.text().stderr, /ERR_INVALID_ARG/);
});

test('listen: present device then live events, --json lines, --count', async () => {
  const rig = await startRig();
  try {
    const a = io();
    const done = main(['listen', '--json', '--count', '3', '--socket', rig.address], a.io);
    // Once the CLI reports that it is listening, change the device set.
    await a.waitFor('stderr', /listening on/);
    rig.backend.attach(usbRecord(2, '00008101-000A11223344556E'));
    rig.backend.detach(2);
    assert.equal(await done, 0);
    const lines = a.text().stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.event, l.deviceId]), [['attached', 1], ['attached', 2], ['detached', 2]]);
    assert.equal(lines[1]!.udid, '00008101-000A11223344556E');
  } finally {
    await rig.cleanup();
  }
});

test('listen: Ctrl-C (signal) ends with exit 0', async () => {
  const rig = await startRig();
  try {
    const ac = new AbortController();
    const a = io({}, ac.signal);
    const done = main(['listen', '--socket', rig.address], a.io);
    await a.waitFor('stdout', /attached/);
    ac.abort();
    assert.equal(await done, 0);
    assert.match(a.text().stdout, new RegExp(`^attached\\s+${UDID}`));
  } finally {
    await rig.cleanup();
  }
});

test('listen -u: only that device’s events (detach matched by its id), counted', async () => {
  const rig = await startRig();
  try {
    const other = '00008101-000A11223344556E';
    const a = io();
    const done = main(['listen', '--json', '--count', '2', '-u', other, '--socket', rig.address], a.io);
    await a.waitFor('stderr', /listening on/);
    rig.backend.attach(usbRecord(2, other));
    rig.backend.detach(1);
    rig.backend.detach(2);
    assert.equal(await done, 0);
    const lines = a.text().stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.event, l.deviceId]), [['attached', 2], ['detached', 2]]);
  } finally {
    await rig.cleanup();
  }
});
