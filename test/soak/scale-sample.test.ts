// The small scale sample of `npm test` (issue 12): 2,000 small files served by the emulator, backed up by the CLI;
// every DEST file checked by SHA-256 against the source; a rerun with nothing new copies nothing; a file changed on the
// device is copied again by the next run. The full tier (bench/soak/scale.ts: 50k and 200k items, peak RSS, rerun
// time) is run by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lossReport, makeSmallLibrary, runBackupCli, startEmulatorProc, treeHashes } from '../../bench/soak/lib.ts';

const ITEMS = 2000;

test('scale sample: 2,000 files backed up byte-identical; the rerun copies nothing; a changed device file is copied again', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'scale-sample-'));
  const media = join(work, 'media');
  const dest = join(work, 'dest');
  const configHome = join(work, 'config');
  makeSmallLibrary(media, ITEMS, { perFolder: 500, seed: 7 });
  const emu = await startEmulatorProc({ media, socket: join(work, 'mux.sock'), udid: '0000808000112233445566AE', configHome });
  try {
    const first = await runBackupCli({ dest, address: emu.address, configHome, timeoutMs: 90_000 });
    assert.equal(first.code, 0, first.stderr.slice(-500));
    assert.equal(first.summary?.status, 'complete');
    assert.equal(first.summary?.copied, ITEMS);
    const source = await treeHashes(media);
    assert.equal(source.size, ITEMS);
    const loss = await lossReport(source, dest, media);
    assert.deepEqual({ lost: loss.lost, notCopied: loss.notCopied, corrupted: loss.corrupted, duplicated: loss.duplicated }, { lost: 0, notCopied: 0, corrupted: 0, duplicated: 0 }, loss.details.join('; '));
    assert.equal((await treeHashes(dest, ['.iosdevice'])).size, ITEMS, 'one DEST file per device file');

    const again = await runBackupCli({ dest, address: emu.address, configHome, timeoutMs: 90_000 });
    assert.equal(again.code, 0, again.stderr.slice(-500));
    assert.deepEqual({ copied: again.summary?.copied, skipped: again.summary?.skipped, status: again.summary?.status }, { copied: 0, skipped: ITEMS, status: 'complete' });

    // the same size, other bytes, a new mtime: the rerun must notice it
    const changed = join(media, 'DCIM', '102APPLE', 'IMG_0123.JPG');
    const b = await readFile(changed);
    b[b.length - 1] ^= 0xff;
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(changed, b);
    const third = await runBackupCli({ dest, address: emu.address, configHome, timeoutMs: 90_000 });
    assert.equal(third.code, 0, third.stderr.slice(-500));
    assert.deepEqual({ copied: third.summary?.copied, skipped: third.summary?.skipped }, { copied: 1, skipped: ITEMS - 1 });
    const after = await lossReport(await treeHashes(media), dest, media);
    assert.equal(after.notCopied, 0, 'the new version is in DEST');
  } finally {
    await emu.stop();
    await rm(work, { recursive: true, force: true });
  }
});
