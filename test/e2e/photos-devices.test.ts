/**
 * End to end: two emulated iPhones (same file names, same day folders) backed up by the CLI into one DEST are
 * kept apart: one folder per device, named by its DeviceName (the UDID added when two share a name), every file
 * once and byte-identical, every Live Photo pair whole, in the device layout and with --split-by-date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manifest } from '../../src/photos/manifest.ts';
import { startEmulator, type EmulatedDevice, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { runTool, type ToolResult } from '../support/emulator.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'iosdevice.mjs');

function cli(emu: Emulator, args: string[]): Promise<ToolResult> {
  return runTool(emu.address, process.execPath, [BIN, ...args], { timeoutMs: 60_000, cwd: ROOT });
}

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

/** The device's generated files are each once in DEST below `folder`, byte-identical; Live halves share folder and name. */
async function assertDevice(dest: string, d: EmulatedDevice, folder: string): Promise<void> {
  const m = await Manifest.open(dest, { readOnly: true });
  try {
    assert.equal(m.deviceFolder(d.udid), folder);
    const live = new Map<string, string>();
    for (const f of d.manifest!.files) {
      const e = m.get(d.udid, `/${f.path}`);
      assert.ok(e, f.path);
      assert.ok(e.local.startsWith(`${folder}/`), `${f.path} -> ${e.local}`);
      assert.equal(await sha(join(dest, e.local)), f.sha256, f.path);
      if (f.livePhoto) {
        const stemPath = e.local.replace(/\.[^./]+$/, '');
        const key = `${f.path.split('/')[1]}/${f.livePhoto}`;
        if (live.has(key)) assert.equal(stemPath, live.get(key), `Live pair ${key} whole`);
        else live.set(key, stemPath);
      }
    }
    assert.ok(live.size > 0, 'the camera roll has Live Photos');
  } finally {
    await m.close();
  }
}

test('e2e: two emulated devices into one DEST -> two folders (device name, UDID as tie-breaker), every Live pair whole, also with --split-by-date', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-devices-e2e-'));
  const common = { dcimCount: 30, dcim: { scale: 0.005, seed: 41 }, trust: 'auto' as const };
  const emu = await startEmulator({
    socket: `UNIX:${join(tmp, 'mux.sock')}`,
    devices: [
      { ...common, udid: '00008030-000A11111111111E', name: "Anna's iPhone" },
      { ...common, udid: '00008030-000B22222222222E', name: "Anna's iPhone", dcim: { ...common.dcim, seed: 42 } },
    ],
  });
  try {
    const [a, b] = emu.devices as [EmulatedDevice, EmulatedDevice];
    const tie = `Anna's iPhone (${b.udid})`;
    for (const [dest, extra] of [[join(tmp, 'by-folder'), []], [join(tmp, 'by-date'), ['--split-by-date']]] as const) {
      for (const d of [a, b]) {
        const r = await cli(emu, ['photos', 'backup', dest, '-u', d.udid, '--json', ...extra]);
        assert.equal(r.code, 0, r.stderr + r.stdout.slice(-500));
        const summary = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; deviceFolder?: string }).find((e) => e.type === 'summary');
        assert.equal(summary?.deviceFolder, d === a ? "Anna's iPhone" : tie);
      }
      assert.deepEqual((await readdir(dest)).sort(), ['.iosdevice', "Anna's iPhone", tie]);
      await assertDevice(dest, a, "Anna's iPhone");
      await assertDevice(dest, b, tie);
      const again = await cli(emu, ['photos', 'backup', dest, '-u', a.udid, '--json', ...extra]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /"copied":0,/);
    }
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
});
