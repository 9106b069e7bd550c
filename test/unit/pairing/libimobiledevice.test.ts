// Our pairing against the real libimobiledevice 1.3.0 tools, through the emulator's usbmuxd socket:
// - we pair (pairAndSave into the daemon's store); `idevicepair validate` and full `ideviceinfo` then run a TLS
//   session with OUR record (libimobiledevice presents our RootCertificate + RootPrivateKey via OpenSSL 3);
// - `idevicepair pair` writes libimobiledevice's own record (SHA-1, serial 0, PKCS#8); we read it and open a
//   session with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LockdownClient } from '../../../src/lockdown/client.ts';
import { UsbmuxClient } from '../../../src/usbmux/client.ts';
import { inspectCertificate } from '../../../src/pairing/certificate-info.ts';
import { UsbmuxdRecordStore } from '../../../src/providers/usbmuxd-records.ts';
import { pairAndSave } from '../../../src/pairing/trust.ts';
import { startEmulator, type Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { skipUnlessTools } from '../../support/peers.ts';

const skip = skipUnlessTools('idevicepair', 'ideviceinfo');

/** Runs a tool with a hard timeout (async: the emulator lives in this process); the child is killed in finally. */
async function run(cmd: string, args: string[], address: string, timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, { env: { ...process.env, USBMUXD_SOCKET_ADDRESS: address }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${cmd} timed out:\n${out}`)), timeoutMs);
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    return { code, out };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function lockdownFor(emu: Emulator): Promise<LockdownClient> {
  const mux = await UsbmuxClient.open({ address: emu.address, timeoutMs: 5000 });
  const stream = await mux.connect(emu.devices[0]!.deviceId, 62078, { timeoutMs: 5000 });
  return new LockdownClient(stream, { label: 'iosdevice-test' });
}

test('libimobiledevice validates and uses a pair record made by our code', { skip, timeout: 90_000 }, async () => {
  const emu = await startEmulator({ dcimCount: 0, trust: 'auto' });
  try {
    const udid = emu.devices[0]!.udid;
    const store = new UsbmuxdRecordStore({ address: emu.address });
    const ld = await lockdownFor(emu);
    let record;
    try {
      record = await pairAndSave(ld, store, udid, { retryIntervalMs: 10, timeoutMs: 30_000, deviceId: emu.devices[0]!.deviceId });
    } finally {
      ld.close();
    }
    assert.equal(inspectCertificate(record.RootCertificate).digest, 'sha256');
    assert.equal(record.SystemBUID, await store.systemBuid());
    const v = await run('idevicepair', ['-u', udid, 'validate'], emu.address);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /SUCCESS: Validated pairing with device/);
    const info = await run('ideviceinfo', ['-u', udid, '-k', 'ProductVersion'], emu.address);
    assert.equal(info.code, 0, info.out);
    assert.match(info.out.trim(), /^\d+\.\d+/);
  } finally {
    await emu.close();
  }
});

test('a record written by `idevicepair pair` (SHA-1 profile) is read by our store and opens a session', { skip, timeout: 90_000 }, async () => {
  const emu = await startEmulator({ dcimCount: 0, trust: 'auto' });
  try {
    const udid = emu.devices[0]!.udid;
    const p = await run('idevicepair', ['-u', udid, 'pair'], emu.address);
    assert.equal(p.code, 0, p.out);
    assert.match(p.out, /SUCCESS: Paired with device/);
    const record = await new UsbmuxdRecordStore({ address: emu.address }).read(udid, { timeoutMs: 5000 });
    assert.ok(record, 'record stored by libimobiledevice');
    const root = inspectCertificate(record.RootCertificate);
    assert.equal(root.serial, 0n); // libimobiledevice 1.3.0 profile (protocol.md §4)
    assert.equal(root.digest, 'sha1');
    assert.ok(record.EscrowBag && record.WiFiMACAddress);
    const ld = await lockdownFor(emu);
    try {
      await ld.startSession(record, { timeoutMs: 10_000 });
      assert.equal(typeof (await ld.getValue('DeviceName', undefined, { timeoutMs: 5000 })), 'string');
      await ld.stopSession({ timeoutMs: 5000 });
    } finally {
      ld.close();
    }
  } finally {
    await emu.close();
  }
});
