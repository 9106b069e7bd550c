// The seeded chaos sample of `npm test` (issue 12): four kill -9 rounds of bench/soak/chaos.ts's kind — the backup CLI
// and the device side (the emulator, restarted), each without and with --delete-after-import — each followed by a rerun
// and judged by content against the pristine source. The full tier (bench/soak/chaos.ts, 100+ rounds at seeded random
// times) is run by hand; here each kill is placed at a seeded count of --json lines ("copied", or "deleted" with
// --delete-after-import) a few ms after it, with the emulator paced like a real iPhone (--link real: USB 2 and afcd's
// service times), so that it lands while the backup is running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../src/core/prng.ts';
import { chaosRound, treeHashes } from '../../bench/soak/lib.ts';

const SEED = 20261203;
const FILES = 24;

test('chaos sample (seeded): kill -9 of the backup or the device mid-copy and mid-delete, then a rerun: nothing lost, corrupted, duplicated or deleted without a verified copy', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'chaos-sample-'));
  try {
    const rnd = mulberry32(SEED);
    const pristine = join(work, 'pristine');
    const dir = join(pristine, 'DCIM', '100APPLE');
    mkdirSync(dir, { recursive: true });
    const block = Buffer.alloc(1_000_000);
    for (let i = 0; i < block.length; i++) block[i] = Math.floor(rnd() * 256);
    for (let i = 0; i < FILES; i++) {
      const b = Buffer.from(block.subarray(0, 200_000 + Math.floor(rnd() * 800_000)));
      b[0] = 0xff;
      b[1] = 0xd8;
      b.writeUInt32BE(i, 2);
      writeFileSync(join(dir, `IMG_${String(i).padStart(4, '0')}.JPG`), b);
    }
    const source = await treeHashes(pristine);
    const configHome = join(work, 'config');
    let index = 0;
    for (const side of ['cli', 'device'] as const) {
      for (const del of [false, true]) {
        const anchor = del ? '"type":"deleted"' : '"status":"copied"';
        const count = 1 + Math.floor(rnd() * (FILES / 3));
        const delayMs = Math.floor(rnd() * 5);
        const what = `${side} killed ${delayMs} ms after the ${count}th ${anchor}`;
        const r = await chaosRound({
          work, pristine, source, configHome, udid: '00008030001A2B3C4D5E6F71', index: index++, side, deleteAfterImport: del,
          kill: { anchor, count, delayMs }, restartPauseMs: Math.floor(rnd() * 300), timeoutMs: 60_000, emulatorExtra: ['--link', 'real'],
        });
        assert.ok(r.midRun, `${what}: the kill landed while the backup was running (${JSON.stringify(r.killed)})`);
        assert.deepEqual(
          { lost: r.lost, notCopied: r.notCopied, corrupted: r.corrupted, duplicated: r.duplicated, deletedUnverified: r.deletedUnverified, partsLeft: r.partsLeft, lockLeft: r.lockLeft },
          { lost: 0, notCopied: 0, corrupted: 0, duplicated: 0, deletedUnverified: 0, partsLeft: 0, lockLeft: false },
          `${what}: ${r.details.join('; ')}`,
        );
        assert.equal(r.rerun.exit, '0', what);
        assert.equal(r.rerun.status, 'complete', what);
        // with --delete-after-import the rerun finishes the job: every file verified in DEST, then removed
        assert.equal(r.removedFromDevice, del ? FILES : 0, what);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
