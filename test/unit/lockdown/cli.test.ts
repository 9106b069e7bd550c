import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { main } from '../../../src/cli/main.ts';
import { formatValue } from '../../../src/cli/commands/info.ts';
import type { Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { startTestEmulator } from '../../support/emulator.ts';

class Sink extends Writable {
  text = '';
  constructor(readonly onText?: (text: string) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    this.onText?.(this.text);
    cb();
  }
}

async function run(emu: Emulator, ...argv: (string | { onStderr: (text: string) => void })[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const hook = argv.find((a) => typeof a === 'object') as { onStderr: (text: string) => void } | undefined;
  const args = argv.filter((a): a is string => typeof a === 'string');
  const stdout = new Sink();
  const stderr = new Sink(hook?.onStderr);
  const code = await main(args, { stdout, stderr, env: { USBMUXD_SOCKET_ADDRESS: emu.address } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('pair / validate / info / unpair against the emulator (in-process CLI)', () => {
  let emu: Emulator;
  const A = '00008120-0000000000000A01';
  const B = '00008120-0000000000000B02';
  before(async () => {
    emu = await startTestEmulator({
      devices: [
        { udid: A, trust: 'auto', dcimCount: 1, dcim: { scale: 0.001 } },
        { udid: B, trust: 'auto', dcimCount: 1, dcim: { scale: 0.001 } },
      ],
    });
  });
  after(async () => {
    await emu?.close();
  });

  test('two devices and no -u → ERR_DEVICE_AMBIGUOUS, exit 1', async () => {
    const r = await run(emu, 'info', '--simple');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_DEVICE_AMBIGUOUS/);
  });

  test('info --simple works unpaired; validate says not paired', async () => {
    const r = await run(emu, 'info', '--simple', '-u', A, '--key', 'ProductVersion');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '17.5\n');
    const all = await run(emu, 'info', '-s', '-u', A.replace('-', ''), '--json');
    assert.equal(all.code, 0, all.stderr);
    assert.equal((JSON.parse(all.stdout) as Record<string, unknown>).UniqueDeviceID, A);
    const v = await run(emu, 'validate', '-u', A);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /ERR_DEVICE_NOT_PAIRED/);
  });

  test('pair → validate → info in a session → unpair → validate fails', async () => {
    const p = await run(emu, 'pair', '-u', A);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, `SUCCESS: Paired with device ${A}\n`);
    assert.ok(await emu.records.read(A));
    const v = await run(emu, 'validate', '-u', A);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `SUCCESS: Validated pairing with device ${A}\n`);
    const serial = await run(emu, 'info', '-u', A, '-k', 'SerialNumber');
    assert.equal(serial.code, 0, serial.stderr);
    assert.equal(serial.stdout, 'F2LZK0ABCDEF\n');
    const disk = await run(emu, 'info', '-u', A, '-q', 'com.apple.disk_usage');
    assert.match(disk.stdout, /^AmountDataAvailable: \d+$/m);
    const u = await run(emu, 'unpair', '-u', A);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await emu.records.read(A), undefined);
    const again = await run(emu, 'validate', '-u', A);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ERR_DEVICE_NOT_PAIRED/);
  });

  test('info (session) pairs by itself when there is no record, like ideviceinfo', async () => {
    const r = await run(emu, 'info', '-u', B, '-k', 'ActivationState');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Activated\n');
    assert.ok(await emu.records.read(B));
  });

  test('a locked device: pair tells the user to unlock it, and succeeds once unlocked', async () => {
    const dev = emu.devices.find((d) => d.udid === B)!;
    dev.iphone.lockdown.forgetAllHosts();
    await emu.records.delete(B);
    dev.iphone.lockdown.lock();
    try {
      const r = await run(emu, 'pair', '-u', B, '--timeout', '60', {
        onStderr: (text) => text.includes('unlock it') && dev.iphone.lockdown.unlock(),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /unlock it/);
      assert.ok(await emu.records.read(B));
    } finally {
      dev.iphone.lockdown.unlock();
    }
  });

  test('bad options → exit 2', async () => {
    assert.equal((await run(emu, 'pair', '--timeout', 'soon')).code, 2);
    assert.equal((await run(emu, 'info', '--bogus')).code, 2);
    assert.equal((await run(emu, 'validate', 'extra')).code, 2);
  });
});

test('formatValue: data as base64, nested dicts indented, reals as numbers', () => {
  assert.equal(formatValue(Buffer.from('hi')), 'aGk=');
  assert.equal(formatValue(1.5), '1.5');
  assert.equal(formatValue({ b: 1, a: 'x' }), '\n  a: x\n  b: 1');
});
