import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { LocalFileWriter } from '../../../src/afc/transfer.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { socketClient, tempDir, treeSnapshot } from './helpers.ts';

test('small files are pulled with OPEN, READ(size + 1) + CLOSE: the bytes and mtimes of the device, no .part left', async () => {
  const src = await tempDir();
  const out = await tempDir();
  const s = await tempDir('afc-sock-');
  const dir = join(src.dir, 'DCIM/100APPLE');
  await fs.mkdir(dir, { recursive: true });
  const when = new Date('2020-02-03T04:05:06.789Z');
  for (let i = 0; i < 40; i++) {
    await fs.writeFile(join(dir, `IMG_${i}.JPG`), randomBytes(i * 997));
    await fs.utimes(join(dir, `IMG_${i}.JPG`), when, when);
  }
  const ops: number[] = [];
  const { client, close } = await socketClient({ root: src.dir }, s.dir);
  const orig = client.connection.request.bind(client.connection);
  client.connection.request = (op, fields, o) => {
    ops.push(op);
    return orig(op, fields, o);
  };
  try {
    const r = await client.pull('/DCIM', join(out.dir, 'DCIM'));
    assert.equal(r.files, 40);
    assert.deepEqual(await treeSnapshot(join(out.dir, 'DCIM')), await treeSnapshot(join(src.dir, 'DCIM')));
    for (let i = 0; i < 40; i++) assert.equal((await fs.stat(join(out.dir, 'DCIM/100APPLE', `IMG_${i}.JPG`))).mtime.getTime(), when.getTime());
    const count = (op: number): number => ops.filter((o) => o === op).length;
    assert.equal(count(AfcOpcode.FileRefOpen), 40);
    assert.equal(count(AfcOpcode.FileRefRead), 40, 'one READ per file');
    assert.equal(count(AfcOpcode.FileRefClose), 40);
  } finally {
    await close();
    for (const d of [src, out, s]) await d.cleanup();
  }
});

test('a small file whose size changed since the stat is pulled with its real bytes (one-READ path falls back)', async () => {
  const src = await tempDir();
  const out = await tempDir();
  const s = await tempDir('afc-sock-');
  const dir = join(src.dir, 'DCIM/100APPLE');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, 'grew.JPG'), randomBytes(5000));
  await fs.writeFile(join(dir, 'shrank.JPG'), randomBytes(5000));
  // the stat claims other sizes than the files have: as if they changed between walk and read
  const hooks = {
    stat: (p: string, info: Record<string, string>) => {
      if (p.endsWith('grew.JPG')) return { ...info, st_size: '3000' };
      if (p.endsWith('shrank.JPG')) return { ...info, st_size: '7000' };
      return info;
    },
  };
  const { client, close } = await socketClient({ root: src.dir, hooks }, s.dir);
  try {
    const r = await client.pull('/DCIM', join(out.dir, 'DCIM'));
    assert.equal(r.files, 2);
    assert.equal(r.bytes, 10_000);
    assert.deepEqual(await treeSnapshot(join(out.dir, 'DCIM')), await treeSnapshot(join(src.dir, 'DCIM')));
  } finally {
    await close();
    for (const d of [src, out, s]) await d.cleanup();
  }
});

test('LocalFileWriter through the thread pool (sync: false) and synchronously: whole file, mtime set, .part renamed', async () => {
  const out = await tempDir();
  try {
    const t = new Date('2019-05-08T12:00:00Z');
    const parts = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(3)];
    for (const sync of [false, true]) {
      const w = new LocalFileWriter({ sync });
      assert.equal(w.sync, sync);
      const dst = join(out.dir, `f-${sync}`);
      await w.write(dst, parts, t);
      assert.deepEqual(await fs.readFile(dst), Buffer.concat(parts));
      assert.equal((await fs.stat(dst)).mtime.getTime(), t.getTime());
      await assert.rejects(fs.stat(`${dst}.part`), { code: 'ENOENT' });
      await w.write(join(out.dir, `empty-${sync}`), [], t);
      assert.equal((await fs.stat(join(out.dir, `empty-${sync}`))).size, 0);
    }
    // a DEST folder that does not exist: the error reaches the caller, nothing is left
    await assert.rejects(new LocalFileWriter().write(join(out.dir, 'missing/x'), parts, t), { code: 'ENOENT' });
    await assert.rejects(new LocalFileWriter({ sync: false }).write(join(out.dir, 'missing/x'), parts, t), { code: 'ENOENT' });
  } finally {
    await out.cleanup();
  }
});

