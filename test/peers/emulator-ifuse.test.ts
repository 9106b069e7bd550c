/**
 * The REAL ifuse (FUSE, libimobiledevice AFC client) mounts the virtual iPhone's media folder: listing, byte-exact
 * reads, capture-date mtimes, writes, mkdir, rename, rm. Needs root and /dev/fuse. Every file operation on the mount
 * is async (libuv threadpool) because this same process serves the AFC requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, mkdir, readFile, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../src/virtual-iphone/emulator.ts';
import { isRoot, skipUnlessTools } from '../support/peers.ts';
import { runTool, spawnTool, startTestEmulator, waitFor } from '../support/emulator.ts';

const skip = skipUnlessTools('ifuse', 'fusermount') || (!isRoot() && 'ifuse tests need root (FUSE mount)');

async function mounted(mnt: string): Promise<boolean> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[1] === mnt);
}

/**
 * Relative paths of everything under `dir`, one lstat at a time. (Not `readdir({ withFileTypes })`: on FUSE it
 * lstat()s every entry in parallel, which can occupy the whole libuv threadpool with calls that wait on the AFC server
 * running in this very process, whose own file system calls then cannot run.)
 */
async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const isDir = (await lstat(join(dir, p))).isDirectory();
    out.push(isDir ? `${p}/` : p);
    if (isDir) out.push(...(await walk(dir, p)));
  }
  return out;
}

for (const link of ['none', 'usb2'] as const) describe(`ifuse against the emulator (link ${link})`, { skip }, () => {
  let emu: Emulator;
  let mnt: string;
  let ifuse: ReturnType<typeof spawnTool> | undefined;

  before(async () => {
    // scale 0.02: photos 24 kB - 100 kB, videos up to 1.6 MB, so reads span many 4 KiB/64 KiB FUSE requests
    emu = await startTestEmulator({ dcimCount: 16, dcim: { scale: 0.02, seed: 21 }, link });
    mnt = await mkdtemp(join(tmpdir(), 'ifuse-mnt-'));
    ifuse = spawnTool(emu.address, 'ifuse', [mnt, '-f', '-u', emu.devices[0]!.udid], { timeoutMs: 120_000 });
    await Promise.race([
      waitFor('the ifuse mount', () => mounted(mnt), 15_000),
      ifuse.exited.then((code) => {
        throw new Error(`ifuse exited early (${code}): ${ifuse!.output()}`);
      }),
    ]);
  });

  after(async () => {
    try {
      if (mnt && (await mounted(mnt))) await runTool(emu.address, 'fusermount', ['-u', mnt], { timeoutMs: 10_000 });
      if (mnt && (await mounted(mnt))) await runTool(emu.address, 'fusermount', ['-uz', mnt], { timeoutMs: 10_000 });
      await ifuse?.stop();
    } finally {
      await emu?.close();
      if (mnt) await rmdir(mnt).catch(() => undefined);
    }
  });

  test('ls -R of DCIM through the mount matches the backing folder', async () => {
    const media = emu.devices[0]!.mediaDir;
    const viaMount = await walk(join(mnt, 'DCIM'));
    const backing = await walk(join(media, 'DCIM'));
    assert.ok(viaMount.length > 16);
    assert.deepEqual(viaMount, backing);
    const ls = await runTool(emu.address, 'ls', ['-R', join(mnt, 'DCIM')]);
    assert.equal(ls.code, 0, ls.stderr);
    for (const f of emu.devices[0]!.manifest!.files) assert.ok(ls.stdout.includes(f.path.split('/').pop()!), f.path);
  });

  test('files read through the mount are byte-identical (SHA-256) and carry the capture date as mtime', async () => {
    const files = emu.devices[0]!.manifest!.files;
    const pick = [...files].sort((a, b) => b.size - a.size).slice(0, 6);
    let bytes = 0;
    const t0 = performance.now();
    for (const f of pick) {
      const data = await readFile(join(mnt, f.path));
      bytes += data.length;
      assert.equal(data.length, f.size, f.path);
      assert.equal(createHash('sha256').update(data).digest('hex'), f.sha256, f.path);
      const st = await stat(join(mnt, f.path));
      assert.equal(Math.floor(st.mtimeMs / 1000), f.captureDate.getTime() / 1000, f.path);
    }
    const ms = performance.now() - t0;
    console.log(`ifuse (link ${link}): ${pick.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms = ${(bytes / 1e3 / ms).toFixed(1)} MB/s`);
  });

  test('write, mkdir, rename and rm through the mount change the backing folder', async () => {
    const media = emu.devices[0]!.mediaDir;
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    await writeFile(join(mnt, 'Downloads', 'hello.bin'), payload);
    assert.deepEqual(await readFile(join(media, 'Downloads', 'hello.bin')), payload);
    await mkdir(join(mnt, 'DCIM', '999TEST'));
    assert.ok((await stat(join(media, 'DCIM', '999TEST'))).isDirectory());
    await rename(join(mnt, 'Downloads', 'hello.bin'), join(mnt, 'DCIM', '999TEST', 'moved.bin'));
    assert.deepEqual(await readFile(join(media, 'DCIM', '999TEST', 'moved.bin')), payload);
    await assert.rejects(stat(join(media, 'Downloads', 'hello.bin')), { code: 'ENOENT' });
    await unlink(join(mnt, 'DCIM', '999TEST', 'moved.bin'));
    await rmdir(join(mnt, 'DCIM', '999TEST'));
    await assert.rejects(stat(join(media, 'DCIM', '999TEST')), { code: 'ENOENT' });
    // a missing file is ENOENT through FUSE (AFC OBJECT_NOT_FOUND)
    await assert.rejects(readFile(join(mnt, 'DCIM', 'nope.JPG')), { code: 'ENOENT' });
  });

  test('df through the mount (AFC GetDeviceInfo) works', async () => {
    const df = await runTool(emu.address, 'df', ['-P', mnt]);
    assert.equal(df.code, 0, df.stderr);
    assert.match(df.stdout, /ifuse|fuse/);
  });

  test('fusermount -u unmounts and ifuse -f exits 0', async () => {
    const u = await runTool(emu.address, 'fusermount', ['-u', mnt], { timeoutMs: 10_000 });
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await ifuse!.exited, 0);
    assert.equal(await mounted(mnt), false);
    await rm(mnt, { recursive: true, force: true });
    mnt = '';
  });
});

