/**
 * Chaos (issue 12, "Measured"): kill -9 at seeded random points, of the backup CLI (`iosdevice photos backup`, a
 * child process) and of the device side (`iosdevice emulator`, a child process, restarted after a seeded pause on
 * the same socket and UDID), half of the runs with --delete-after-import; every kill is followed by a rerun to
 * completion, then the result is judged by content against the pristine source:
 *   lost (a source file with no byte-identical copy in DEST), corrupted (a DEST file whose bytes match no source
 *   file), duplicated (extra copies of the same bytes), deleted on the device without a verified copy — all 0.
 *
 *   node --import tsx bench/soak/chaos.ts [--cli N] [--device N] [--seed S] [--files N] [--work DIR] [--out FILE.jsonl]
 *
 * Each iteration serves a hard-linked copy of the pristine tree (so deletions on the "device" never touch it) and a
 * fresh DEST. Kill times (seeded): 1 in 10 uniform over the calibrated start-up (spawn → the --json "plan" line), the
 * others uniform over 0–105 % of the calibrated rest of the run (copy, verify, delete), timed from the plan line.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { arg, chaosRound, emit, num, runBackupCli, seeded, startEmulatorProc, treeHashes } from './lib.ts';
import { mulberry32 } from '../../src/core/prng.ts';
import { writeFileSync } from 'node:fs';

const nCli = num('--cli', 50);
const nDevice = num('--device', 50);
const seed = num('--seed', 1);
const nFiles = num('--files', 80);
const work = arg('--work') ?? '/dev/shm/iosdevice-chaos';
const out = arg('--out');
const UDID = '00008030001A2B3C4D5E6F70';

await rm(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const configHome = join(work, 'config');
const pristine = join(work, 'pristine');

// The source: nFiles files of 2 KB – 3 MB (log-uniform), distinct content, 40 per folder.
{
  const rnd = mulberry32(seed * 7919 + 1);
  const block = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rnd() * 256);
  for (let i = 0; i < nFiles; i++) {
    const dir = join(pristine, 'DCIM', `${100 + Math.floor(i / 40)}APPLE`);
    mkdirSync(dir, { recursive: true });
    const size = Math.round(Math.exp(Math.log(2000) + rnd() * (Math.log(3e6) - Math.log(2000))));
    const b = Buffer.from(block.subarray(0, size));
    b[0] = 0xff;
    b[1] = 0xd8;
    b.writeUInt32BE(i, 2);
    writeFileSync(join(dir, `IMG_${String(i).padStart(4, '0')}.JPG`), b);
  }
}
const source = await treeHashes(pristine);
const rng = seeded(seed);

// Calibrate: one full run, wall clock: start-up (spawn → the plan line) and the rest (copy, verify, delete).
const PLAN = '"type":"plan"';
let full: number;
let startup: number;
{
  const w = { media: join(work, 'media-calibration'), dest: join(work, 'dest-calibration') };
  execFileSync('cp', ['-al', pristine, w.media]);
  const emu = await startEmulatorProc({ media: w.media, socket: join(work, 'mux-calibration.sock'), udid: UDID, configHome });
  await runBackupCli({ dest: join(work, 'pair-run'), address: emu.address, configHome }); // pairs; not timed
  let planAt = 0;
  const r = await runBackupCli({ dest: w.dest, address: emu.address, configHome, anchor: PLAN, onAnchor: (at) => (planAt = at) });
  await emu.stop();
  startup = planAt * 1000;
  await rm(join(work, 'pair-run'), { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`calibration run failed (${r.code}): ${r.stderr.slice(-800)}`);
  full = r.seconds * 1000 - startup;
  emit(out, { kind: 'chaos-calibration', files: nFiles, bytes: r.summary?.copiedBytes, seconds: r.seconds, startupSeconds: planAt, copySeconds: full / 1000 });
  await rm(w.media, { recursive: true, force: true });
  await rm(w.dest, { recursive: true, force: true });
}

const totals = { iterations: 0, midRunKills: { cli: 0, device: 0 }, notCopied: 0, lost: 0, corrupted: 0, duplicated: 0, deletedUnverified: 0, rerunNotComplete: 0, partsLeft: 0, lockLeft: 0, removed: 0 };
// Each side runs until it has its count of kills that landed while the backup was running (a kill after the run
// completed is recorded but not counted), at most twice the count of iterations.
const want = { cli: nCli, device: nDevice };
let i = 0;
for (const side of ['cli', 'device'] as const) for (let n = 0; totals.midRunKills[side] < want[side] && n < 2 * want[side]; n++, i++) {
  const del = n % 2 === 1;
  // 1 in 10 kills lands in the start-up (process start, lockdown, walk), timed from the spawn; the others in the
  // copy / verify / delete phase, timed from the plan line, uniform over 0–105 % of its calibrated length
  const early = rng() < 0.1;
  const killAt = Math.round(early ? startup * rng() : full * 1.05 * rng());
  const pause = Math.round(2000 * rng());
  const r = await chaosRound({
    work, pristine, source, configHome, udid: UDID, index: i, side, deleteAfterImport: del,
    kill: early ? { fromSpawnMs: killAt } : { anchor: PLAN, delayMs: killAt }, restartPauseMs: pause,
  });
  totals.iterations++;
  totals.lost += r.lost;
  totals.notCopied += r.notCopied;
  totals.corrupted += r.corrupted;
  totals.duplicated += r.duplicated;
  totals.deletedUnverified += r.deletedUnverified;
  totals.removed += r.removedFromDevice;
  totals.partsLeft += r.partsLeft;
  totals.lockLeft += r.lockLeft ? 1 : 0;
  if (r.rerun.exit !== '0' || r.rerun.status !== 'complete') totals.rerunNotComplete++;
  if (r.midRun) totals.midRunKills[side]++;
  emit(out, {
    kind: 'chaos', i, side, midRun: r.midRun, deleteAfterImport: del, killAtMs: killAt, killFrom: early ? 'spawn' : 'plan', ...(side === 'device' ? { restartPauseMs: pause } : {}),
    killed: r.killed, rerun: r.rerun,
    lost: r.lost, notCopied: r.notCopied, corrupted: r.corrupted, duplicated: r.duplicated, deletedUnverified: r.deletedUnverified,
    removedFromDevice: r.removedFromDevice, partsLeft: r.partsLeft, lockLeft: r.lockLeft, details: r.details,
  });
}
emit(out, { kind: 'chaos-totals', seed, files: nFiles, cliKills: nCli, deviceKills: nDevice, ...totals });
await rm(work, { recursive: true, force: true });
