import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDest } from '../../../src/ui/import-job.ts';

test('photos ui checkDest: photos/dest.ts decides, the page words it; a new folder is created, nothing else written', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'ui-dest-'));
  try {
    const fresh = join(tmp, 'a', 'b');
    assert.equal(await checkDest(fresh), await realpath(fresh));
    assert.deepEqual(await readdir(fresh), []);
    await writeFile(join(tmp, 'file'), 'x');
    await assert.rejects(checkDest(join(tmp, 'file', 'photos')), (e: Error & { code?: string; status?: number; cause?: { code?: string } }) => {
      assert.equal(e.code, 'ERR_UI_DEST');
      assert.equal(e.status, 400);
      assert.equal(e.cause?.code, 'ERR_PHOTOS_DEST_NOT_DIR');
      assert.match(e.message, /^Cannot write to the destination .*file\/photos: a part of the path is a file, not a folder\. Nothing was imported/);
      return true;
    });
    await assert.rejects(checkDest(join(tmp, 'file')), { code: 'ERR_UI_DEST', message: /a part of the path is a file/ });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