test('LocalFileWriter.stream in 256 KiB batches through the thread pool (in either writer mode): the whole stream, mtime, .part renamed; a failing stream rejects', async () => {
  const out = await tempDir();
  try {
    const t = new Date('2018-01-02T03:04:05Z');
    const chunks = Array.from({ length: 70 }, (_, i) => randomBytes(40_000 + i));
    for (const sync of [false, true]) {
      const dst = join(out.dir, `s-${sync}`);
      await new LocalFileWriter({ sync }).stream(Readable.from(chunks), dst, t);
      assert.deepEqual(await fs.readFile(dst), Buffer.concat(chunks));
      assert.equal((await fs.stat(dst)).mtime.getTime(), t.getTime());
      await assert.rejects(fs.stat(`${dst}.part`), { code: 'ENOENT' });
      const bad = new Readable({ read() {} });
      bad.push(randomBytes(2_000_000));
      setImmediate(() => bad.destroy(new Error('device gone')));
      await assert.rejects(new LocalFileWriter({ sync }).stream(bad, join(out.dir, `bad-${sync}`), t), /device gone/);
      await assert.rejects(fs.stat(join(out.dir, `bad-${sync}`)), { code: 'ENOENT' }, 'no file under the final name');
      assert.ok(bad.destroyed);
    }
  } finally {
    await out.cleanup();
  }
});

test('LocalFileWriter.streamSync: every chunk written inside the sink, in order, even when the caller reuses the chunk memory right after; mtime, .part renamed; a failing or prematurely closed stream rejects and no file gets the final name', async () => {
  const out = await tempDir();
  try {
    const t = new Date('2019-02-03T04:05:06Z');
    const chunks = Array.from({ length: 50 }, (_, i) => randomBytes(30_000 + i));
    /** A stream that pushes nothing: it hands each chunk to the sink from one reused buffer, then ends. */
    const feeding = (list: Buffer[], end: (rs: Readable) => void) => (sink: (c: Buffer) => void): Readable => {
      const rs = new Readable({ read() {} });
      const reused = Buffer.alloc(64 * 1024);
      setImmediate(() => {
        for (const c of list) {
          c.copy(reused);
          sink(reused.subarray(0, c.length));
          reused.fill(0xee); // what a reused read buffer would hold next
        }
        end(rs);
      });
      return rs;
    };
    const dst = join(out.dir, 'ok');
    await new LocalFileWriter().streamSync(feeding(chunks, (rs) => rs.push(null)), dst, t);
    assert.deepEqual(await fs.readFile(dst), Buffer.concat(chunks));
    assert.equal((await fs.stat(dst)).mtime.getTime(), t.getTime());
    await assert.rejects(fs.stat(`${dst}.part`), { code: 'ENOENT' });
    const bad = join(out.dir, 'bad');
    await assert.rejects(new LocalFileWriter().streamSync(feeding(chunks, (rs) => rs.destroy(new Error('device gone'))), bad, t), /device gone/);
    await assert.rejects(fs.stat(bad), { code: 'ENOENT' }, 'no file under the final name');
    const cut = join(out.dir, 'cut');
    await assert.rejects(new LocalFileWriter().streamSync(feeding(chunks, (rs) => rs.destroy()), cut, t), { code: 'ERR_CLOSED' });
    await assert.rejects(fs.stat(cut), { code: 'ENOENT' }, 'no file under the final name');
  } finally {
    await out.cleanup();
  }
});
