import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDeviceError } from '../../../src/core/errors.ts';
import { DeviceMux, lookupFromConnector } from '../../../src/usb/device-mux.ts';
import { encodeVersionPayload, MuxProtocol } from '../../../src/usb/header.ts';
import { HostMux } from '../../../src/usb/host-mux.ts';
import { decodeMuxPacket, encodeMuxPacket } from '../../../src/usb/packet.ts';
import { TcpFlags } from '../../../src/usb/tcp.ts';
import type { TcpHeader } from '../../../src/usb/tcp.ts';
import { createVirtualUsbPair } from '../../../src/usb/virtual-endpoints.ts';
import { VirtualIPhone } from '../../../src/virtual-iphone/virtual-iphone.ts';

/**
 * A hand-driven device end built from the codecs: answers VERSION 2, answers the first SYN with SYN|ACK (window 512),
 * then lets the test send whatever segments it likes.
 */
async function rawDevice() {
  const pair = createVirtualUsbPair();
  let seq = 0;
  let synSeen: (h: TcpHeader) => void = () => undefined;
  const syn = new Promise<TcpHeader>((r) => (synSeen = r));
  pair.device.onData((chunk) => {
    if (chunk.length === 0) return;
    const proto = chunk.readUInt32BE(0);
    if (proto === MuxProtocol.Version) {
      void pair.device.write(encodeMuxPacket(1, { protocol: 0 }, undefined, encodeVersionPayload(2, 0)));
      return;
    }
    if (proto !== MuxProtocol.Tcp) return;
    const p = decodeMuxPacket(chunk, 2);
    if (p.tcp!.flags === TcpFlags.SYN) synSeen(p.tcp!);
  });
  pair.device.onClose(() => undefined);
  const mux = await HostMux.open(pair.host, { timeoutMs: 5000 });
  const send = (tcp: TcpHeader, payload?: Buffer): Promise<void> =>
    pair.device.write(encodeMuxPacket(2, { protocol: MuxProtocol.Tcp, txSeq: seq++, rxSeq: 0 }, tcp, payload));
  const connecting = mux.connect(7000);
  const s = await syn;
  const reply = (flags: number, devSeq: number, payload?: Buffer): Promise<void> =>
    send({ sport: s.dport, dport: s.sport, seq: devSeq, ack: 1, flags, window: 512 }, payload);
  await reply(TcpFlags.SYN | TcpFlags.ACK, 0);
  const stream = await connecting;
  return { mux, stream, reply };
}

const isCode = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

test('a device segment with the wrong seq → ERR_PROTOCOL on that stream', async () => {
  const { mux, stream, reply } = await rawDevice();
  const err = once(stream, 'error');
  await reply(TcpFlags.ACK, 5, Buffer.from('out of order'));
  const [e] = await err;
  assert.ok(isCode('ERR_PROTOCOL')(e));
  await mux.close();
});

test('a device sending beyond our 128 KiB window → ERR_USB_MUX_OVERFLOW', async () => {
  const { mux, stream, reply } = await rawDevice();
  stream.pause(); // nobody reads: the ack stays where it is
  const err = once(stream, 'error');
  const piece = Buffer.alloc(40000, 1);
  let devSeq = 1;
  for (let i = 0; i < 6; i++) {
    await reply(TcpFlags.ACK, devSeq, piece);
    devSeq += piece.length;
  }
  const [e] = await err;
  assert.ok(isCode('ERR_USB_MUX_OVERFLOW')(e));
  await mux.close();
});

test('SYN on an open stream (flags other than ACK) → ERR_PROTOCOL; the mux keeps serving others', async () => {
  const { mux, stream, reply } = await rawDevice();
  const err = once(stream, 'error');
  await reply(TcpFlags.SYN, 1);
  const [e] = await err;
  assert.ok(isCode('ERR_PROTOCOL')(e));
  assert.equal(mux.connectionCount, 0);
  await mux.close();
});

test('device end over a connector (VirtualIPhone.connect): unknown port → RST → ERR_USB_MUX_REFUSED', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'usbmux-conn-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const iphone = new VirtualIPhone({ mediaDir: dir, crashDir: dir });
  const pair = createVirtualUsbPair();
  new DeviceMux(pair.device, { services: lookupFromConnector((p) => iphone.connect(p)) });
  const mux = await HostMux.open(pair.host);
  await assert.rejects(mux.connect(4242), isCode('ERR_USB_MUX_REFUSED'));
  const s = await mux.connect(62078);
  s.destroy();
  await mux.close();
});
