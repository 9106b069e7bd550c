import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';
import { encodePacket, parseKeyValues, parseNulList } from '../../../src/afc/codec.ts';
import { AfcOpcode } from '../../../src/afc/protocol.ts';
import { AfcClient } from '../../../src/afc/client.ts';
import { AfcError } from '../../../src/afc/errors.ts';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { toFileInfo } from '../../../src/afc/file-info.ts';
import { decodeAll, splitEverywhere } from './helpers.ts';

const skip = skipUnlessCaptures();
const SESSIONS = [
  { name: 'stream091', file: 'stream091_afc_session_a', c2s: 595, s2c: 294 },
  { name: 'stream190', file: 'stream190_afc_session_b', c2s: 596, s2c: 294 },
];

function load(file: string, dir: 'c2s' | 's2c', offset: number): Buffer {
  return readFileSync(capturePath('usbmuxd_debug', 'derived', 'streams', `${file}_${dir}.bin`)).subarray(offset);
}

for (const s of SESSIONS) {
  test(`${s.name}: recorded requests decode (FILE_OPEN layout, FILE_READ arguments) and re-encode byte for byte`, { skip }, () => {
    const bytes = load(s.file, 'c2s', s.c2s);
    const pkts = decodeAll(bytes);
    assert.equal(pkts.length, 4);
    assert.deepEqual(
      pkts.map((p) => [p.packetNum, p.operation, p.thisLength, p.entireLength]),
      [
        [0, AfcOpcode.FileRefOpen, 83, 83],
        [1, AfcOpcode.FileRefRead, 56, 56],
        [2, AfcOpcode.FileRefClose, 48, 48],
        [3, AfcOpcode.FileRefOpen, 88, 88],
      ],
    );
    // FILE_OPEN: u64 mode then the NUL-terminated path.
    assert.equal(pkts[0]!.headerPayload.readBigUInt64LE(0), 1n);
    assert.deepEqual(parseNulList(pkts[0]!.headerPayload.subarray(8)), ['/iTunes_Control/iTunes/iTunesPrefs']);
    // FILE_READ: u64 handle, u64 size.
    assert.equal(pkts[1]!.headerPayload.readBigUInt64LE(0), 1n);
    assert.equal(pkts[1]!.headerPayload.readBigUInt64LE(8), 0x4d0n);
    assert.equal(pkts[2]!.headerPayload.readBigUInt64LE(0), 1n);
    assert.deepEqual(parseNulList(pkts[3]!.headerPayload.subarray(8)), ['/iTunes_Control/iTunes/SyncAfterRestore']);
    // Our encoder gives the same bytes for the same packet numbers.
    const ours = Buffer.concat([
      ...encodePacket(0, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/iTunes_Control/iTunes/iTunesPrefs'] }),
      ...encodePacket(1, AfcOpcode.FileRefRead, { u64: [1, 0x4d0] }),
      ...encodePacket(2, AfcOpcode.FileRefClose, { u64: [1] }),
      ...encodePacket(3, AfcOpcode.FileRefOpen, { u64: [1], strings: ['/iTunes_Control/iTunes/SyncAfterRestore'] }),
    ]);
    assert.equal(ours.toString('hex'), bytes.toString('hex'));
  });

  test(`${s.name}: recorded replies decode (OPEN_RES, DATA with this_len 40, STATUS 0 and 8), any chunking`, { skip }, () => {
    const bytes = load(s.file, 's2c', s.s2c);
    const check = (pkts: ReturnType<typeof decodeAll>): void => {
      assert.deepEqual(
        pkts.map((p) => [p.packetNum, p.operation, p.thisLength, p.entireLength]),
        [
          [0, AfcOpcode.FileRefOpenResult, 48, 48],
          [1, AfcOpcode.Data, 40, 40 + 0x4d0],
          [2, AfcOpcode.Status, 48, 48],
          [3, AfcOpcode.Status, 48, 48],
        ],
      );
      assert.equal(pkts[0]!.headerPayload.readBigUInt64LE(0), 1n);
      assert.equal(pkts[1]!.data.length, 0x4d0);
      assert.equal(pkts[1]!.data.subarray(0, 4).toString('latin1'), 'frpd');
      assert.equal(pkts[2]!.headerPayload.readBigUInt64LE(0), 0n);
      assert.equal(pkts[3]!.headerPayload.readBigUInt64LE(0), 8n);
    };
    check(decodeAll(bytes));
    check(decodeAll(bytes, [1]));
    check(decodeAll(bytes, [7, 13, 40, 41, 1000]));
  });

  test(`${s.name}: AfcClient replays the session: open, read, close, then ERR_AFC_OBJECT_NOT_FOUND`, { skip }, async () => {
    const c2s = load(s.file, 'c2s', s.c2s);
    const s2c = load(s.file, 's2c', s.s2c);
    const recordedReplies = decodeAll(s2c).map((p) => p.entireLength);
    const [a, b] = duplexPair();
    const client = new AfcClient(a);
    // The fake device checks each request against the recording, then sends the recorded reply.
    const got: Buffer[] = [];
    let replyOff = 0;
    let reqIndex = 0;
    b.on('data', (chunk: Buffer) => {
      got.push(chunk);
      const sent = Buffer.concat(got);
      const expected = decodeAll(c2s);
      while (reqIndex < expected.length) {
        const want = c2s.subarray(
          expected.slice(0, reqIndex).reduce((n, p) => n + p.entireLength, 0),
          expected.slice(0, reqIndex + 1).reduce((n, p) => n + p.entireLength, 0),
        );
        const start = expected.slice(0, reqIndex).reduce((n, p) => n + p.entireLength, 0);
        if (sent.length < start + want.length) break;
        assert.equal(sent.subarray(start, start + want.length).toString('hex'), want.toString('hex'));
        b.write(s2c.subarray(replyOff, replyOff + recordedReplies[reqIndex]!));
        replyOff += recordedReplies[reqIndex]!;
        reqIndex++;
      }
    });
    const h = await client.open('/iTunes_Control/iTunes/iTunesPrefs', 'r');
    assert.equal(h, 1);
    const data = await client.read(h, 0x4d0);
    assert.equal(data.length, 0x4d0);
    assert.equal(data.subarray(0, 4).toString('latin1'), 'frpd');
    await client.closeFile(h);
    await assert.rejects(client.open('/iTunes_Control/iTunes/SyncAfterRestore', 'r'), (e: unknown) => {
      assert.ok(e instanceof AfcError);
      assert.equal(e.code, 'ERR_AFC_OBJECT_NOT_FOUND');
      assert.equal(e.status, 8);
      assert.equal(e.opcode, AfcOpcode.FileRefOpen);
      assert.equal(e.path, '/iTunes_Control/iTunes/SyncAfterRestore');
      return true;
    });
    client.close();
  });
}

function appium(name: string): Buffer {
  return readFileSync(capturePath('appium-ios-device', name));
}

test('appium afcsuccessresponse: STATUS 0 with this = entire = 48, every split', { skip }, () => {
  const bytes = appium('afcsuccessresponse.bin');
  for (const split of splitEverywhere(bytes)) {
    const [p] = decodeAll(bytes, split);
    assert.deepEqual([p!.operation, p!.thisLength, p!.entireLength, p!.packetNum], [AfcOpcode.Status, 48, 48, 0]);
    assert.equal(p!.headerPayload.readBigUInt64LE(0), 0n);
  }
});

test('appium afcfileinforesponse: GetFileInfo DATA (S_IFDIR, ns times) parsed into AfcFileInfo', { skip }, () => {
  const bytes = appium('afcfileinforesponse.bin');
  for (const split of splitEverywhere(bytes)) {
    const pkts = decodeAll(bytes, split);
    assert.equal(pkts.length, 1);
    assert.equal(pkts[0]!.thisLength, 40);
  }
  const [p] = decodeAll(bytes);
  assert.equal(p!.operation, AfcOpcode.Data);
  const raw = parseKeyValues(p!.data);
  assert.deepEqual(Object.keys(raw), ['st_size', 'st_blocks', 'st_nlink', 'st_ifmt', 'st_mtime', 'st_birthtime']);
  const info = toFileInfo(raw);
  assert.equal(info.type, 'dir');
  assert.equal(info.size, 64);
  assert.equal(info.nlink, 2);
  assert.equal(info.mtimeNs, 1494244521000000000n);
  assert.equal(info.mtime.getTime(), 1494244521000);
  assert.equal(info.birthtimeNs, 1494244521000000000n);
});

test('appium afclistdirresponse: ReadDir DATA with . and .. (dropped by readdir)', { skip }, async () => {
  const bytes = appium('afclistdirresponse.bin');
  const [p] = decodeAll(bytes);
  const names = parseNulList(p!.data);
  assert.deepEqual(names, [
    '.', '..', 'AirFair', 'Books', 'DCIM', 'Downloads', 'MediaAnalysis', 'PhotoData', 'Photos', 'PublicStaging', 'Radio', 'Recordings', 'iTunes_Control',
  ]);
  // Through the client: the recorded reply answers a ReadDir with packet_num 0.
  const [a, b] = duplexPair();
  const client = new AfcClient(a);
  b.once('data', (req: Buffer) => {
    const [r] = decodeAll(req);
    assert.equal(r!.operation, AfcOpcode.ReadDir);
    assert.deepEqual(parseNulList(r!.headerPayload), ['/']);
    b.write(bytes);
  });
  const list = await client.readdir('/');
  assert.deepEqual(list, names.slice(2));
  client.close();
});
