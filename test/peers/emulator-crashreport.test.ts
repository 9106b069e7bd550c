/**
 * The REAL idevicecrashreport against the virtual iPhone: com.apple.crashreportmover ("ping"), then
 * com.apple.crashreportcopymobile (AFC): the copied tree must be byte-identical, symlinks recreated, and with -k
 * nothing deleted on the device.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readlink, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../src/virtual-iphone/emulator.ts';
import { skipUnlessTools } from '../support/peers.ts';
import { runTool, startTestEmulator } from '../support/emulator.ts';

const skip = skipUnlessTools('idevicecrashreport');

async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(dir, p));
    if (st.isSymbolicLink()) out.push(`${p} -> ${await readlink(join(dir, p))}`);
    else if (st.isDirectory()) out.push(`${p}/`, ...(await tree(dir, p)));
    else out.push(`${p} ${st.size}`);
  }
  return out;
}

describe('idevicecrashreport against the emulator', { skip }, () => {
  let emu: Emulator;
  let out: string;
  before(async () => {
    emu = await startTestEmulator({ dcimCount: 1, dcim: { scale: 0.001 } });
    out = await mkdtemp(join(tmpdir(), 'crash-out-'));
  });
  after(async () => {
    await emu?.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  test('-k copies the crash report tree byte-identical and keeps it on the device', async () => {
    const dev = emu.devices[0]!;
    const before = await tree(dev.crashDir);
    const r = await runTool(emu.address, 'idevicecrashreport', ['-k', '-u', dev.udid, out], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // the tool saves `NAME.synced` as `NAME` (it strips the suffix Apple's sync marks files with)
    const localName = (p: string): string => p.replace(/\.synced$/, '');
    for (const e of dev.crashReports) {
      const local = join(out, ...localName(e.path).split('/'));
      if (e.type === 'file') {
        const data = await readFile(local);
        assert.equal(data.length, e.size, e.path);
        assert.equal(createHash('sha256').update(data).digest('hex'), e.sha256, e.path);
      } else if (e.type === 'symlink') {
        assert.equal(await readlink(local), e.linkTarget, e.path);
      }
    }
    const copied = await tree(out);
    const source = before.map((l) => l.replace(/\.synced( \d+)$/, '$1'));
    assert.deepEqual(copied, source);
    assert.match(r.stdout, /Link: \/Latest\.ips/);
    assert.deepEqual(await tree(dev.crashDir), before, '-k keeps the reports on the device');
  });

  test('without -k the tool removes the copied reports from the device (AFC RemovePath)', async () => {
    const dev = emu.devices[0]!;
    const out2 = await mkdtemp(join(tmpdir(), 'crash-out-'));
    try {
      const r = await runTool(emu.address, 'idevicecrashreport', ['-u', dev.udid, out2], { timeoutMs: 40_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const left = (await tree(dev.crashDir)).filter((l) => !l.endsWith('/'));
      assert.deepEqual(left, [], 'files and links were deleted on the device');
      assert.equal((await tree(out2)).filter((l) => !l.endsWith('/')).length, dev.crashReports.filter((e) => e.type !== 'dir').length);
    } finally {
      await rm(out2, { recursive: true, force: true });
    }
  });
});
