/**
 * Our usbmux client against the REAL usbmuxd 1.1.1 (isolated in a mount namespace; needs root).
 * The daemon sees no USB here, so device-less behaviour is what can be checked (peers.md §4).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { IDeviceError } from '../../src/core/errors.ts';
import { encodeBinaryPlist, encodeXmlPlist, parsePlist } from '../../src/plist/index.ts';
import { UsbmuxClient } from '../../src/usbmux/client.ts';
import { UsbmuxReplyDecoder, encodeBinaryConnect, encodeBinaryListen, encodePlistRequest, type UsbmuxReply } from '../../src/usbmux/codec.ts';
import { UsbmuxError } from '../../src/usbmux/errors.ts';
import { encodeHeader, MessageType } from '../../src/usbmux/protocol.ts';
import { skipUnlessUsbmuxd, startUsbmuxd, type UsbmuxdInstance } from '../support/usbmuxd-daemon.ts';

const skip = skipUnlessUsbmuxd();
const UDID = '00008020-001134490E50003A';
let d: UsbmuxdInstance;

before(async () => {
  if (!skip) d = await startUsbmuxd();
});
after(async () => {
  await d?.stop();
});

/** Sends raw bytes on a fresh connection and collects `count` replies (with the raw reply bytes). */
async function raw(bytes: Buffer[], count = 1): Promise<{ replies: UsbmuxReply[]; wire: Buffer }> {
  const s = netConnect(d.socketPath);
  await once(s, 'connect');
  for (const b of bytes) s.write(b); // libusbmuxd also writes header and body separately
  const dec = new UsbmuxReplyDecoder();
  const replies: UsbmuxReply[] = [];
  const wire: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply from usbmuxd within 5 s')), 5000);
      s.on('data', (c: Buffer) => {
        wire.push(c);
        dec.push(c);
        for (let r = dec.next(); r; r = dec.next()) replies.push(r);
        if (replies.length >= count) {
          clearTimeout(t);
          resolve();
        }
      });
      s.on('close', () => {
        clearTimeout(t);
        reject(new Error('usbmuxd closed the connection'));
      });
    });
  } finally {
    s.destroy();
  }
  return { replies, wire: Buffer.concat(wire) };
}

const isResult = (n: number, code: string) => (e: unknown) => e instanceof UsbmuxError && e.result === n && e.code === code;

test('ListDevices is empty; ListListeners answers', { skip }, async () => {
  const c = await UsbmuxClient.open({ address: d.address, timeoutMs: 5000 });
  assert.deepEqual(await c.listDevices({ timeoutMs: 5000 }), []);
  assert.ok(Array.isArray(await c.listListeners({ timeoutMs: 5000 })));
  c.close();
});

