/**
 * The virtual iPhone's ports and services in-process (no socket): one-shot StartService ports, the crash report
 * services, and the seeded crash tree read back through our AFC client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AfcClient } from '../../../src/afc/client.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import type { LockdownContext } from '../../../src/lockdown/server.ts';
import { ServiceRegistry } from '../../../src/virtual-iphone/services.ts';
import { VirtualIPhone } from '../../../src/virtual-iphone/virtual-iphone.ts';
import { seedCrashReports } from '../../../src/virtual-iphone/crash-reports.ts';

const ctx: LockdownContext = { connectionId: 1, sessionActive: true, hostId: 'H', label: 'test' };
const isCode = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

async function readAll(s: Duplex | NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function withPhone<T>(fn: (p: VirtualIPhone, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'vphone-'));
  try {
    await mkdir(join(dir, 'media', 'DCIM'), { recursive: true });
    await mkdir(join(dir, 'crash'), { recursive: true });
    const p = new VirtualIPhone({ mediaDir: join(dir, 'media'), crashDir: join(dir, 'crash'), udid: '00008120AAAAAAAAAAAAAAAA' });
    try {
      return await fn(p, dir);
    } finally {
      p.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('registry: one-shot ports accept one connection; fixed ports any number; ports are distinct', () => {
  const r = new ServiceRegistry(65534);
  const h = (): void => {};
  r.listen(62078, h);
  const a = r.offer(h);
  const b = r.offer(h);
  const c = r.offer(h);
  assert.deepEqual([a, b], [65534, 65535]);
  assert.equal(c, 49152, 'wraps into the dynamic range');
  assert.equal(r.take(a), h);
  assert.equal(r.take(a), undefined);
  assert.equal(r.take(62078), h);
  assert.equal(r.take(62078), h);
  r.clear();
  assert.equal(r.take(b), undefined);
});

test('identity: a 24-hex serial becomes the dashed UDID; iOS below 10 is refused', async () => {
  await withPhone(async (p, dir) => {
    assert.equal(p.udid, '00008120-AAAAAAAAAAAAAAAA');
    assert.throws(
      () => new VirtualIPhone({ mediaDir: dir, crashDir: dir, iosVersion: '9.3.5' }),
      isCode('ERR_INVALID_ARG'),
    );
  });
});

test('StartService: afc and crash services get one-shot ports; unknown names are InvalidService', async () => {
  await withPhone(async (p) => {
    const afc = await p.lockdown.startService('com.apple.afc', ctx, {});
    assert.equal(afc.enableServiceSSL, false);
    assert.ok(afc.port >= 49152);
    const s = await p.connect(afc.port);
    s.destroy();
    await assert.rejects(p.connect(afc.port), isCode('ERR_USBMUX_CONNREFUSED'));
    await assert.rejects(p.lockdown.startService('com.apple.mobile.notification_proxy', ctx, {}), isCode('ERR_LOCKDOWN_INVALID_SERVICE'));
    const mover = await p.lockdown.startService('com.apple.crashreportmover', ctx, {});
    assert.equal((await readAll(await p.connect(mover.port))).toString('latin1'), 'ping');
  });
});

test('crashreportcopymobile serves the seeded crash tree: sizes, hashes and the symlink read back over AFC', async () => {
  await withPhone(async (p) => {
    const entries = await seedCrashReports(p.crashDir, 3);
    const svc = await p.lockdown.startService('com.apple.crashreportcopymobile', ctx, {});
    const afc = new AfcClient(await p.connect(svc.port));
    try {
      const seen = new Map<string, string>();
      for await (const { path, info } of afc.walk('/')) seen.set(path.replace(/^\//, ''), info.type);
      for (const e of entries) {
        assert.equal(seen.get(e.path), e.type === 'dir' ? 'dir' : e.type, e.path);
        if (e.type === 'file') {
          const data = await readAll(afc.createReadStream(`/${e.path}`));
          assert.equal(data.length, e.size);
          assert.equal(createHash('sha256').update(data).digest('hex'), e.sha256);
        }
        if (e.type === 'symlink') assert.equal((await afc.stat(`/${e.path}`)).linkTarget, e.linkTarget);
      }
      assert.ok(entries.some((e) => e.type === 'file' && e.size! > 16 * 4096), 'one report spans many 4 KiB reads');
    } finally {
      afc.close();
    }
  });
});

test('detach errors out open streams with ERR_EMULATOR_DETACHED, refuses new ones (BADDEV) until reattached', async () => {
  await withPhone(async (p) => {
    let detached = 0;
    p.on('detached', () => detached++);
    const s = await p.connect(62078);
    const failed = new Promise<unknown>((resolve) => s.once('error', resolve));
    p.detach();
    p.detach();
    assert.ok(isCode('ERR_EMULATOR_DETACHED')(await failed));
    assert.equal(detached, 1);
    await assert.rejects(p.connect(62078), isCode('ERR_USBMUX_BADDEV'));
    p.reattach();
    (await p.connect(62078)).destroy();
  });
});
