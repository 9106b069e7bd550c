import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { connectLockdown, connectService, openLockdownSession } from '../../../src/connect.ts';
import { selectDevice, type DeviceProvider } from '../../../src/provider.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import { UserRecordStore } from '../../../src/pairing/user-store.ts';
import type { TrustEvent } from '../../../src/pairing/trust.ts';
import type { UsbmuxDevice } from '../../../src/usbmux/device.ts';
import type { VirtualLockdownDevice, VirtualLockdownDeviceOptions } from '../../../src/virtual-iphone/lockdown-device.ts';
import { makeDevice, testKeys } from './helpers.ts';

interface Rig {
  device: VirtualLockdownDevice;
  provider: DeviceProvider;
  dir: string;
  files(): string[];
  cleanup(): void;
}

/** A virtual lockdownd behind an in-memory provider, with a real per-user record store in a temp dir. */
function rig(opts: VirtualLockdownDeviceOptions = {}, services: Record<number, (s: Duplex) => void> = {}): Rig {
  const device = makeDevice(opts);
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-connect-'));
  const streams: Duplex[] = [];
  const provider: DeviceProvider = {
    udid: device.udid,
    deviceId: 1,
    connectionType: 'USB',
    pairRecords: new UserRecordStore(dir),
    env: {},
    async connect(port) {
      const [a, b] = duplexPair();
      streams.push(a, b);
      if (port === 62078) serveLockdown(b, device);
      else if (services[port]) services[port](b);
      else throw new Error(`nothing on port ${port}`);
      return a;
    },
  };
  return {
    device,
    provider,
    dir,
    files: () => readdirSync(dir).filter((f) => f !== 'SystemConfiguration.plist'),
    cleanup: () => {
      for (const s of streams) s.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const fast = { pairing: { retryIntervalMs: 1, certificates: { rootKey: testKeys().root, hostKey: testKeys().host } } };

test('trust flow: dialog pending, the user taps Trust, the record is saved and a TLS session starts', async () => {
  const r = rig({ trust: 'prompt' });
  const events: string[] = [];
  try {
    const { lockdown, record } = await openLockdownSession(r.provider, {
      ...fast,
      onTrustEvent: (e: TrustEvent) => {
        events.push(e.type);
        if (e.type === 'waiting-for-trust') r.device.tapTrust();
      },
    });
    assert.deepEqual(events, ['waiting-for-trust', 'paired']);
    assert.ok(lockdown.tlsSocket, 'session is TLS');
    assert.equal(await lockdown.getValue('SerialNumber'), 'F2LZK0ABCDEF');
    const saved = await r.provider.pairRecords.read(r.device.udid);
    assert.equal(saved?.HostID, record?.HostID);
    assert.equal(saved?.EscrowBag?.length, 32);
    assert.deepEqual(r.device.trustedHostIds(), [record!.HostID]);
    lockdown.close();
    // a second connection reuses the record: no dialog
    events.length = 0;
    const again = await connectLockdown(r.provider, { ...fast, onTrustEvent: (e) => events.push(e.type) });
    assert.deepEqual(events, []);
    assert.equal(await again.getValue('SerialNumber'), 'F2LZK0ABCDEF');
    again.close();
  } finally {
    r.cleanup();
  }
});

test('trust flow: locked, then unlocked by the user', async () => {
  const r = rig({ trust: 'auto', locked: true });
  const events: string[] = [];
  try {
    const c = await connectLockdown(r.provider, {
      ...fast,
      onTrustEvent: (e) => {
        events.push(e.type);
        if (e.type === 'device-locked') r.device.unlock();
      },
    });
    assert.deepEqual(events, ['device-locked', 'paired']);
    assert.equal(r.files().length, 1);
    c.close();
  } finally {
    r.cleanup();
  }
});

test('trust flow: denied → ERR_PAIRING_DENIED and nothing stored', async () => {
  const r = rig({ trust: 'prompt' });
  try {
    await assert.rejects(
      connectLockdown(r.provider, { ...fast, onTrustEvent: (e) => e.type === 'waiting-for-trust' && r.device.deny() }),
      { code: 'ERR_PAIRING_DENIED' },
    );
    assert.deepEqual(r.files(), []);
    assert.deepEqual(r.device.trustedHostIds(), []);
  } finally {
    r.cleanup();
  }
});

test('trust flow: nobody answers → ERR_TIMEOUT and nothing stored', async () => {
  const r = rig({ trust: 'prompt' });
  try {
    await assert.rejects(connectLockdown(r.provider, { ...fast, pairTimeoutMs: 50 }), { code: 'ERR_TIMEOUT' });
    assert.deepEqual(r.files(), []);
  } finally {
    r.cleanup();
  }
});

test('trust flow: aborted while the dialog is up → ERR_ABORTED and nothing stored', async () => {
  const r = rig({ trust: 'prompt' });
  const ac = new AbortController();
  try {
    await assert.rejects(
      connectLockdown(r.provider, { ...fast, signal: ac.signal, onTrustEvent: (e) => e.type === 'waiting-for-trust' && ac.abort() }),
      { code: 'ERR_ABORTED' },
    );
    assert.deepEqual(r.files(), []);
  } finally {
    r.cleanup();
  }
});

test('the device forgets the host → ERR_LOCKDOWN_INVALID_HOST_ID; the stored record is left as it was', async () => {
  const r = rig();
  try {
    const { lockdown, record } = await openLockdownSession(r.provider, fast);
    lockdown.close();
    r.device.forgetHost(record!.HostID);
    await assert.rejects(connectLockdown(r.provider, fast), { code: 'ERR_LOCKDOWN_INVALID_HOST_ID', name: 'InvalidHostIdError' });
    assert.equal((await r.provider.pairRecords.read(r.device.udid))?.HostID, record!.HostID);
  } finally {
    r.cleanup();
  }
});

test('autoPair false without a record → ERR_DEVICE_NOT_PAIRED; session false skips pairing', async () => {
  const r = rig();
  try {
    await assert.rejects(connectLockdown(r.provider, { ...fast, autoPair: false }), { code: 'ERR_DEVICE_NOT_PAIRED' });
    const plain = await connectLockdown(r.provider, { session: false });
    assert.equal(await plain.getValue('ProductVersion'), '17.5.1');
    assert.equal(plain.tlsSocket, undefined);
    plain.close();
    assert.deepEqual(r.files(), []);
  } finally {
    r.cleanup();
  }
});

test('connectService: StartService → new connection → TLS when EnableServiceSSL', async () => {
  const holder: { device?: VirtualLockdownDevice } = {};
  const r = rig(
    { startService: (name) => (name === 'com.example.echo' ? { port: 5000, enableServiceSSL: true } : name === 'com.example.plain' ? { port: 5001, enableServiceSSL: false } : undefined) },
    {
      5000: (s) => {
        const d = holder.device!;
        const host = d.trustedHost(d.trustedHostIds()[0]!)!;
        const key = testKeys().device.export({ type: 'pkcs8', format: 'pem' });
        const t = new tls.TLSSocket(s, { isServer: true, cert: host.deviceCertificate, key, requestCert: true, rejectUnauthorized: false });
        t.on('data', (d: Buffer) => t.write(Buffer.concat([Buffer.from('echo:'), d])));
        t.on('error', () => {});
      },
      5001: (s) => s.on('data', (d: Buffer) => s.write(d)),
    },
  );
  holder.device = r.device;
  try {
    const sock = await connectService(r.provider, 'com.example.echo', fast);
    assert.ok(sock instanceof tls.TLSSocket);
    sock.write('hi');
    const got = await new Promise<Buffer>((res) => sock.once('data', res));
    assert.equal(got.toString(), 'echo:hi');
    sock.destroy();
    const plain = await connectService(r.provider, 'com.example.plain', fast);
    assert.ok(!(plain instanceof tls.TLSSocket));
    plain.destroy();
    await assert.rejects(connectService(r.provider, 'com.example.none', fast), { code: 'ERR_LOCKDOWN_INVALID_SERVICE' });
  } finally {
    r.cleanup();
  }
});

function dev(udid: string, connectionType = 'USB', deviceId = 1): UsbmuxDevice {
  return { udid, connectionType, deviceId, properties: {} };
}

test('selectDevice: the only USB device, by UDID with or without the dash, typed errors when none or ambiguous', () => {
  const a = dev('00008120-001A2B3C4D5E6F70', 'USB', 1);
  const b = dev('00008020-001134490E50003A', 'USB', 2);
  const wifi = dev('00008030-000000000000002A', 'Network', 3);
  assert.equal(selectDevice([a, wifi]), a);
  assert.equal(selectDevice([a, b], '00008020001134490E50003A'), b);
  assert.equal(selectDevice([a, b], '00008020-001134490e50003a'), b);
  assert.equal(selectDevice([a, wifi], '00008030000000000000002A'), wifi);
  assert.equal(selectDevice([wifi, { ...a, connectionType: 'Network' }, a], a.udid), a, 'USB preferred for the same UDID');
  assert.throws(() => selectDevice([]), { code: 'ERR_DEVICE_NOT_FOUND' });
  assert.throws(() => selectDevice([wifi]), { code: 'ERR_DEVICE_NOT_FOUND' });
  assert.throws(() => selectDevice([a], 'FFFF'), { code: 'ERR_DEVICE_NOT_FOUND' });
  assert.throws(() => selectDevice([a, b]), { code: 'ERR_DEVICE_AMBIGUOUS', name: 'AmbiguousDeviceError' });
});
