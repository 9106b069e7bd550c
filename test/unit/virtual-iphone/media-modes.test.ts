/**
 * What the emulator's AFC serves: hostile mode (names and symlinks a backup must refuse), an existing media folder,
 * and option validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAfc, openDevice } from '../../../src/connect.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { startEmulator } from '../../../src/virtual-iphone/emulator.ts';
import { HOSTILE_SYMLINKS } from '../../../src/virtual-iphone/hostile.ts';
import { startTestEmulator } from '../../support/emulator.ts';

const isCode = (code: string) => (e: unknown) => e instanceof IDeviceError && e.code === code;

test('hostile mode: traversal, slash and NUL names, symlinks out of the root; escapes are refused', async () => {
  const emu = await startTestEmulator({ hostile: true, dcimCount: 3 });
  try {
    const afc = await connectAfc(await openDevice({ socket: emu.address }));
    try {
      const names = await afc.readdir('/DCIM/100APPLE');
      for (const n of ['../../../../../../tmp/iosdevice-escape.JPG', 'sub/IMG_6663.JPG', 'IMG_6664', '.JPG', 'IMG_6661.JPG', 'IMG_6662.JPG']) {
        assert.ok(names.includes(n), `listing has ${JSON.stringify(n)}`);
      }
      assert.ok(!names.includes('sub'), 'the backing folder of the slash name is hidden');
      assert.ok(!(await afc.readdir('/')).includes('tmp'), 'the traversal decoy folder is hidden');
      // the traversal name resolves (clamped at the root) to a decoy file, as a naive client would fetch it
      assert.equal((await afc.stat('/DCIM/100APPLE/../../../../../../tmp/iosdevice-escape.JPG')).type, 'file');
      const link = await afc.stat('/DCIM/100APPLE/IMG_6661.JPG');
      assert.equal(link.type, 'symlink');
      assert.equal(link.linkTarget, HOSTILE_SYMLINKS['DCIM/100APPLE/IMG_6661.JPG']);
      assert.equal((await afc.stat('/DCIM/103APPLE')).linkTarget, '/');
      await assert.rejects(afc.readdir('/DCIM/103APPLE'), isCode('ERR_AFC_PERM_DENIED'));
      await assert.rejects(
        (async () => {
          for await (const _ of afc.createReadStream('/DCIM/100APPLE/IMG_6661.JPG')) void _;
        })(),
        isCode('ERR_AFC_PERM_DENIED'),
      );
    } finally {
      afc.close();
    }
  } finally {
    await emu.close();
  }
});

test('an existing media folder is served as is and never deleted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'emu-media-'));
  try {
    await mkdir(join(dir, 'DCIM', '100APPLE'), { recursive: true });
    await writeFile(join(dir, 'DCIM', '100APPLE', 'IMG_0001.JPG'), 'not really a jpeg');
    const emu = await startEmulator({ mediaDir: dir });
    try {
      assert.equal(emu.devices[0]!.manifest, undefined);
      const afc = await connectAfc(await openDevice({ socket: emu.address }));
      try {
        assert.deepEqual(await afc.readdir('/DCIM/100APPLE'), ['IMG_0001.JPG']);
        assert.equal((await afc.stat('/DCIM/100APPLE/IMG_0001.JPG')).size, 17);
      } finally {
        afc.close();
      }
    } finally {
      await emu.close();
    }
    assert.deepEqual(await readdir(join(dir, 'DCIM', '100APPLE')), ['IMG_0001.JPG']);
    await assert.rejects(startEmulator({ mediaDir: join(dir, 'DCIM') }), isCode('ERR_INVALID_ARG'));
    const alias = await startEmulator({ dcimDir: dir });
    assert.equal(alias.devices[0]!.mediaDir, dir);
    await alias.close();
    assert.deepEqual(await readdir(join(dir, 'DCIM', '100APPLE')), ['IMG_0001.JPG']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad emulator options are ERR_INVALID_ARG and leave no temp folder behind', async () => {
  // os.tmpdir() follows $TMPDIR: point it at an empty folder of our own for the duration of this test
  const scratch = await mkdtemp(join(tmpdir(), 'emu-tmp-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
  try {
    await assert.rejects(startEmulator({ iosVersion: '9.3', dcimCount: 0 }), isCode('ERR_INVALID_ARG'));
    await assert.rejects(
      startEmulator({ devices: [{ udid: '00008120-0000000000000001', dcimCount: 0 }, { udid: '000081200000000000000001', dcimCount: 0 }] }),
      isCode('ERR_INVALID_ARG'),
    );
    await assert.rejects(startEmulator({ link: 'usb9' as 'usb2', dcimCount: 0 }), isCode('ERR_INVALID_ARG'));
    assert.deepEqual(await readdir(scratch), []);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await rm(scratch, { recursive: true, force: true });
  }
});