describe('ifuse when the iPhone is unplugged while mounted', { skip }, () => {
  test('reads fail with EIO instead of hanging, and the mount can still be unmounted', async () => {
    const emu = await startTestEmulator({ dcimCount: 4, dcim: { scale: 0.02, seed: 5 } });
    const mnt = await mkdtemp(join(tmpdir(), 'ifuse-mnt-'));
    const ifuse = spawnTool(emu.address, 'ifuse', [mnt, '-f', '-u', emu.devices[0]!.udid], { timeoutMs: 60_000 });
    try {
      await waitFor('the ifuse mount', () => mounted(mnt), 15_000);
      const file = emu.devices[0]!.manifest!.files[0]!;
      assert.equal((await readFile(join(mnt, file.path))).length, file.size);
      emu.detach();
      assert.equal(emu.devices[0]!.iphone.openConnections, 0);
      await assert.rejects(readFile(join(mnt, emu.devices[0]!.manifest!.files[1]!.path)), { code: 'EIO' });
      const u = await runTool(emu.address, 'fusermount', ['-u', mnt], { timeoutMs: 10_000 });
      assert.equal(u.code, 0, u.stderr);
      assert.equal(await ifuse.exited, 0);
    } finally {
      if (await mounted(mnt)) await runTool(emu.address, 'fusermount', ['-uz', mnt], { timeoutMs: 10_000 });
      await ifuse.stop();
      await emu.close();
      await rmdir(mnt).catch(() => undefined);
    }
  });
});
