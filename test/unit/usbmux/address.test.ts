import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import { defaultMuxAddress, formatMuxAddress, parseMuxAddress, resolveUsbmuxAddress } from '../../../src/usbmux/address.ts';

test('USBMUXD_SOCKET_ADDRESS forms', () => {
  assert.deepEqual(parseMuxAddress('UNIX:/tmp/mux.sock', 'linux'), { kind: 'unix', path: '/tmp/mux.sock' });
  assert.deepEqual(parseMuxAddress('127.0.0.1:27015', 'linux'), { kind: 'tcp', host: '127.0.0.1', port: 27015 });
  assert.deepEqual(parseMuxAddress('[::1]:9876', 'linux'), { kind: 'tcp', host: '::1', port: 9876 });
  assert.deepEqual(parseMuxAddress('localhost:1', 'linux'), { kind: 'tcp', host: 'localhost', port: 1 });
  assert.equal(formatMuxAddress({ kind: 'tcp', host: '::1', port: 9876 }), '[::1]:9876');
  assert.equal(formatMuxAddress({ kind: 'unix', path: '/x' }), 'UNIX:/x');
});

test('bad addresses give ERR_INVALID_ARG (a bare path is not silently ignored)', () => {
  for (const bad of ['/var/run/usbmuxd', './sock', 'UNIX:', 'unix:/x', 'host', 'host:0', 'host:65536', 'host:abc', ':27015', '[::1:27015', 'host:']) {
    assert.throws(() => parseMuxAddress(bad, 'linux'), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG', bad);
  }
  assert.throws(() => parseMuxAddress('UNIX:/x', 'win32'), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('resolution order: explicit > env > platform default', () => {
  const env = { USBMUXD_SOCKET_ADDRESS: 'UNIX:/env.sock' };
  assert.deepEqual(resolveUsbmuxAddress('127.0.0.1:5', env, 'linux'), { kind: 'tcp', host: '127.0.0.1', port: 5 });
  assert.deepEqual(resolveUsbmuxAddress(undefined, env, 'linux'), { kind: 'unix', path: '/env.sock' });
  assert.deepEqual(resolveUsbmuxAddress(undefined, { USBMUXD_SOCKET_ADDRESS: '' }, 'linux'), { kind: 'unix', path: '/var/run/usbmuxd' });
  assert.deepEqual(resolveUsbmuxAddress(undefined, {}, 'darwin'), { kind: 'unix', path: '/var/run/usbmuxd' });
  assert.deepEqual(resolveUsbmuxAddress(undefined, {}, 'win32'), { kind: 'tcp', host: '127.0.0.1', port: 27015 });
  assert.throws(() => resolveUsbmuxAddress(undefined, { USBMUXD_SOCKET_ADDRESS: '/bare/path' }, 'linux'), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('an explicit address (--socket, the socket option) may be a bare absolute path; relative paths and Windows still refuse it', () => {
  const env = { USBMUXD_SOCKET_ADDRESS: 'UNIX:/env.sock' };
  assert.deepEqual(resolveUsbmuxAddress('/tmp/x.sock', env, 'linux'), { kind: 'unix', path: '/tmp/x.sock' });
  assert.deepEqual(resolveUsbmuxAddress(' /tmp/x.sock ', env, 'darwin'), { kind: 'unix', path: '/tmp/x.sock' });
  assert.deepEqual(resolveUsbmuxAddress('UNIX:/tmp/x.sock', env, 'linux'), { kind: 'unix', path: '/tmp/x.sock' });
  for (const bad of ['./x.sock', '~/x.sock']) {
    assert.throws(() => resolveUsbmuxAddress(bad, env, 'linux'), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
  }
  assert.throws(() => resolveUsbmuxAddress('/tmp/x.sock', env, 'win32'), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('the platform default is a pure function of (platform, env): Windows TCP 127.0.0.1:27015, macOS and Linux /var/run/usbmuxd; USBMUXD_SOCKET_ADDRESS wins on each', () => {
  const table: [NodeJS.Platform, object][] = [
    ['win32', { kind: 'tcp', host: '127.0.0.1', port: 27015 }],
    ['darwin', { kind: 'unix', path: '/var/run/usbmuxd' }],
    ['linux', { kind: 'unix', path: '/var/run/usbmuxd' }],
  ];
  for (const [platform, want] of table) {
    assert.deepEqual(defaultMuxAddress(platform), want, platform);
    assert.deepEqual(resolveUsbmuxAddress(undefined, {}, platform), want, platform);
    assert.deepEqual(resolveUsbmuxAddress(undefined, { USBMUXD_SOCKET_ADDRESS: '  ' }, platform), want, `${platform}: blank env = unset`);
    // the environment overrides the default everywhere (TCP on every platform; a unix socket only off Windows)
    assert.deepEqual(resolveUsbmuxAddress(undefined, { USBMUXD_SOCKET_ADDRESS: '192.168.1.5:27015' }, platform), { kind: 'tcp', host: '192.168.1.5', port: 27015 }, platform);
    if (platform !== 'win32') assert.deepEqual(resolveUsbmuxAddress(undefined, { USBMUXD_SOCKET_ADDRESS: 'UNIX:/tmp/m.sock' }, platform), { kind: 'unix', path: '/tmp/m.sock' });
    // and --socket overrides the environment
    assert.deepEqual(resolveUsbmuxAddress('127.0.0.1:1', { USBMUXD_SOCKET_ADDRESS: '192.168.1.5:27015' }, platform), { kind: 'tcp', host: '127.0.0.1', port: 1 });
    assert.equal(formatMuxAddress(resolveUsbmuxAddress(undefined, {}, platform)), platform === 'win32' ? '127.0.0.1:27015' : 'UNIX:/var/run/usbmuxd');
  }
  // the same inputs give the same answer whatever this process runs on (nothing read from process.*)
  const saved = process.env.USBMUXD_SOCKET_ADDRESS;
  process.env.USBMUXD_SOCKET_ADDRESS = 'UNIX:/elsewhere';
  try {
    assert.deepEqual(resolveUsbmuxAddress(undefined, {}, 'win32'), { kind: 'tcp', host: '127.0.0.1', port: 27015 });
  } finally {
    if (saved === undefined) delete process.env.USBMUXD_SOCKET_ADDRESS;
    else process.env.USBMUXD_SOCKET_ADDRESS = saved;
  }
});
