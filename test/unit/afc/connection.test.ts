import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { AfcClient } from '../../../src/afc/client.ts';
import { encodeDataReplyHeader, encodeKeyValues, encodeNulList, encodePacket, encodeStatusReply } from '../../../src/afc/codec.ts';
import { AfcBadReplyError, AfcError, AfcTooManyEntriesError } from '../../../src/afc/errors.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { ClosedError, IDeviceError, ProtocolError, TooLargeError } from '../../../src/core/errors.ts';
import { decodeAll, fakeDevice, type Packet } from './helpers.ts';


function hdr(entire: bigint, thisLen: bigint, num: bigint, op: bigint): Buffer {
  const b = Buffer.alloc(40);
  b.write('CFA6LPAA', 0, 'latin1');
  b.writeBigUInt64LE(entire, 8);
  b.writeBigUInt64LE(thisLen, 16);
  b.writeBigUInt64LE(num, 24);
  b.writeBigUInt64LE(op, 32);
  return b;
}

const HOSTILE_REPLIES: { name: string; reply: (num: number) => Buffer[]; code: string; cls: new (...args: never[]) => IDeviceError }[] = [
  { name: 'wrong packet_num', reply: (n) => [encodeStatusReply(n + 100, 0)], code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'this_len < 40', reply: (n) => [hdr(48n, 32n, BigInt(n), 1n)], code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'entire < this', reply: (n) => [hdr(44n, 48n, BigInt(n), 1n)], code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'length over the cap', reply: (n) => [hdr(40n + (1n << 30n), 40n, BigInt(n), 2n)], code: 'ERR_PROTOCOL_TOO_LARGE', cls: TooLargeError },
  { name: 'u64 high word set', reply: (n) => [hdr((1n << 63n) + 48n, 48n, BigInt(n), 1n)], code: 'ERR_PROTOCOL', cls: ProtocolError },
  { name: 'bad magic', reply: () => [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')], code: 'ERR_PROTOCOL', cls: ProtocolError },
  {
    name: 'truncated DATA then EOF',
    reply: (n) => [encodeDataReplyHeader(n, 1000), Buffer.alloc(10)],
    code: 'ERR_PROTOCOL',
    cls: ProtocolError,
  },
  { name: 'EOF between packets', reply: () => [], code: 'ERR_CLOSED', cls: ClosedError },
  // Well framed, unusable content: only that call fails (ERR_AFC_BAD_REPLY), the connection stays up.
  { name: 'STATUS body shorter than a u64 (this = 44)', reply: (n) => [hdr(44n, 44n, BigInt(n), 1n), Buffer.alloc(4)], code: 'ERR_AFC_BAD_REPLY', cls: AfcBadReplyError },
];

for (const h of HOSTILE_REPLIES) {
  test(`hostile reply: ${h.name} → ${h.code} on the call and on every other pending call`, async () => {
    const { client } = fakeDevice((p, dev) => {
      if (p.packetNum !== 0) return; // only the first request gets the hostile answer
      for (const b of h.reply(p.packetNum)) dev.write(b);
      if (h.name.includes('EOF')) dev.end();
    });
    const isIt = (e: unknown): boolean => e instanceof h.cls && (e as IDeviceError).code === h.code;
    const first = client.stat('/a');
    const second = client.readdir('/b');
    if (h.code === 'ERR_AFC_BAD_REPLY') {
      await assert.rejects(first, isIt);
      client.close();
      await assert.rejects(second, (e: unknown) => e instanceof ClosedError);
      return;
    }
    await assert.rejects(first, isIt);
    await assert.rejects(second, isIt);
    await assert.rejects(client.stat('/c'), isIt); // the connection stays failed
  });
}

test('replies are matched by packet_num even out of order; window bounds requests in flight', async () => {
  const [a, dev] = duplexPair();
  const client = new AfcClient(a, { maxInFlight: 2 });
  const got: Packet[] = [];
  let buf = Buffer.alloc(0);
  let answered = false;
  dev.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 40 && buf.length >= Number(buf.readBigUInt64LE(8))) {
      const n = Number(buf.readBigUInt64LE(8));
      got.push(decodeAll(buf.subarray(0, n))[0]!);
      buf = buf.subarray(n);
    }
    if (got.length === 2 && !answered) {
      answered = true;
      // Answer the second first; only then does the third request go out.
      const kv = encodeKeyValues({ st_size: '2', st_ifmt: 'S_IFREG' });
      dev.write(Buffer.concat([encodeDataReplyHeader(1, kv.length), kv]));
      dev.write(encodeStatusReply(0, 8));
    } else if (got.length === 3) dev.write(encodeStatusReply(2, 0));
  });
  const p0 = client.stat('/zero');
  const p1 = client.stat('/one');
  const p2 = client.mkdir('/two');
  assert.equal(client.connection.pendingCount, 3);
  await assert.rejects(p0, (e: unknown) => e instanceof AfcError && e.code === 'ERR_AFC_OBJECT_NOT_FOUND' && e.path === '/zero');
  assert.equal((await p1).size, 2);
  await p2;
  assert.deepEqual(got.map((p) => [p.packetNum, p.operation]), [
    [0, AfcOpcode.GetFileInfo],
    [1, AfcOpcode.GetFileInfo],
    [2, AfcOpcode.MakeDir],
  ]);
  client.close();
});

