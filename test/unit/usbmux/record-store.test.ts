import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBinaryPlist, encodeXmlPlist, parsePlist } from '../../../src/plist/index.ts';
import { DirectoryRecordStore } from '../../../src/usbmux/record-store.ts';
import { UsbmuxError } from '../../../src/usbmux/errors.ts';

test('DirectoryRecordStore: usbmuxd layout, XML on disk, 0700/0600, BUID created once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'usbmux-store-'));
  try {
    const dir = join(root, 'lockdown');
    const a = new DirectoryRecordStore(dir);
    const [b1, b2] = await Promise.all([a.systemBuid(), a.systemBuid()]);
    assert.equal(b1, b2);
    assert.match(b1, /^[0-9A-F-]{36}$/);
    assert.equal(await new DirectoryRecordStore(dir).systemBuid(), b1, 'kept in SystemConfiguration.plist');
    assert.deepEqual(parsePlist(readFileSync(join(dir, 'SystemConfiguration.plist'))), { SystemBUID: b1 });
    const rec = { HostID: 'H', RootPrivateKey: Buffer.from('k') };
    await a.save('00008020-001134490E50003A', encodeBinaryPlist(rec));
    const onDisk = readFileSync(join(dir, '00008020-001134490E50003A.plist'));
    assert.equal(onDisk.subarray(0, 5).toString(), '<?xml');
    assert.deepEqual(await a.read('00008020-001134490E50003A'), encodeXmlPlist(rec));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readdirSync(dir).sort(), ['00008020-001134490E50003A.plist', 'SystemConfiguration.plist'], 'no temp files left');
    // a record written by usbmuxd/libimobiledevice as a binary plist is still returned as XML
    writeFileSync(join(dir, 'LEGACY.plist'), encodeBinaryPlist({ HostID: 'L' }), { mode: 0o600 });
    assert.equal((await a.read('LEGACY'))!.subarray(0, 5).toString(), '<?xml');
    assert.equal(await a.delete('LEGACY'), true);
    assert.equal(await a.delete('LEGACY'), false);
    assert.equal(await a.read('LEGACY'), undefined);
    for (const [id, data] of [
      ['X', Buffer.from('garbage')],
      ['X', encodeXmlPlist(['not', 'a dict'])],
      ['../escape', encodeXmlPlist({ a: 1 })],
      ['SystemConfiguration', encodeXmlPlist({ a: 1 })],
    ] as const) {
      await assert.rejects(a.save(id, data), (e: unknown) => e instanceof UsbmuxError && e.result === 22 && e.code === 'ERR_USBMUX_EINVAL', id);
    }
    assert.equal(await a.read('../escape'), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
