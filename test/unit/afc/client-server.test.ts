import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AfcClient } from '../../../src/afc/client.ts';
import { AfcError } from '../../../src/afc/errors.ts';
import { AfcLockOp } from '../../../src/afc/protocol.ts';
import { pairedClient, socketClient, tempDir, treeSnapshot } from './helpers.ts';

function isAfc(code: string, status?: number) {
  return (e: unknown): boolean => e instanceof AfcError && e.code === code && (status === undefined || e.status === status);
}

/** Every AfcClient call against serveAfc on `root`. */
async function exerciseAll(c: AfcClient, root: string): Promise<void> {
  await fs.writeFile(join(root, 'hello.txt'), 'hello world');
  // deviceInfo from statfs
  const di = await c.deviceInfo();
  assert.equal(di.model, 'iPhone10,3');
  assert.ok(di.totalBytes > 0 && di.freeBytes > 0 && di.blockSize > 0);
  // mkdir with parents, readdir, stat
  await c.mkdir('/DCIM/100APPLE');
  await c.mkdir('/DCIM/100APPLE'); // existing directory: success
  assert.deepEqual((await c.readdir('/')).sort(), ['DCIM', 'hello.txt']);
  const st = await c.stat('/hello.txt');
  assert.equal(st.type, 'file');
  assert.equal(st.size, 11);
  assert.equal(st.nlink, 1);
  assert.equal(typeof st.mtimeNs, 'bigint');
  assert.equal(st.mtime.getTime(), Number(st.mtimeNs / 1_000_000n));
  assert.equal((await c.stat('/DCIM')).type, 'dir');
  assert.equal((await c.stat('/')).type, 'dir');
  await assert.rejects(c.stat('/missing'), isAfc('ERR_AFC_OBJECT_NOT_FOUND', 8));
  await assert.rejects(c.readdir('/missing'), isAfc('ERR_AFC_OBJECT_NOT_FOUND', 8));
  // open / write / tell / seek / read / setFileSize / lock / close
  const h = await c.open('/DCIM/100APPLE/IMG_0001.JPG', 'w+');
  await c.write(h, Buffer.from('0123456789'));
  assert.equal(await c.tell(h), 10);
  await c.seek(h, 2);
  assert.equal((await c.read(h, 3)).toString(), '234');
  await c.seek(h, -2, 2);
  assert.equal((await c.read(h, 100)).toString(), '89');
  assert.equal((await c.read(h, 100)).length, 0); // EOF
  await c.seek(h, -1, 1);
  assert.equal(await c.tell(h), 9);
  await c.setFileSize(h, 4);
  await c.lock(h, AfcLockOp.EXCLUSIVE);
  const h2 = await c.open('/DCIM/100APPLE/IMG_0001.JPG', 'r');
  await assert.rejects(c.lock(h2, AfcLockOp.SHARED), isAfc('ERR_AFC_OP_WOULD_BLOCK', 19));
  await c.lock(h, AfcLockOp.UNLOCK);
  await c.lock(h2, AfcLockOp.SHARED);
  await c.closeFile(h2);
  await c.closeFile(h);
  await assert.rejects(c.closeFile(h), isAfc('ERR_AFC_INVALID_ARG', 7));
  assert.equal((await fs.readFile(join(root, 'DCIM/100APPLE/IMG_0001.JPG'))).toString(), '0123');
  await assert.rejects(c.open('/nope/x', 'r'), isAfc('ERR_AFC_OBJECT_NOT_FOUND'));
  await assert.rejects(c.open('/nothere', 'r'), isAfc('ERR_AFC_OBJECT_NOT_FOUND'));
  // append mode
  const ha = await c.open('/hello.txt', 'a');
  await c.write(ha, Buffer.from('!'));
  await c.closeFile(ha);
  assert.equal(await fs.readFile(join(root, 'hello.txt'), 'utf8'), 'hello world!');
  // truncate by path
  await c.truncate('/hello.txt', 5);
  assert.equal(await fs.readFile(join(root, 'hello.txt'), 'utf8'), 'hello');
  // rename, links, setModTime
  await c.rename('/hello.txt', '/DCIM/hi.txt');
  await c.link('hi.txt', '/DCIM/sym');
  await c.link('/DCIM/hi.txt', '/DCIM/hard', 'hard');
  const sym = await c.stat('/DCIM/sym');
  assert.equal(sym.type, 'symlink');
  assert.equal(sym.linkTarget, 'hi.txt');
  assert.equal((await c.stat('/DCIM/hard')).nlink, 2);
  const when = 1494244521123456789n;
  await c.setModTime('/DCIM/hi.txt', when);
  const st2 = await c.stat('/DCIM/hi.txt');
  assert.equal(st2.mtimeNs / 1000n, when / 1000n); // µs precision through utimes
  // walk (pipelined stat), pre-order
  const walked = [];
  for await (const e of c.walk('/')) walked.push(`${e.path}:${e.info.type}`);
  assert.deepEqual(walked.sort(), ['/DCIM/100APPLE/IMG_0001.JPG:file', '/DCIM/100APPLE:dir', '/DCIM/hard:file', '/DCIM/hi.txt:file', '/DCIM/sym:symlink', '/DCIM:dir'].sort());
  // remove: non-empty directory → status 1 as the device; removeAll
  await assert.rejects(c.remove('/DCIM'), isAfc('ERR_AFC_UNKNOWN_ERROR', 1));
  await c.remove('/DCIM/sym');
  await assert.rejects(c.remove('/DCIM/sym'), isAfc('ERR_AFC_OBJECT_NOT_FOUND'));
  await c.removeAll('/DCIM');
  assert.deepEqual(await c.readdir('/'), []);
}

