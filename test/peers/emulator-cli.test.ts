/**
 * `iosdevice emulator` as a real process: it prints the export line, the real tools reach the device through it,
 * the trust prompt is answered from stdin, and SIGINT/SIGTERM stop it cleanly (exit 0, socket removed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IDeviceError } from '../../src/core/errors.ts';
import { emulatorOptions } from '../../src/cli/commands/emulator.ts';
import { skipUnlessTools } from '../support/peers.ts';
import { runTool } from '../support/emulator.ts';

const bin = fileURLToPath(new URL('../../bin/iosdevice.mjs', import.meta.url));

/** Starts `iosdevice emulator ARGS`; resolves with the address once the export line is printed. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, [bin, 'emulator', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lineWaiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of [...lineWaiters]) {
      const m = out.match(w.re);
      if (m) {
        lineWaiters.splice(lineWaiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const hard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(hard));
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const m = out.match(re);
      if (m) return resolve(m);
      lineWaiters.push({ re, resolve });
      void exited.then(() => reject(new Error(`emulator exited before ${re}: ${out}${err}`)));
    });
  return { child, exited, waitFor, output: () => out + err };
}

test('option parsing: defaults and bad values (ERR_INVALID_ARG)', () => {
  const o = emulatorOptions(['--udid', '00008120001A2B3C4D5E6F70', '--ios', '16.7', '--dcim', '5', '--trust', 'prompt', '--link', 'usb2', '--locked']);
  assert.equal(o.udid, '00008120001A2B3C4D5E6F70');
  assert.equal(o.iosVersion, '16.7');
  assert.equal(o.dcimCount, 5);
  assert.equal(o.trust, 'prompt');
  assert.equal(o.link, 'usb2');
  assert.equal(o.locked, true);
  for (const bad of [['--trust', 'maybe'], ['--link', 'usb9'], ['--dcim', '-1'], ['--dcim', '1', '--dcim-dir', '/x'], ['--scale', '0'], ['extra'], ['--nope']]) {
    assert.throws(
      () => emulatorOptions(bad),
      (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG',
      bad.join(' '),
    );
  }
});

test('iosdevice emulator: export line, real tools, trust from stdin, clean SIGINT stop', { skip: skipUnlessTools('idevice_id', 'idevicepair') }, async () => {
  const cli = startCli(['--dcim', '2', '--scale', '0.001', '--trust', 'prompt', '--name', 'CLI iPhone']);
  try {
    const m = await cli.waitFor(/export USBMUXD_SOCKET_ADDRESS=(UNIX:\S+)/);
    const address = m[1]!;
    const sock = address.slice('UNIX:'.length);
    assert.ok(existsSync(sock));
    const n = await runTool(address, 'idevice_id', ['-l']);
    assert.equal(n.code, 0, n.stderr);
    const udid = n.stdout.trim();
    assert.match(udid, /^[0-9A-F]{8}-[0-9A-F]{16}$/);
    const pending = await runTool(address, 'idevicepair', ['pair']);
    assert.match(pending.stdout + pending.stderr, /Please accept the trust dialog/);
    await cli.waitFor(/trust dialog: host \S+ asks/);
    cli.child.stdin.write('t\n');
    await cli.waitFor(/tapped Trust/);
    const ok = await runTool(address, 'idevicepair', ['pair']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    await cli.waitFor(/paired with host/);
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 0, cli.output());
    assert.match(cli.output(), /emulator: stopped/);
    assert.equal(existsSync(sock), false, 'socket removed');
  } finally {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
});

test('iosdevice emulator stops cleanly on SIGTERM too', async () => {
  const cli = startCli(['--dcim', '0']);
  try {
    await cli.waitFor(/export USBMUXD_SOCKET_ADDRESS=/);
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0, cli.output());
  } finally {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
});
