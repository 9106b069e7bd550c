import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import command from '../../../src/cli/commands/afc.ts';
import type { CliIO } from '../../../src/cli/command.ts';
import { startTestEmulator } from '../../support/emulator.ts';
import { tempDir, treeSnapshot } from './helpers.ts';

function io(address: string): { io: CliIO; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (c: Buffer) => o.push(c));
  stderr.on('data', (c: Buffer) => e.push(c));
  return {
    io: { stdout, stderr, env: { ...process.env, USBMUXD_SOCKET_ADDRESS: address }, signal: new AbortController().signal },
    out: () => Buffer.concat(o).toString(),
    err: () => Buffer.concat(e).toString(),
  };
}

test('iosdevice afc against the emulator: ls, stat, cat, mkdir, push, pull, mv, rm, df', async () => {
  const emu = await startTestEmulator();
  const local = await tempDir();
  const media = emu.devices[0]!.mediaDir;
  try {
    const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
      const c = io(emu.address);
      const code = await command.run(args, c.io);
      return { code, out: c.out(), err: c.err() };
    };
    const ls = await run('ls', '/');
    assert.equal(ls.code, 0);
    assert.ok(ls.out.split('\n').includes('DCIM'));
    const lsJson = JSON.parse((await run('ls', '/DCIM', '--json')).out) as { name: string; type: string }[];
    assert.ok(lsJson.length > 0 && lsJson.every((e) => e.type === 'dir'));
    const long = await run('ls', '-l', '/');
    assert.match(long.out, /^d\s+\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d DCIM$/m);

    await fs.writeFile(join(local.dir, 'hello.txt'), 'hello afc\n');
    assert.equal((await run('mkdir', '/Downloads/a/b')).code, 0);
    const push = await run('push', join(local.dir, 'hello.txt'), '/Downloads/a/b/hello.txt');
    assert.equal(push.code, 0);
    assert.match(push.err, /pushed 1 files/);
    assert.equal(await fs.readFile(join(media, 'Downloads/a/b/hello.txt'), 'utf8'), 'hello afc\n');
    assert.equal((await run('cat', '/Downloads/a/b/hello.txt')).out, 'hello afc\n');
    const st = JSON.parse((await run('stat', '--json', '/Downloads/a/b/hello.txt')).out) as { type: string; size: number; mtimeNs: string };
    assert.equal(st.type, 'file');
    assert.equal(st.size, 10);
    assert.equal((await run('mv', '/Downloads/a/b/hello.txt', '/Downloads/moved.txt')).code, 0);
    assert.equal(await fs.readFile(join(media, 'Downloads/moved.txt'), 'utf8'), 'hello afc\n');

    const pull = await run('pull', '/DCIM', join(local.dir, 'DCIM'), '--json');
    const r = JSON.parse(pull.out) as { files: number; bytes: number };
    assert.ok(r.files > 0);
    assert.deepEqual(await treeSnapshot(join(local.dir, 'DCIM')), await treeSnapshot(join(media, 'DCIM')));

    // a folder with something in it: the device's status 1 becomes a typed error that says to use -r
    await assert.rejects(run('rm', '/Downloads/a'), (e: unknown) => (e as { code?: string }).code === 'ERR_AFC_DIR_NOT_EMPTY' && /use -r/.test((e as Error).message));
    assert.ok((await fs.stat(join(media, 'Downloads/a'))).isDirectory(), 'nothing removed without -r');
    assert.equal((await run('rm', '-r', '/Downloads/a')).code, 0);
    await assert.rejects(fs.stat(join(media, 'Downloads/a')));
    const df = JSON.parse((await run('df', '--json')).out) as { totalBytes: number; freeBytes: number; model: string };
    assert.ok(df.totalBytes > 0 && df.freeBytes > 0 && typeof df.model === 'string');
    await assert.rejects(run('frobnicate'), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG');
    await assert.rejects(run('stat', '/nope'), (e: unknown) => (e as { code?: string }).code === 'ERR_AFC_OBJECT_NOT_FOUND');
  } finally {
    await emu.close();
    await local.cleanup();
  }
});
