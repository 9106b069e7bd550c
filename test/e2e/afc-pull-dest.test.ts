/**
 * `iosdevice afc pull REMOTE [LOCAL]` puts things where `cp -r REMOTE LOCAL` would, however LOCAL is spelled: the
 * real CLI (a child process, its own working folder) against the emulator, every tree compared byte for byte with
 * the device's folder, with --json (the `to` it chose) and without.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { noNodeWarnings, runCli, type CliRun } from '../support/cli.ts';
import { treeSnapshot } from '../unit/afc/helpers.ts';

async function withEmulator(fn: (emu: Emulator, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'afc-pull-dest-'));
  const emu = await startEmulator({ socket: join(tmp, 'mux.sock'), dcimCount: 4, dcim: { scale: 0.005, seed: 9 } });
  try {
    await fn(emu, tmp);
  } finally {
    await emu.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

test('afc pull destinations follow cp -r: ./DCIM for "" and ".", LOCAL as the copy when new, LOCAL/DCIM when it exists, a file into a folder', () =>
  withEmulator(async (emu, tmp) => {
    const media = emu.devices[0]!.mediaDir;
    const dcim = await treeSnapshot(join(media, 'DCIM'));
    const [first] = (await readdir(join(media, 'DCIM', '100APPLE'))).sort();
    const pull = async (cwd: string, ...args: string[]): Promise<CliRun> => {
      const r = await runCli(['afc', 'pull', ...args, '--socket', emu.address, '--json'], { cwd });
      assert.equal(noNodeWarnings(r), undefined, r.stderr);
      return r;
    };
    const to = (r: CliRun): string => (JSON.parse(r.stdout) as { to: string }).to;
    const fresh = async (name: string): Promise<string> => {
      const d = join(tmp, name);
      await mkdir(d);
      return d;
    };

    // no LOCAL and "." are the same: the folder itself, into the current folder
    for (const [name, args] of [['w1', []], ['w2', ['.']], ['w3', ['./']]] as const) {
      const cwd = await fresh(name);
      const r = await pull(cwd, '/DCIM', ...args);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readdir(cwd), ['DCIM'], `afc pull /DCIM ${args.join(' ')}`);
      assert.deepEqual(await treeSnapshot(join(cwd, 'DCIM')), dcim);
      assert.equal(to(r), join(args[0] ?? '.', 'DCIM'));
    }

    // a LOCAL that does not exist becomes the copy of the folder
    const w4 = await fresh('w4');
    let r = await pull(w4, '/DCIM', 'newdir');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(w4), ['newdir']);
    assert.deepEqual(await treeSnapshot(join(w4, 'newdir')), dcim);
    assert.equal(to(r), 'newdir');
    // ... and once it exists, the same command puts the folder inside it (as cp -r does the second time)
    r = await pull(w4, '/DCIM', 'newdir');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await treeSnapshot(join(w4, 'newdir', 'DCIM')), dcim);
    assert.equal(to(r), join('newdir', 'DCIM'));

    // into an existing folder: existing/DCIM/…, nothing of what was there is touched (no merge into it)
    const existing = join(await fresh('w5'), 'existing');
    await mkdir(existing);
    await writeFile(join(existing, 'keep.txt'), 'mine');
    r = await pull(tmp, '/DCIM', existing);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(existing)).sort(), ['DCIM', 'keep.txt']);
    assert.equal(await readFile(join(existing, 'keep.txt'), 'utf8'), 'mine');
    assert.deepEqual(await treeSnapshot(join(existing, 'DCIM')), dcim);

    // a trailing slash on REMOTE names the same folder
    const w6 = await fresh('w6');
    r = await pull(w6, '/DCIM/', '.');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(w6), ['DCIM']);

    // a file: into a folder under its own name, else LOCAL is its new name
    const src = `/DCIM/100APPLE/${first}`;
    const bytes = await readFile(join(media, 'DCIM', '100APPLE', first!));
    const w7 = await fresh('w7');
    await mkdir(join(w7, 'dir'));
    r = await pull(w7, src, 'dir');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(join(w7, 'dir', first!)), bytes);
    assert.equal((await pull(w7, src)).code, 0);
    assert.deepEqual(await readFile(join(w7, first!)), bytes);
    assert.equal((await pull(w7, src, 'renamed.bin')).code, 0);
    assert.deepEqual(await readFile(join(w7, 'renamed.bin')), bytes);
    assert.deepEqual((await readdir(w7)).sort(), [first!, 'dir', 'renamed.bin'].sort());
  }));

test('afc pull refuses what cp -r refuses, before copying anything: a folder over a file, a LOCAL in a missing folder (exit 2)', () =>
  withEmulator(async (emu, tmp) => {
    const cwd = join(tmp, 'w');
    await mkdir(cwd);
    await writeFile(join(cwd, 'file'), 'x');
    let r = await runCli(['afc', 'pull', '/DCIM', 'file', '--socket', emu.address], { cwd });
    assert.equal(r.code, 2);
    // (the first command pairs: "Paired: …" comes before)
    assert.equal(r.stderr.split('\n').at(-2), 'error [ERR_INVALID_ARG]: afc pull: file exists and is not a folder; cannot copy the folder /DCIM over it');
    r = await runCli(['afc', 'pull', '/DCIM', 'missing/sub', '--socket', emu.address, '--json'], { cwd });
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.stdout), {
      error: { code: 'ERR_INVALID_ARG', name: 'InvalidArgumentError', message: `afc pull: folder ${join(cwd, 'missing')} does not exist` },
    });
    // a REMOTE that is not there says so (not a local error)
    r = await runCli(['afc', 'pull', '/nope', 'newname', '--socket', emu.address], { cwd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_AFC_OBJECT_NOT_FOUND\]/);
    assert.deepEqual((await readdir(cwd)).sort(), ['file']);
  }));
