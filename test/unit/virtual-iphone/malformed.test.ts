/**
 * Malformed input against the running emulator, over its real usbmuxd socket: the bad connection gets the proper
 * error reply or is closed, and the emulator keeps serving everyone else (checked with our clients and, when
 * installed, the real libimobiledevice tools).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectLockdown, openDevice } from '../../../src/connect.ts';
import type { DeviceProvider } from '../../../src/provider.ts';
import { encodeXmlPlist, parsePlist } from '../../../src/plist/index.ts';
import { isPlistDict, type PlistDict } from '../../../src/plist/types.ts';
import type { Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { runTool, startTestEmulator } from '../../support/emulator.ts';
import { skipUnlessTools } from '../../support/peers.ts';

/** Bytes received on a raw stream, and its end. */
class Raw {
  data = Buffer.alloc(0);
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];
  constructor(readonly s: Duplex) {
    s.on('data', (b: Buffer) => {
      this.data = Buffer.concat([this.data, b]);
      for (const w of this.#waiters.splice(0)) w();
    });
    s.on('error', () => {});
    this.closed = new Promise((resolve) => s.once('close', () => resolve()));
    s.resume(); // UsbmuxClient hands the socket over paused; a 'data' listener alone does not restart it
  }
  /** Waits until at least n bytes arrived (rejects if the stream closes first). */
  async atLeast(n: number): Promise<Buffer> {
    while (this.data.length < n) {
      const more = new Promise<void>((r) => this.#waiters.push(r));
      const gone = this.closed.then(() => {
        throw new Error(`closed after ${this.data.length} of ${n} bytes`);
      });
      await Promise.race([more, gone]);
    }
    return this.data;
  }
  /** Reads one lockdown frame (u32 BE length + plist) from the start of the received bytes and drops it. */
  async lockdownReply(): Promise<PlistDict> {
    const len = (await this.atLeast(4)).readUInt32BE(0);
    const buf = await this.atLeast(4 + len);
    const v = parsePlist(buf.subarray(4, 4 + len));
    this.data = this.data.subarray(4 + len);
    assert.ok(isPlistDict(v));
    return v;
  }
}

function frame(msg: PlistDict): Buffer {
  const body = encodeXmlPlist(msg);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** An AFC header: magic, entire, this, packet number, operation (all u64 LE). */
function afcHeader(entire: bigint, thisLen: bigint, op: number, magic = 'CFA6LPAA'): Buffer {
  const h = Buffer.alloc(40);
  h.write(magic, 0, 'latin1');
  h.writeBigUInt64LE(entire, 8);
  h.writeBigUInt64LE(thisLen, 16);
  h.writeBigUInt64LE(0n, 24);
  h.writeBigUInt64LE(BigInt(op), 32);
  return h;
}

describe('malformed requests against the emulator', () => {
  let emu: Emulator;
  let dev: DeviceProvider;
  before(async () => {
    emu = await startTestEmulator({ dcimCount: 3 });
    dev = await openDevice({ socket: emu.address });
  });
  after(async () => {
    await emu?.close();
  });

  const lockdownRaw = async (): Promise<Raw> => new Raw(await dev.connect(62078));
  const afcRaw = async (): Promise<Raw> => {
    const ld = await connectLockdown(dev);
    try {
      const { port } = await ld.startService('com.apple.afc');
      return new Raw(await dev.connect(port));
    } finally {
      ld.close();
    }
  };

  test('lockdown: a length over the cap closes that connection without a reply', async () => {
    const r = await lockdownRaw();
    r.s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await r.closed;
    assert.equal(r.data.length, 0);
  });

  test('lockdown: a body that is no plist (garbage, broken XML) closes the connection', async () => {
    for (const body of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from('<?xml version="1.0"?><plist><dict><key>Request</key>')]) {
      const r = await lockdownRaw();
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      r.s.write(Buffer.concat([head, body]));
      await r.closed;
      assert.equal(r.data.length, 0);
    }
  });

  test('lockdown: unknown and request-less messages get an Error reply; the connection keeps working', async () => {
    const r = await lockdownRaw();
    r.s.write(frame({ Label: 'fuzz', Request: 'FlyToTheMoon' }));
    const a = await r.lockdownReply();
    assert.equal(a.Request, 'FlyToTheMoon');
    assert.equal(typeof a.Error, 'string');
    r.s.write(frame({ Label: 'fuzz', Key: 'DeviceName' }));
    const b = await r.lockdownReply();
    assert.equal(typeof b.Error, 'string');
    r.s.write(frame({ Label: 'fuzz', Request: 'GetValue', Key: 'NoSuchKey' }));
    assert.equal((await r.lockdownReply()).Error, 'MissingValue');
    r.s.write(frame({ Label: 'fuzz', Request: 'GetValue', Key: 'DeviceName' }));
    const c = await r.lockdownReply();
    assert.equal(c.Value, 'Virtual iPhone');
    r.s.destroy();
  });

  test('AFC: bad magic, this_length < 40, entire_length over the cap each close that connection', async () => {
    const cases = [
      afcHeader(40n, 40n, 0x0b, 'XXXXXXXX'),
      afcHeader(40n, 16n, 0x0b),
      afcHeader(1n << 40n, 48n, 0x10),
      afcHeader(40n, 48n, 0x0b), // entire < this
    ];
    for (const c of cases) {
      const r = await afcRaw();
      r.s.write(c);
      await r.closed;
      assert.equal(r.data.length, 0);
    }
  });

  test('AFC: an unknown operation gets STATUS UNKNOWN_PACKET_TYPE (6); the connection keeps working', async () => {
    const r = await afcRaw();
    r.s.write(afcHeader(40n, 40n, 0x7f));
    const reply = await r.atLeast(48);
    assert.equal(reply.toString('latin1', 0, 8), 'CFA6LPAA');
    assert.equal(reply.readBigUInt64LE(32), 1n); // STATUS
    assert.equal(reply.readBigUInt64LE(40), 6n);
    r.data = r.data.subarray(48);
    r.s.write(afcHeader(40n, 40n, 0x0b)); // GetDeviceInfo
    const info = await r.atLeast(40);
    const len = Number(info.readBigUInt64LE(8));
    const body = (await r.atLeast(len)).subarray(40, len).toString('utf8');
    assert.match(body, /FSTotalBytes\0\d+\0/);
    r.s.destroy();
  });

  test('usbmux: unknown MessageType gets Result 1; a huge header length closes only that client', async () => {
    const path = emu.address.slice('UNIX:'.length);
    const ask = (bytes: Buffer): Promise<{ data: Buffer; closed: boolean }> =>
      new Promise((resolve) => {
        const s = createConnection(path);
        let data = Buffer.alloc(0);
        s.on('data', (b) => {
          data = Buffer.concat([data, b]);
          if (data.length >= 16 && data.length >= data.readUInt32LE(0)) {
            s.destroy();
            resolve({ data, closed: false });
          }
        });
        s.on('error', () => {});
        s.on('close', () => resolve({ data, closed: true }));
        s.write(bytes);
      });
    const body = encodeXmlPlist({ MessageType: 'Teleport', ProgName: 'fuzz' });
    const head = Buffer.alloc(16);
    head.writeUInt32LE(16 + body.length, 0);
    head.writeUInt32LE(1, 4);
    head.writeUInt32LE(8, 8);
    head.writeUInt32LE(7, 12);
    const a = await ask(Buffer.concat([head, body]));
    const reply = parsePlist(a.data.subarray(16, a.data.readUInt32LE(0)));
    assert.ok(isPlistDict(reply));
    assert.equal(reply.MessageType, 'Result');
    assert.equal(reply.Number, 1);
    assert.equal(a.data.readUInt32LE(12), 7, 'tag echoed');
    const huge = Buffer.alloc(16);
    huge.writeUInt32LE(0xffffffff, 0);
    huge.writeUInt32LE(1, 4);
    huge.writeUInt32LE(8, 8);
    const b = await ask(huge);
    assert.equal(b.closed, true);
    assert.equal(b.data.length, 0);
  });

  test('after all that the emulator still serves lockdown and AFC', async () => {
    const ld = await connectLockdown(dev);
    try {
      assert.equal(await ld.getValue('DeviceName'), 'Virtual iPhone');
    } finally {
      ld.close();
    }
    const r = await afcRaw();
    r.s.write(afcHeader(40n, 40n, 0x0b));
    assert.equal((await r.atLeast(40)).toString('latin1', 0, 8), 'CFA6LPAA');
    r.s.destroy();
  });

  test('… and the real tools still work', { skip: skipUnlessTools('idevice_id', 'ideviceinfo') }, async () => {
    const l = await runTool(emu.address, 'idevice_id', ['-l']);
    assert.equal(l.stdout.trim(), emu.devices[0]!.udid);
    const i = await runTool(emu.address, 'ideviceinfo', ['-k', 'DeviceName']);
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout.trim(), 'Virtual iPhone');
  });
});
