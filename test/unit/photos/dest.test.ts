/**
 * dest.ts: which errors are DEST problems (a local file-system write refused for a DEST reason, also behind a
 * wrapping error's cause) and which are not (a socket's EACCES, a device error), and the DestError each becomes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asDestError, isDestProblem, openDest } from '../../../src/photos/dest.ts';
import { DestError, PhotosError } from '../../../src/photos/errors.ts';

function sysErr(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, ...(path ? { path } : {}) });
}

test('dest: local fs errors of the DEST kinds are DEST problems, also as a cause; sockets and device errors are not', () => {
  assert.equal(isDestProblem(sysErr('ENOSPC', 'write')), true);
  assert.equal(isDestProblem(sysErr('EDQUOT', 'write')), true);
  assert.equal(isDestProblem(sysErr('EROFS', 'open', '/d/x')), true);
  assert.equal(isDestProblem(sysErr('EACCES', 'mkdir', '/d/x')), true);
  assert.equal(isDestProblem(new PhotosError('ERR_PHOTOS_MANIFEST', 'cannot write the manifest', { cause: sysErr('ENOSPC', 'write') })), true);
  assert.equal(isDestProblem(sysErr('EACCES', 'connect', '/var/run/usbmuxd')), false, 'a socket it may not open');
  assert.equal(isDestProblem(sysErr('EPERM', 'kill')), false);
  assert.equal(isDestProblem(sysErr('EIO', 'write')), false, 'not one of the DEST reasons: stays the file\'s failure');
  assert.equal(isDestProblem(new PhotosError('ERR_PHOTOS_VERIFY', 'short read')), false);
});

test('dest: asDestError maps the codes and names the target of a link', async () => {
  const full = await asDestError(sysErr('ENOSPC', 'write'), tmpdir(), { copied: 2, toCopy: 5, copiedBytes: 10, toCopyBytes: 4000 });
  assert.ok(full instanceof DestError);
  assert.equal(full.code, 'ERR_PHOTOS_DEST_FULL');
  assert.equal(full.errno, 'ENOSPC');
  assert.match(full.message, /2 of 5 file\(s\) copied \(kept: the rerun copies only the rest\), 4\.0 kB still to copy/);
  assert.equal(typeof full.freeBytes, 'number');
  const quota = await asDestError(sysErr('EDQUOT', 'write'), tmpdir());
  assert.match(quota!.message, /disk quota/);
  assert.equal((await asDestError(sysErr('EROFS', 'mkdir', '/d/x'), '/d'))?.code, 'ERR_PHOTOS_DEST_READONLY');
  const link = Object.assign(sysErr('EACCES', 'link', '/d/.iosdevice/parts/p.part'), { dest: '/d/100APPLE/IMG_0001.HEIC' });
  const denied = await asDestError(link, '/d');
  assert.equal(denied?.code, 'ERR_PHOTOS_DEST_DENIED');
  assert.equal(denied?.path, '/d/100APPLE/IMG_0001.HEIC');
  assert.equal(await asDestError(new Error('other'), '/d'), undefined);
});

test('dest: openDest creates a missing DEST and refuses a file (itself or on its path) with ERR_PHOTOS_DEST_NOT_DIR', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dest-unit-'));
  try {
    const made = await openDest(join(tmp, 'a', 'b'));
    assert.equal(made, join(tmp, 'a', 'b'));
    await writeFile(join(tmp, 'f'), 'x');
    await assert.rejects(openDest(join(tmp, 'f')), (e: DestError) => e.code === 'ERR_PHOTOS_DEST_NOT_DIR' && /is a file, not a folder/.test(e.message));
    await assert.rejects(openDest(join(tmp, 'f', 'sub')), (e: DestError) => e.code === 'ERR_PHOTOS_DEST_NOT_DIR' && e.path === join(tmp, 'f'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
