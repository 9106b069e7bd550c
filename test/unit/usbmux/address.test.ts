import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import { formatMuxAddress, parseMuxAddress, resolveUsbmuxAddress } from '../../../src/usbmux/address.ts';

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
