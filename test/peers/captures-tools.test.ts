/**
 * Recording the real libimobiledevice tools: `iosdevice capture` (child process) in front of the emulator while
 * `ideviceinfo -s` runs through it; and make-captures regenerating every recording (real tools incl. ifuse, our
 * client), which must decode completely and replay against a fresh emulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, skipUnlessTools } from '../support/peers.ts';
import { runTool, startTestEmulator } from '../support/emulator.ts';
import { decodeCapture } from '../../src/capture/decode.ts';
import { buildReplayScript, replayAgainst } from '../../src/capture/replay.ts';
import { CAPTURE_EMULATOR, makeCaptures } from '../../scripts/make-captures.ts';
import { startEmulator } from '../../src/virtual-iphone/emulator.ts';
import type { LockdownEvent } from '../../src/capture/events.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('iosdevice capture (child process) records ideviceinfo -s against the emulator', { skip: skipUnlessTools('ideviceinfo') }, async () => {
  const emu = await startTestEmulator();
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-cap-peer-'));
  const out = join(tmp, 'info.pcapng');
  const child = spawn(process.execPath, [join(root, 'bin/iosdevice.mjs'), 'capture', '--out', out, '--upstream', emu.address, '--listen', join(tmp, 'mux.sock')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /USBMUXD_SOCKET_ADDRESS=(\S+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`capture exited ${code}`)));
    });
    const r = await runTool(address, 'ideviceinfo', ['-s', '-k', 'ProductVersion'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '17.5');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    const d = decodeCapture(readFileSync(out));
    assert.deepEqual(d.streams.map((s) => s.request), ['ListDevices', 'Connect']);
    const ld = d.streams[1]!.events.filter((e): e is LockdownEvent => e.layer === 'lockdown');
    assert.deepEqual(ld.map((e) => [e.dir, e.plist.Request, e.plist.Key]), [
      ['c2s', 'GetValue', 'ProductVersion'],
      ['s2c', 'GetValue', 'ProductVersion'],
    ]);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

const makeSkip = skipUnlessTools('idevicepair', 'ideviceinfo', 'ifuse', 'fusermount') || (!isRoot() && 'ifuse needs root');

test('make-captures regenerates every recording; they decode completely and the tools\' ones replay on a fresh emulator', { skip: makeSkip, timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-make-'));
  try {
    const lines = await makeCaptures(tmp);
    assert.equal(lines.length, 6);
    for (const f of ['tools-idevicepair-pair.pcapng', 'tools-ideviceinfo.pcapng', 'tools-ifuse-dcim.pcapng', 'ours-pair.pcapng', 'ours-info.pcapng', 'ours-afc-pull-dcim.pcapng']) {
      const buf = readFileSync(join(tmp, f));
      assert.ok(buf.length < 2 * 1024 * 1024, `${f}: ${buf.length} bytes`);
      const d = decodeCapture(buf);
      const events = d.streams.flatMap((s) => s.events);
      assert.deepEqual(events.filter((e) => (e.layer === 'note' && ['error', 'truncated', 'gap'].includes(e.kind)) || (e.layer === 'tls' && e.decrypted === false)), [], f);
    }
    const emu = await startEmulator({ ...CAPTURE_EMULATOR, dcim: { ...CAPTURE_EMULATOR.dcim } });
    try {
      const r = await replayAgainst(buildReplayScript(decodeCapture(readFileSync(join(tmp, 'tools-idevicepair-pair.pcapng')))), emu.address);
      assert.ok(r.steps > 10);
    } finally {
      await emu.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
