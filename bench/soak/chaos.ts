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
 * fresh DEST. Kill times are uniform over 5–95 % of a calibrated full run (wall clock, process start included).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { arg, emit, lossReport, num, runBackupCli, seeded, startEmulatorProc, treeHashes, type BackupRun, type EmulatorProc } from './lib.ts';
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
let sock = 0;

async function world(i: number): Promise<{ media: string; dest: string; socket: string; emu: EmulatorProc }> {
  const media = join(work, `media-${i}`);
  const dest = join(work, `dest-${i}`);
  execFileSync('cp', ['-al', pristine, media]);
  const socket = join(work, `mux-${sock++ % 4}.sock`);
  const emu = await startEmulatorProc({ media, socket, udid: UDID, configHome });
  return { media, dest, socket, emu };
}

function exitOf(r: BackupRun): string {
  return r.signal ? r.signal : String(r.code);
}

// Calibrate: one full run, wall clock.
let full: number;
{
  const w = await world(-1);
  await runBackupCli({ dest: join(work, 'pair-run'), address: w.emu.address, configHome }); // pairs; not timed
  const r = await runBackupCli({ dest: w.dest, address: w.emu.address, configHome });
  await w.emu.stop();
  await rm(join(work, 'pair-run'), { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`calibration run failed (${r.code}): ${r.stderr.slice(-800)}`);
  full = r.seconds * 1000;
  emit(out, { kind: 'chaos-calibration', files: nFiles, bytes: r.summary?.copiedBytes, seconds: r.seconds });
  await rm(w.media, { recursive: true, force: true });
  await rm(w.dest, { recursive: true, force: true });
}

const totals = { iterations: 0, midRunKills: { cli: 0, device: 0 }, lost: 0, corrupted: 0, duplicated: 0, deletedUnverified: 0, rerunNotComplete: 0, partsLeft: 0, lockLeft: 0, removed: 0 };
// Each side runs until it has its count of kills that landed while the backup was running (a kill after the run
// completed is recorded but not counted), at most twice the count of iterations.
const want = { cli: nCli, device: nDevice };
let i = 0;
for (const side of ['cli', 'device'] as const) for (let n = 0; totals.midRunKills[side] < want[side] && n < 2 * want[side]; n++, i++) {
  const del = n % 2 === 1;
  const flags = del ? ['--delete-after-import'] : [];
  const killAt = Math.round(full * (0.05 + 0.9 * rng()));
  const pause = Math.round(2000 * rng());
  const w = await world(i);
  let first: BackupRun;
  let emu = w.emu;
  if (side === 'cli') {
    first = await runBackupCli({ dest: w.dest, address: emu.address, configHome, extra: flags, killAfterMs: killAt });
  } else {
    const running = runBackupCli({ dest: w.dest, address: emu.address, configHome, extra: flags, timeoutMs: 300_000 });
    await new Promise((r) => setTimeout(r, killAt));
    await emu.kill9();
    await new Promise((r) => setTimeout(r, pause));
    emu = await startEmulatorProc({ media: w.media, socket: w.socket, udid: UDID, configHome });
    first = await running;
  }
  const again = await runBackupCli({ dest: w.dest, address: emu.address, configHome, extra: flags, timeoutMs: 300_000 });
  await emu.stop();
  const loss = await lossReport(source, w.dest, w.media);
  const parts = existsSync(join(w.dest, '.iosdevice', 'parts')) ? readdirSync(join(w.dest, '.iosdevice', 'parts')).length : 0;
  const lock = existsSync(join(w.dest, '.iosdevice', 'lock'));
  totals.iterations++;
  totals.lost += loss.lost;
  totals.corrupted += loss.corrupted;
  totals.duplicated += loss.duplicated;
  totals.deletedUnverified += loss.deletedUnverified;
  totals.removed += loss.removed;
  totals.partsLeft += parts;
  totals.lockLeft += lock ? 1 : 0;
  if (again.code !== 0 || again.summary?.status !== 'complete') totals.rerunNotComplete++;
  const midRun = first.code !== 0 || first.summary?.status !== 'complete';
  if (midRun) totals.midRunKills[side]++;
  emit(out, {
    kind: 'chaos', i, side, midRun, deleteAfterImport: del, killAtMs: killAt, ...(side === 'device' ? { restartPauseMs: pause } : {}),
    killed: { exit: exitOf(first), status: first.summary?.status, copied: first.summary?.copied, ...(first.summary || first.signal ? {} : { stderr: first.stderr.slice(-300) }) },
    rerun: { exit: exitOf(again), status: again.summary?.status, copied: again.summary?.copied, skipped: again.summary?.skipped, deleted: again.summary?.deleted?.length },
    lost: loss.lost, corrupted: loss.corrupted, duplicated: loss.duplicated, deletedUnverified: loss.deletedUnverified,
    removedFromDevice: loss.removed, partsLeft: parts, lockLeft: lock, details: loss.details,
  });
  await rm(w.media, { recursive: true, force: true });
  await rm(w.dest, { recursive: true, force: true });
}
emit(out, { kind: 'chaos-totals', seed, files: nFiles, cliKills: nCli, deviceKills: nDevice, ...totals });
await rm(work, { recursive: true, force: true });