test('every API call over duplexPair', async () => {
  const t = await tempDir();
  const { client, server } = pairedClient({ root: t.dir });
  try {
    await exerciseAll(client, t.dir);
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('every API call over a unix socket', async () => {
  const t = await tempDir();
  const s = await tempDir('afc-sock-');
  const { client, close } = await socketClient({ root: t.dir }, s.dir);
  try {
    await exerciseAll(client, t.dir);
  } finally {
    await close();
    await t.cleanup();
    await s.cleanup();
  }
});

async function makeTree(dir: string): Promise<void> {
  await fs.mkdir(join(dir, 'DCIM/100APPLE'), { recursive: true });
  await fs.mkdir(join(dir, 'DCIM/101APPLE/empty'), { recursive: true });
  for (let i = 0; i < 40; i++) await fs.writeFile(join(dir, `DCIM/100APPLE/IMG_${1000 + i}.JPG`), randomBytes(1 + ((i * 7919) % 50_000)));
  await fs.writeFile(join(dir, 'DCIM/101APPLE/big.MOV'), randomBytes(9 * 1024 * 1024 + 123));
  await fs.writeFile(join(dir, 'DCIM/101APPLE/zero'), '');
  await fs.symlink('../100APPLE/IMG_1000.JPG', join(dir, 'DCIM/101APPLE/link.JPG'));
}

test('pull of a tree is byte-identical to the source folder; mtimes kept, no .part left (unix socket)', async () => {
  const src = await tempDir();
  const out = await tempDir();
  const s = await tempDir('afc-sock-');
  await makeTree(src.dir);
  const old = new Date('2019-05-08T12:00:00Z');
  await fs.utimes(join(src.dir, 'DCIM/101APPLE/big.MOV'), old, old);
  const { client, close } = await socketClient({ root: src.dir }, s.dir);
  try {
    const progress: number[] = [];
    const r = await client.pull('/DCIM', join(out.dir, 'DCIM'), { onProgress: (p) => progress.push(p.bytes), chunkSize: 1024 * 1024 });
    assert.equal(r.files, 42);
    assert.equal(r.links, 1);
    assert.deepEqual(await treeSnapshot(join(out.dir, 'DCIM')), await treeSnapshot(join(src.dir, 'DCIM')));
    assert.equal((await fs.stat(join(out.dir, 'DCIM/101APPLE/big.MOV'))).mtime.getTime(), old.getTime());
    assert.equal(progress.at(-1), r.bytes);
    // Single file into an existing directory.
    await client.pull('/DCIM/100APPLE/IMG_1001.JPG', out.dir);
    assert.deepEqual(await fs.readFile(join(out.dir, 'IMG_1001.JPG')), await fs.readFile(join(src.dir, 'DCIM/100APPLE/IMG_1001.JPG')));
    // Payload bytes were never copied: only headers that straddled socket chunks.
    assert.ok(client.bytesCopied / r.bytes < 0.01, `copied ${client.bytesCopied} of ${r.bytes}`);
  } finally {
    await close();
    for (const d of [src, out, s]) await d.cleanup();
  }
});

test('push of a tree then pull back gives the same bytes; a missing remote file pulls as ERR_AFC_OBJECT_NOT_FOUND', async () => {
  const src = await tempDir();
  const dev = await tempDir();
  const back = await tempDir();
  await makeTree(src.dir);
  const { client, server } = pairedClient({ root: dev.dir });
  try {
    const r = await client.push(join(src.dir, 'DCIM'), '/Up/DCIM');
    assert.equal(r.files, 42);
    assert.deepEqual(await treeSnapshot(join(dev.dir, 'Up/DCIM')), await treeSnapshot(join(src.dir, 'DCIM')));
    const srcM = (await fs.stat(join(src.dir, 'DCIM/101APPLE/big.MOV'))).mtimeMs;
    assert.equal(Math.round((await fs.stat(join(dev.dir, 'Up/DCIM/101APPLE/big.MOV'))).mtimeMs), Math.round(srcM));
    await client.push(join(src.dir, 'DCIM/101APPLE/zero'), '/Up');
    assert.equal((await fs.stat(join(dev.dir, 'Up/zero'))).size, 0);
    await client.pull('/Up/DCIM', join(back.dir, 'x'));
    assert.deepEqual(await treeSnapshot(join(back.dir, 'x')), await treeSnapshot(join(src.dir, 'DCIM')));
    await assert.rejects(client.pull('/nope', join(back.dir, 'y')), isAfc('ERR_AFC_OBJECT_NOT_FOUND'));
  } finally {
    client.close();
    await server.done;
    for (const d of [src, dev, back]) await d.cleanup();
  }
});

test('a hostile listing (.., names with /, empty) is skipped by walk and cannot make pull write outside the target', async () => {
  const src = await tempDir();
  const out = await tempDir();
  await fs.mkdir(join(src.dir, 'DCIM/100APPLE'), { recursive: true });
  await fs.writeFile(join(src.dir, 'DCIM/100APPLE/IMG_0001.JPG'), 'jpeg');
  await fs.writeFile(join(src.dir, 'outside.txt'), 'must not be pulled');
  const { client, server } = pairedClient({
    root: src.dir,
    hooks: { readdir: (p, names) => (p.startsWith('/DCIM') ? [...names, '..', '../../outside.txt', '', 'a/../../outside.txt'] : names) },
  });
  try {
    const walked: string[] = [];
    for await (const e of client.walk('/DCIM')) walked.push(e.path);
    assert.deepEqual(walked, ['/DCIM/100APPLE', '/DCIM/100APPLE/IMG_0001.JPG']);
    await client.pull('/DCIM', join(out.dir, 'DCIM'));
    assert.deepEqual(await treeSnapshot(out.dir), { DCIM: 'dir', 'DCIM/100APPLE': 'dir', 'DCIM/100APPLE/IMG_0001.JPG': `file:${Buffer.from('jpeg').toString('base64')}` });
  } finally {
    client.close();
    await server.done;
    await src.cleanup();
    await out.cleanup();
  }
});
