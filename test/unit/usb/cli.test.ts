import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main.ts';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr, env: {}, signal: new AbortController().signal }, text: () => ({ out, err }) };
}

const noUsb = existsSync('/sys/bus/usb/devices') ? 'this machine has a USB stack (the VM tier covers it)' : false;

test('list --usb without a USB stack → ERR_USB_UNAVAILABLE, exit 1', { skip: noUsb }, async () => {
  const a = io();
  assert.equal(await main(['list', '--usb'], a.io), 1);
  assert.match(a.text().err, /ERR_USB_UNAVAILABLE/);
});

test('info --usb without a USB stack → ERR_USB_UNAVAILABLE, exit 1', { skip: noUsb }, async () => {
  const a = io();
  assert.equal(await main(['info', '--usb'], a.io), 1);
  assert.match(a.text().err, /ERR_USB_UNAVAILABLE/);
});

test('usbmuxd rejects unknown options and bad --poll with ERR_INVALID_ARG (exit 2)', async () => {
  const a = io();
  assert.equal(await main(['usbmuxd', '--bogus'], a.io), 2);
  assert.equal(await main(['usbmuxd', '--poll', '5'], a.io), 2);
  const h = io();
  assert.equal(await main(['usbmuxd', '--help'], h.io), 0);
  assert.match(h.text().out, /--socket ADDR/);
});
