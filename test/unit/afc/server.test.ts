import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { encodePacket } from '../../../src/afc/codec.ts';
import { AfcError } from '../../../src/afc/errors.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { serveAfc } from '../../../src/afc/server.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import type { IDeviceError } from '../../../src/core/errors.ts';
import { decodeAll, pairedClient, tempDir, type Packet } from './helpers.ts';

/** Raw conversation with serveAfc: send packets, collect whole reply packets. */
function rawServer(root: string, extra: Partial<Parameters<typeof serveAfc>[1]> = {}): {
  send: (...bufs: Buffer[]) => void;
  replies: (n: number) => Promise<Packet[]>;
  ended: Promise<void>;
  errors: IDeviceError[];
  sock: Duplex;
} {
  const [a, b] = duplexPair();
  const errors: IDeviceError[] = [];
  serveAfc(b, { root, ...extra, onError: (e) => errors.push(e) });
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  a.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((res) => {
    a.on('close', res);
    a.on('end', res);
  });
  a.resume();
  const complete = (): Packet[] => {
    const out: Packet[] = [];
    let off = 0;
    while (buf.length - off >= 40) {
      const n = Number(buf.readBigUInt64LE(off + 8));
      if (buf.length - off < n) break;
      out.push(decodeAll(buf.subarray(off, off + n))[0]!);
      off += n;
    }
    return out;
  };
  return {
    send: (...bufs) => {
      for (const x of bufs) a.write(x);
    },
    replies: async (n) => {
      while (complete().length < n) await new Promise<void>((r) => waiters.push(r));
      return complete();
    },
    ended,
    errors,
    sock: a,
  };
}