test('requests made in one tick leave in one write (writev); a later tick writes again', async () => {
  const batches: number[][] = [];
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      batches.push([Number(chunk.readBigUInt64LE(24))]);
      cb();
    },
    writev(chunks: { chunk: Buffer }[], cb) {
      // each request here is one 40-byte header plus its path: the packet_num of every header
      batches.push(chunks.filter((c) => c.chunk.length >= 40 && c.chunk.subarray(0, 8).toString('latin1') === 'CFA6LPAA').map((c) => Number(c.chunk.readBigUInt64LE(24))));
      cb();
    },
  });
  const toClient = (b: Buffer): boolean => wire.push(b);
  const client = new AfcClient(wire);
  const first = [client.remove('/a'), client.remove('/b'), client.remove('/c')];
  assert.equal(batches.length, 0, 'nothing is written before the tick ends');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [[0, 1, 2]]);
  for (const n of [0, 1, 2]) toClient(encodeStatusReply(n, 0));
  await Promise.all(first);
  const later = client.remove('/d');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [[0, 1, 2], [3]]);
  toClient(encodeStatusReply(3, 0));
  await later;
  client.close();
});

test('placement-agnostic replies: STATUS in the data area, DATA in the header payload', async () => {
  const { client } = fakeDevice((p, dev) => {
    if (p.operation === AfcOpcode.MakeDir) {
      const st = Buffer.alloc(8);
      st.writeBigUInt64LE(16n);
      dev.write(Buffer.concat([hdr(48n, 40n, BigInt(p.packetNum), 1n), st])); // status after the header
    } else {
      const body = Buffer.from('.\0..\0x\0');
      dev.write(Buffer.concat([hdr(40n + BigInt(body.length), 40n + BigInt(body.length), BigInt(p.packetNum), 2n), body]));
    }
  });
  await assert.rejects(client.mkdir('/m'), (e: unknown) => e instanceof AfcError && e.status === 16);
  assert.deepEqual(await client.readdir('/'), ['x']);
  client.close();
});

test('an unexpected reply operation fails that call only (ERR_AFC_BAD_REPLY); an unknown status keeps its value', async () => {
  const { client } = fakeDevice((p, dev) => {
    if (p.operation === AfcOpcode.MakeDir) dev.write(encodePacket(p.packetNum, AfcOpcode.FileRefTellResult, { u64: [1] })[0]!);
    else dev.write(encodeStatusReply(p.packetNum, 99));
  });
  await assert.rejects(client.mkdir('/m'), (e: unknown) => e instanceof AfcBadReplyError && e.code === 'ERR_AFC_BAD_REPLY' && e.path === '/m');
  await assert.rejects(client.remove('/r'), (e: unknown) => e instanceof AfcError && e.code === 'ERR_AFC_UNRECOGNISED_STATUS' && e.status === 99);
  client.close();
});

