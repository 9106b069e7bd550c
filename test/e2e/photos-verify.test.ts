/**
 * End to end (the CLI as a child process, the virtual iPhone behind its usbmuxd socket): copies corrupted and
 * truncated in DEST are found by `photos verify` and restored byte-identical under their original names by
 * `--repair`; a backup run repairs a truncated copy in place instead of adding a `-1` copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { runTool, type ToolResult } from '../support/emulator.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'iosdevice.mjs');

function cli(emu: Emulator, args: string[]): Promise<ToolResult> {
  return runTool(emu.address, process.execPath, [BIN, ...args], { timeoutMs: 60_000, cwd: ROOT });
}

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

function jsonLines(r: ToolResult): { type: string; [k: string]: unknown }[] {
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string });
}

test('e2e verify: corrupt and truncated copies are reported (exit 1); --repair restores them byte-identical under the original names (exit 0)', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'photos-verify-e2e-'));
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, dcimCount: 16, dcim: { scale: 0.02, seed: 23 }, trust: 'auto' });
  try {
    const gen = emu.devices[0]!.manifest!;
    const dest = join(tmp, 'dest');
    const b = await cli(emu, ['photos', 'backup', dest, '--json']);
    assert.equal(b.code, 0, b.stderr);
    const rel = (p: string): string => `Virtual iPhone/${p.slice('DCIM/'.length)}`; // the device's folder, then the device folders
    const localOf = (p: string): string => join(dest, rel(p));
    const [a, c] = [gen.files[1]!, gen.files[4]!];
    const buf = await readFile(localOf(a.path));
    buf[buf.length >> 1]! ^= 0x80;
    await writeFile(localOf(a.path), buf); // same size, one bit flipped
    await truncate(localOf(c.path), Math.floor(c.size / 3));

    const v1 = await cli(emu, ['photos', 'verify', dest]);
    assert.equal(v1.code, 1, v1.stderr + v1.stdout);
    assert.match(v1.stdout, new RegExp(`changed: ${rel(a.path)} \\(same size, but its SHA-256 differs`));
    assert.match(v1.stdout, new RegExp(`changed: ${rel(c.path)} \\(size ${Math.floor(c.size / 3)} bytes, recorded ${c.size}\\)`));
    assert.match(v1.stdout, /0 missing, 2 changed, 0 extra/);
    assert.doesNotMatch(v1.stderr + v1.stdout, /\n\s+at /, 'no stack trace');

    const v2 = await cli(emu, ['photos', 'verify', dest, '--repair', '--json']);
    assert.equal(v2.code, 0, v2.stderr + v2.stdout);
    const summary = jsonLines(v2).find((e) => e.type === 'summary') as unknown as { clean: boolean; repaired: { local: string }[] };
    assert.equal(summary.clean, true);
    assert.deepEqual(summary.repaired.map((p) => p.local).sort(), [rel(a.path), rel(c.path)].sort());
    for (const f of gen.files) assert.equal(await sha(localOf(f.path)), f.sha256, f.path);
    assert.deepEqual(await readdir(join(dest, '.iosdevice', 'parts')), [], 'no .part left');

    const v3 = await cli(emu, ['photos', 'verify', dest]);
    assert.equal(v3.code, 0, v3.stdout);
    assert.match(v3.stdout, /DEST is clean/);

    // a backup run finds a truncated copy by its size and repairs it in place: no -1 copy
    await truncate(localOf(c.path), 7);
    const b2 = await cli(emu, ['photos', 'backup', dest, '--json']);
    assert.equal(b2.code, 0, b2.stderr);
    assert.equal(await sha(localOf(c.path)), c.sha256);
    const names = await readdir(join(localOf(c.path), '..'));
    assert.ok(!names.some((n) => /-1\.[A-Z]+$/.test(n)), names.join(' '));
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
});