test('ReadBUID is stable across connections and equals SystemConfiguration.plist', { skip }, async () => {
  const a = await UsbmuxClient.open({ address: d.address });
  const b1 = await a.readBuid({ timeoutMs: 5000 });
  const b2 = await a.readBuid({ timeoutMs: 5000 });
  a.close();
  const b = await UsbmuxClient.open({ address: d.address });
  const b3 = await b.readBuid({ timeoutMs: 5000 });
  b.close();
  assert.match(b1, /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  assert.equal(b2, b1);
  assert.equal(b3, b1);
  const conf = parsePlist(readFileSync(join(d.lockdownDir, 'SystemConfiguration.plist'))) as { SystemBUID: string };
  assert.equal(conf.SystemBUID, b1);
});

test('SavePairRecord (binary plist) → ReadPairRecord returns XML → DeletePairRecord; missing → 2; garbage → 22', { skip }, async () => {
  const c = await UsbmuxClient.open({ address: d.address });
  const o = { timeoutMs: 5000 };
  const rec = { HostID: 'F00D', SystemBUID: 'B', EscrowBag: Buffer.alloc(32, 7) };
  assert.equal(await c.readPairRecord(UDID, o), undefined);
  await c.savePairRecord(UDID, encodeBinaryPlist(rec), 1, o); // Result 0 even for a missing DeviceID
  const back = await c.readPairRecord(UDID, o);
  assert.ok(back);
  assert.equal(back.subarray(0, 5).toString(), '<?xml', 'usbmuxd re-serialises records as XML');
  assert.deepEqual(parsePlist(back), rec);
  await c.deletePairRecord(UDID, o);
  assert.equal(await c.readPairRecord(UDID, o), undefined);
  await assert.rejects(c.deletePairRecord(UDID, o), isResult(2, 'ERR_USBMUX_BADDEV'));
  await assert.rejects(c.savePairRecord(UDID, Buffer.from('garbage, not a plist'), undefined, o), isResult(22, 'ERR_USBMUX_EINVAL'));
  c.close();
});

test('Connect to a missing device → BADDEV (plist and binary)', { skip }, async () => {
  const c = await UsbmuxClient.open({ address: d.address });
  await assert.rejects(c.connect(1, 62078, { timeoutMs: 5000 }), isResult(2, 'ERR_USBMUX_BADDEV'));
  const b = await UsbmuxClient.open({ address: d.address, protocol: 'binary' });
  await assert.rejects(b.connect(1, 62078, { timeoutMs: 5000 }), isResult(2, 'ERR_USBMUX_BADDEV'));
  const r = await raw([encodeBinaryConnect(4, 1, 62078)]);
  assert.equal(r.wire.toString('hex'), '14000000' + '00000000' + '01000000' + '04000000' + '02000000');
});

test('ListDevices then Connect on one connection (what a DeviceProvider does per connection): the daemon answers both', { skip }, async () => {
  const c = await UsbmuxClient.open({ address: d.address });
  assert.deepEqual(await c.listDevices({ timeoutMs: 5000 }), []);
  await assert.rejects(c.connect(1, 62078, { timeoutMs: 5000 }), isResult(2, 'ERR_USBMUX_BADDEV'));
});

test('unknown MessageType → Result 1 (BADCOMMAND)', { skip }, async () => {
  const r = await raw(encodePlistRequest(9, { MessageType: 'NoSuchMessage', ProgName: 'iosdevice-test' }));
  const res = r.replies[0]!;
  assert.equal(res.kind, 'result');
  assert.equal(res.kind === 'result' && res.result, 1);
  assert.equal(res.tag, 9);
  assert.throws(() => {
    throw new UsbmuxError(1);
  }, (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_USBMUX_BADCOMMAND');
});

test('Listen → Result 0, then silence (no devices); leaving the loop closes', { skip }, async () => {
  const c = await UsbmuxClient.open({ address: d.address });
  const ac = new AbortController();
  let ready = false;
  const events: unknown[] = [];
  const run = (async () => {
    for await (const ev of c.listen({ timeoutMs: 5000, signal: ac.signal, onReady: () => ((ready = true), ac.abort()) })) events.push(ev);
  })();
  await assert.rejects(run, (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_ABORTED');
  assert.equal(ready, true, 'the daemon answered Listen with Result 0');
  assert.deepEqual(events, []);
});

test('binary v0: Listen → v0 RESULT 0 bytes; our client in binary mode; plist under a v0 header is answered in v1', { skip }, async () => {
  const r = await raw([encodeBinaryListen(3)]);
  assert.equal(r.wire.toString('hex'), '14000000' + '00000000' + '01000000' + '03000000' + '00000000');
  const c = await UsbmuxClient.open({ address: d.address, protocol: 'binary' });
  let ready = false;
  const ac = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const _ of c.listen({ timeoutMs: 5000, signal: ac.signal, onReady: () => ((ready = true), ac.abort()) })) void _;
    })(),
    (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_ABORTED',
  );
  assert.equal(ready, true);
  const b = await UsbmuxClient.open({ address: d.address, protocol: 'binary' });
  assert.deepEqual(await b.listDevices({ timeoutMs: 5000 }), []); // v0 has no ListDevices: Listen scan
  const body = encodeXmlPlist({ MessageType: 'ReadBUID' });
  const v = await raw([encodeHeader(body.length, 0, MessageType.Plist, 11), body]);
  assert.equal(v.replies[0]!.version, 1);
  assert.equal(v.replies[0]!.tag, 11);
  assert.equal(v.replies[0]!.kind, 'plist');
  assert.equal(typeof v.replies[0]!.plist?.BUID, 'string');
});

test('TCP address form (host:port) through a socat relay', { skip: skip || skipUnlessUsbmuxd('socat') }, async () => {
  const tcp = await d.tcpRelay();
  const c = await UsbmuxClient.open({ address: tcp, timeoutMs: 5000 });
  const viaTcp = await c.readBuid({ timeoutMs: 5000 });
  c.close();
  const u = await UsbmuxClient.open({ address: d.address });
  assert.equal(viaTcp, await u.readBuid({ timeoutMs: 5000 }));
  u.close();
  await assert.rejects(UsbmuxClient.open({ address: `UNIX:${d.dir}/nothing-here` }), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_USBMUX_UNREACHABLE');
});

test('iosdevice list / list --json against the real daemon: no devices, exit 0', { skip }, async () => {
  const { main } = await import('../../src/cli/main.ts');
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const io = { stdout: out, stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
  assert.equal(await main(['list', '--json', '--socket', d.address], io), 0);
  assert.deepEqual(JSON.parse(text), []);
  text = '';
  assert.equal(await main(['list', '--socket', d.address], io), 0);
  assert.match(text, /^no devices attached/);
});