test('timeout and abort reject the call; the late reply is discarded and the connection keeps working', async () => {
  const pending: Packet[] = [];
  const { client, dev } = fakeDevice((p) => pending.push(p));
  const ac = new AbortController();
  const slow = client.mkdir('/slow', { timeoutMs: 5 });
  const aborted = client.mkdir('/aborted', { signal: ac.signal });
  ac.abort();
  await assert.rejects(aborted, (e: unknown) => (e as IDeviceError).code === 'ERR_ABORTED');
  await assert.rejects(slow, (e: unknown) => (e as IDeviceError).code === 'ERR_TIMEOUT');
  const ok = client.mkdir('/ok');
  await new Promise<void>((res) => setImmediate(res));
  for (const p of pending) dev.write(encodeStatusReply(p.packetNum, 0));
  await ok;
  client.close();
});

test('invalid arguments are rejected locally with ERR_INVALID_ARG', async () => {
  const { client, seen } = fakeDevice(() => undefined);
  await assert.rejects(client.stat('a\0b'), (e: unknown) => (e as IDeviceError).code === 'ERR_INVALID_ARG');
  await assert.rejects(client.open('/x', 'rw+'), (e: unknown) => (e as IDeviceError).code === 'ERR_INVALID_ARG');
  assert.equal(seen.length, 0);
  client.close();
});

test('a handed-over stream that was paused explicitly still flows (client and server resume it)', async () => {
  const { serveAfc } = await import('../../../src/afc/server.ts');
  const { tempDir } = await import('./helpers.ts');
  const t = await tempDir();
  const [a, b] = duplexPair();
  a.pause();
  b.pause();
  const server = serveAfc(b, { root: t.dir });
  const client = new AfcClient(a);
  assert.deepEqual(await client.readdir('/'), []);
  client.close();
  await server.done;
  await t.cleanup();
});

test('a malformed GetFileInfo reply fails that stat only (ERR_AFC_BAD_REPLY with the path); the connection stays usable', async () => {
  const good = { st_size: '10', st_blocks: '8', st_nlink: '1', st_ifmt: 'S_IFREG', st_mtime: '1700000000000000000', st_birthtime: '1700000000000000000' };
  const bad: Record<string, Buffer> = {
    '/neg': encodeKeyValues({ ...good, st_size: '-1' }),
    '/mtime': encodeKeyValues({ ...good, st_mtime: 'yesterday' }),
    '/huge': encodeKeyValues({ ...good, st_size: '99999999999999999999' }),
    '/odd': Buffer.from('st_size\u000010\u0000st_ifmt\u0000', 'utf8'),
  };
  const { client } = fakeDevice((p, dev) => {
    const path = p.headerPayload.toString('utf8').replace(/\0+$/, '');
    const body = bad[path] ?? encodeKeyValues(good);
    dev.write(Buffer.concat([encodeDataReplyHeader(p.packetNum, body.length), body]));
  });
  const calls = [...Object.keys(bad), '/ok'].map((p) => client.stat(p).then((i) => i, (e: unknown) => e));
  const results = await Promise.all(calls);
  for (const [i, path] of Object.keys(bad).entries()) {
    const e = results[i];
    assert.ok(e instanceof AfcBadReplyError, `${path}: ${String(e)}`);
    assert.equal(e.code, 'ERR_AFC_BAD_REPLY');
    assert.equal(e.path, path);
  }
  assert.match((results[0] as Error).message, /st_size is not a non-negative safe integer: "-1"/);
  assert.equal((results[4] as { size: number }).size, 10);
  assert.equal((await client.stat('/after')).type, 'file', 'the connection still answers');
  assert.equal(client.connection.closed, false);
  client.close();
});

test('readdir maxEntries: a listing over the cap fails that call only (ERR_AFC_TOO_MANY_ENTRIES), checked while parsing', async () => {
  const { client } = fakeDevice((p, dev) => {
    const n = p.headerPayload.toString('utf8').startsWith('/big') ? 1000 : 3;
    const body = encodeNulList(['.', '..', ...Array.from({ length: n }, (_, i) => `IMG_${i}.JPG`)]);
    dev.write(Buffer.concat([encodeDataReplyHeader(p.packetNum, body.length), body]));
  });
  await assert.rejects(client.readdir('/big', { maxEntries: 999 }), (e: unknown) => e instanceof AfcTooManyEntriesError && e.cap === 999 && e.path === '/big');
  assert.equal((await client.readdir('/big', { maxEntries: 1000 })).length, 1000);
  assert.deepEqual(await client.readdir('/small', { maxEntries: 3 }), ['IMG_0.JPG', 'IMG_1.JPG', 'IMG_2.JPG']);
  client.close();
});
