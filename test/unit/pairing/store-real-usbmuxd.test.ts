// UsbmuxdRecordStore against the real Debian usbmuxd 1.1.1, isolated in a private mount namespace
// (../shared/docs/peers.md §4). Needs root, usbmuxd and unshare; skipped with a reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePlist } from '../../../src/plist/index.ts';
import { generatePairingCertificates, generateRsaKeyPair } from '../../../src/pairing/certificates.ts';
import type { PairRecord } from '../../../src/pairing/pair-record.ts';
import { publicKeyToPkcs1Pem } from '../../../src/pairing/pem.ts';
import { chooseStore } from '../../../src/providers/usbmuxd-records.ts';
import { isRoot, skipUnlessTools } from '../../support/peers.ts';

const skip = skipUnlessTools('usbmuxd', 'unshare') || (isRoot() ? false : 'needs root for the usbmuxd mount namespace');

interface Daemon {
  dir: string;
  socket: string;
  child: ChildProcess;
}

/** Starts usbmuxd -f -v in its own mount namespace; resolves once it logs "Initialization complete". */
async function startUsbmuxd(): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-usbmuxd-'));
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'varlib', 'lockdown'), { recursive: true });
  const script = join(dir, 'ns-usbmuxd.sh');
  writeFileSync(script, `#!/bin/sh\nset -e\nmount --bind "${dir}/run" /run\nmount --bind "${dir}/varlib" /var/lib\nexec usbmuxd "$@"\n`);
  chmodSync(script, 0o755);
  const child = spawn('unshare', ['-m', '--propagation', 'private', script, '-f', '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const daemon = { dir, socket: join(dir, 'run', 'usbmuxd'), child };
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`usbmuxd did not start:\n${log}`)), 10_000);
      const onData = (b: Buffer): void => {
        log += b.toString();
        if (log.includes('Initialization complete')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`usbmuxd exited with ${code}:\n${log}`));
      });
    });
  } catch (e) {
    await stopUsbmuxd(daemon);
    throw e;
  }
  return daemon;
}

async function stopUsbmuxd(d: Daemon): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) {
    const exited = new Promise((r) => d.child.once('exit', r));
    d.child.kill('SIGTERM');
    const hard = setTimeout(() => d.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(hard);
  }
  rmSync(d.dir, { recursive: true, force: true });
}

const UDID = '00008020-001134490E50003A';

test('usbmuxd store against the real usbmuxd 1.1.1: chosen, SystemBUID, save → read → delete', { skip, timeout: 60_000 }, async () => {
  const record: PairRecord = {
    ...generatePairingCertificates(publicKeyToPkcs1Pem(generateRsaKeyPair().publicKey)),
    HostID: '5B1B7C44-2D1D-4C5E-9B7A-3E2F1D0C9B8A',
    SystemBUID: 'C0FFEE00-1111-4222-8333-444455556666',
    EscrowBag: Buffer.alloc(32, 9),
    WiFiMACAddress: 'aa:bb:cc:dd:ee:ff',
  };
  const d = await startUsbmuxd();
  const userDir = join(d.dir, 'user-store');
  try {
    const store = await chooseStore({ address: `UNIX:${d.socket}`, dir: userDir });
    assert.equal(store.kind, 'usbmuxd');
    const buid = await store.systemBuid({ timeoutMs: 5000 });
    const conf = parsePlist(readFileSync(join(d.dir, 'varlib', 'lockdown', 'SystemConfiguration.plist'))) as { SystemBUID: string };
    assert.equal(buid, conf.SystemBUID);
    assert.equal(await store.systemBuid({ timeoutMs: 5000 }), buid, 'stable');

    assert.equal(await store.read(UDID, { timeoutMs: 5000 }), undefined);
    await store.save(UDID, record, 1, { timeoutMs: 5000 });
    assert.ok(existsSync(join(d.dir, 'varlib', 'lockdown', `${UDID}.plist`)), 'the daemon stored it');
    assert.deepEqual(await store.read(UDID, { timeoutMs: 5000 }), record);
    await store.delete(UDID, { timeoutMs: 5000 });
    assert.equal(existsSync(join(d.dir, 'varlib', 'lockdown', `${UDID}.plist`)), false);
    assert.equal(await store.read(UDID, { timeoutMs: 5000 }), undefined);
    await store.delete(UDID, { timeoutMs: 5000 }); // daemon answers Result 2: tolerated
    assert.equal(existsSync(userDir), false, 'the per-user store was not touched');
  } finally {
    await stopUsbmuxd(d);
  }
});