test('reply layouts match the device: STATUS/OPEN_RES this = entire = 48, DATA this = 40; packet_num echoed', async () => {
  const t = await tempDir();
  await fs.writeFile(join(t.dir, 'f'), 'abc');
  const s = rawServer(t.dir);
  s.send(
    ...encodePacket(7, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/f'] }),
    ...encodePacket(8, AfcOpcode.FileRefRead, { u64: [1, 100] }),
    ...encodePacket(9, AfcOpcode.FileRefClose, { u64: [1] }),
    ...encodePacket(10, AfcOpcode.GetFileInfo, { strings: ['/missing'] }),
  );
  const r = await s.replies(4);
  assert.deepEqual(
    r.map((p) => [p.packetNum, p.operation, p.thisLength, p.entireLength]),
    [
      [7, AfcOpcode.FileRefOpenResult, 48, 48],
      [8, AfcOpcode.Data, 40, 43],
      [9, AfcOpcode.Status, 48, 48],
      [10, AfcOpcode.Status, 48, 48],
    ],
  );
  assert.equal(r[1]!.data.toString(), 'abc');
  assert.equal(r[3]!.headerPayload.readBigUInt64LE(0), 8n);
  s.sock.destroy();
  await t.cleanup();
});

test('paths with or without a trailing NUL; ReadDir includes . and ..; GetFileInfo key order as the device', async () => {
  const t = await tempDir();
  await fs.mkdir(join(t.dir, 'DCIM'));
  const s = rawServer(t.dir);
  const noNul = (num: number, op: number, path: string): Buffer => {
    const [h] = encodePacket(num, op, { strings: [path] });
    const cut = Buffer.from(h!.subarray(0, h!.length - 1));
    cut.writeBigUInt64LE(BigInt(cut.length), 8);
    cut.writeBigUInt64LE(BigInt(cut.length), 16);
    return cut;
  };
  s.send(noNul(0, AfcOpcode.ReadDir, '/'), ...encodePacket(1, AfcOpcode.GetFileInfo, { strings: ['/DCIM'] }), noNul(2, AfcOpcode.GetFileInfo, '/DCIM'));
  const r = await s.replies(3);
  assert.equal(r[0]!.data.toString(), '.\0..\0DCIM\0');
  const keys = (p: Packet): string[] => p.data.toString().split('\0').filter((_, i) => i % 2 === 0).slice(0, -1);
  assert.deepEqual(keys(r[1]!), ['st_size', 'st_blocks', 'st_nlink', 'st_ifmt', 'st_mtime', 'st_birthtime']);
  assert.deepEqual(r[1]!.data, r[2]!.data);
  s.sock.destroy();
  await t.cleanup();
});

test('paths are confined to the root: .. is clamped, symlinks out of the root are refused', async () => {
  const outside = await tempDir('afc-outside-');
  const t = await tempDir();
  await fs.writeFile(join(outside.dir, 'secret'), 'secret');
  await fs.mkdir(join(t.dir, 'in'));
  await fs.writeFile(join(t.dir, 'in', 'ok'), 'ok');
  await fs.symlink(outside.dir, join(t.dir, 'escape'));
  await fs.symlink(join(outside.dir, 'secret'), join(t.dir, 'secretlink'));
  const { client, server } = pairedClient({ root: t.dir });
  try {
    // '..' cannot climb above '/': /../../in/ok is /in/ok.
    const h = await client.open('/../../in/ok', 'r');
    assert.equal((await client.read(h, 10)).toString(), 'ok');
    await client.closeFile(h);
    assert.deepEqual((await client.readdir('/..')).sort(), ['escape', 'in', 'secretlink']);
    const denied = (e: unknown): boolean => e instanceof AfcError && e.code === 'ERR_AFC_PERM_DENIED';
    await assert.rejects(client.open('/escape/secret', 'r'), denied);
    await assert.rejects(client.open('/secretlink', 'r'), denied);
    await assert.rejects(client.readdir('/escape'), denied);
    await assert.rejects(client.stat('/escape/secret'), denied);
    await assert.rejects(client.open('/escape/new', 'w'), denied);
    await assert.rejects(client.mkdir('/escape/newdir/deeper'), denied);
    await assert.rejects(client.rename('/in/ok', '/escape/stolen'), denied);
    await assert.rejects(client.link('/escape/secret', '/hard', 'hard'), denied);
    await assert.rejects(client.remove('/'), denied);
    // A symlink made through AFC that points outside cannot be followed either.
    await client.link('/etc/passwd', '/in/pw');
    await assert.rejects(client.open('/in/pw', 'r'), denied);
    // The link itself is visible (lstat), with its target.
    assert.equal((await client.stat('/escape')).linkTarget, outside.dir);
    assert.deepEqual(await fs.readdir(outside.dir), ['secret']);
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
    await outside.cleanup();
  }
});

test('READ over the cap answers TOO_MUCH_DATA (no allocation); unknown opcode UNKNOWN_PACKET_TYPE; bad handle INVALID_ARG', async () => {
  const t = await tempDir();
  await fs.writeFile(join(t.dir, 'f'), 'abc');
  const s = rawServer(t.dir);
  s.send(
    ...encodePacket(0, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/f'] }),
    ...encodePacket(1, AfcOpcode.FileRefRead, { u64: [1, 2 ** 40] }),
    ...encodePacket(2, 0x1d, { strings: ['/f'] }),
    ...encodePacket(3, 0x77, {}),
    ...encodePacket(4, AfcOpcode.FileRefRead, { u64: [99, 10] }),
    ...encodePacket(5, AfcOpcode.FileRefOpen, { u64: [9], strings: ['/f'] }),
    ...encodePacket(6, AfcOpcode.FileRefRead, {}), // arguments missing
  );
  const r = await s.replies(7);
  const st = (p: Packet): bigint => p.headerPayload.readBigUInt64LE(0);
  assert.deepEqual(r.slice(1).map((p) => [p.operation, st(p)]), [
    [AfcOpcode.Status, 13n],
    [AfcOpcode.Status, 6n],
    [AfcOpcode.Status, 6n],
    [AfcOpcode.Status, 7n],
    [AfcOpcode.Status, 7n],
    [AfcOpcode.Status, 7n],
  ]);
  s.sock.destroy();
  await t.cleanup();
});

const MALFORMED: { name: string; bytes: () => Buffer; code: string }[] = [
  { name: 'bad magic', bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), code: 'ERR_PROTOCOL' },
  {
    name: 'oversized WRITE (1 GiB data area)',
    bytes: () => {
      const [h] = encodePacket(0, AfcOpcode.FileRefWrite, { u64: [1] });
      h!.writeBigUInt64LE(48n + (1n << 30n), 8);
      return h!;
    },
    code: 'ERR_PROTOCOL_TOO_LARGE',
  },
  {
    name: 'this_length < 40',
    bytes: () => {
      const [h] = encodePacket(0, AfcOpcode.ReadDir, { strings: ['/'] });
      h!.writeBigUInt64LE(12n, 16);
      return h!;
    },
    code: 'ERR_PROTOCOL',
  },
];

for (const m of MALFORMED) {
  test(`malformed request (${m.name}) closes that connection only`, async () => {
    const t = await tempDir();
    const bad = rawServer(t.dir);
    const good = pairedClient({ root: t.dir });
    bad.send(m.bytes());
    await bad.ended;
    assert.equal(bad.errors[0]?.code, m.code);
    assert.deepEqual(await good.client.readdir('/'), []);
    good.client.close();
    await good.server.done;
    await t.cleanup();
  });
}

test('hooks inject hostile names and file info', async () => {
  const t = await tempDir();
  const { client, server } = pairedClient({
    root: t.dir,
    hooks: {
      readdir: (_p, names) => [...names, '../../etc', 'a/b', ''],
      stat: (p, info) => (p === '/' ? { ...info, st_ifmt: 'S_IFLNK', LinkTarget: '/../..' } : info),
    },
  });
  try {
    assert.deepEqual(await client.readdir('/'), ['../../etc', 'a/b', '']);
    const st = await client.stat('/');
    assert.equal(st.type, 'symlink');
    assert.equal(st.linkTarget, '/../..');
  } finally {
    client.close();
    await server.done;
    await t.cleanup();
  }
});

test('end of the client stream: pending requests are answered, files closed, done resolves', async () => {
  const t = await tempDir();
  await fs.writeFile(join(t.dir, 'f'), 'abc');
  const [a, b] = duplexPair();
  const server = serveAfc(b, { root: t.dir });
  const chunks: Buffer[] = [];
  a.on('data', (c: Buffer) => chunks.push(c));
  a.write(Buffer.concat(encodePacket(0, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/f'] })));
  a.end();
  await server.done;
  assert.equal(decodeAll(Buffer.concat(chunks))[0]!.operation, AfcOpcode.FileRefOpenResult);
  await t.cleanup();
});

test('a client that stops reading pauses the server (write backpressure); all replies arrive in order once it reads', async () => {
  const t = await tempDir();
  const data = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  await fs.writeFile(join(t.dir, 'f'), data);
  const [a, b] = duplexPair({ highWaterMark: 16 * 1024 });
  const server = serveAfc(b, { root: t.dir });
  a.write(Buffer.concat(encodePacket(0, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/f'] })));
  for (let i = 1; i <= 32; i++) a.write(Buffer.concat(encodePacket(i, AfcOpcode.FileRefRead, { u64: [1, 65536] })));
  a.write(Buffer.concat(encodePacket(33, AfcOpcode.FileRefRead, { u64: [1, 65536] }))); // EOF
  // Nothing is read from `a` yet: the server must be waiting on its writes, not buffering every reply.
  await new Promise<void>((r) => setImmediate(r));
  assert.ok(b.writableLength <= 2 * 65536 + 200, `server buffered ${b.writableLength} bytes`);
  const chunks: Buffer[] = [];
  a.on('data', (c: Buffer) => chunks.push(c));
  const want = 34;
  while (decodeAll(Buffer.concat(chunks)).length < want) await new Promise<void>((r) => setImmediate(r));
  const replies = decodeAll(Buffer.concat(chunks));
  assert.deepEqual(replies.map((p) => p.packetNum), Array.from({ length: want }, (_, i) => i));
  assert.ok(Buffer.concat(replies.slice(1, 33).map((p) => p.data)).equals(data));
  assert.equal(replies[33]!.data.length, 0);
  a.destroy();
  await server.done;
  await t.cleanup();
});
