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
  const socket = join(work, `mux-${sock++}.sock`);
  const emu = await startEmulatorProc({ media, socket, udid: UDID, configHome });
  return { media, dest, socket, emu };
}

function exitOf(r: BackupRun): string {
  return r.signal ? r.signal : String(r.code);
}

// Calibrate: one full run, wall clock: start-up (spawn → the plan line) and the rest (copy, verify, delete).
const PLAN = '"type":"plan"';
let full: number;
let startup: number;
{
  const w = await world(-1);
  await runBackupCli({ dest: join(work, 'pair-run'), address: w.emu.address, configHome }); // pairs; not timed
  let planAt = 0;
  const r = await runBackupCli({ dest: w.dest, address: w.emu.address, configHome, anchor: PLAN, onAnchor: (at) => (planAt = at) });
  await w.emu.stop();
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
  const flags = del ? ['--delete-after-import'] : [];
  // 1 in 10 kills lands in the start-up (process start, lockdown, walk), timed from the spawn; the others in the
  // copy / verify / delete phase, timed from the plan line, uniform over 0–105 % of its calibrated length
  const early = rng() < 0.1;
  const killAt = Math.round(early ? startup * rng() : full * 1.05 * rng());
  const pause = Math.round(2000 * rng());
  const w = await world(i);
  let first: BackupRun;
  let emu = w.emu;
  if (side === 'cli') {
    first = await runBackupCli({
      dest: w.dest, address: emu.address, configHome, extra: flags,
      ...(early ? { killAfterMs: killAt } : { anchor: PLAN, onAnchor: (_at, kill) => void setTimeout(kill, killAt) }),
    });
  } else {
    let anchored!: () => void;
    const atPlan = new Promise<void>((r) => (anchored = r));
    const running = runBackupCli({ dest: w.dest, address: emu.address, configHome, extra: flags, timeoutMs: 300_000, anchor: PLAN, onAnchor: () => anchored() });
    // early: from now (the spawn); else from the plan line (or the run's end, whichever first)
    if (!early) await Promise.race([atPlan, running]);
    await new Promise((r) => setTimeout(r, killAt));
    await emu.kill9();
    await new Promise((r) => setTimeout(r, pause));
    emu = await startEmulatorProc({ media: w.media, socket: w.socket, udid: UDID, configHome });
    first = await running;
  }
  // what the killed run left: files placed in DEST, files removed from the device
  const between = await lossReport(source, w.dest, w.media);
  const placed = source.size - between.lost - between.notCopied;
  const again = await runBackupCli({ dest: w.dest, address: emu.address, configHome, extra: flags, timeoutMs: 300_000 });
  await emu.stop();
  const loss = await lossReport(source, w.dest, w.media);
  const parts = existsSync(join(w.dest, '.iosdevice', 'parts')) ? readdirSync(join(w.dest, '.iosdevice', 'parts')).length : 0;
  const lock = existsSync(join(w.dest, '.iosdevice', 'lock'));
  totals.iterations++;
  totals.lost += loss.lost;
  totals.notCopied += loss.notCopied;
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
    kind: 'chaos', i, side, midRun, deleteAfterImport: del, killAtMs: killAt, killFrom: early ? 'spawn' : 'plan', ...(side === 'device' ? { restartPauseMs: pause } : {}),
    killed: { placed, removed: between.removed, exit: exitOf(first), status: first.summary?.status, copied: first.summary?.copied, ...(first.summary || first.signal ? {} : { stderr: first.stderr.slice(-300) }) },
    rerun: { exit: exitOf(again), status: again.summary?.status, copied: again.summary?.copied, skipped: again.summary?.skipped, deleted: again.summary?.deleted?.length },
    lost: loss.lost, notCopied: loss.notCopied, corrupted: loss.corrupted, duplicated: loss.duplicated, deletedUnverified: loss.deletedUnverified,
    removedFromDevice: loss.removed, partsLeft: parts, lockLeft: lock, details: loss.details,
  });
  await rm(w.media, { recursive: true, force: true });
  await rm(w.dest, { recursive: true, force: true });
}
emit(out, { kind: 'chaos-totals', seed, files: nFiles, cliKills: nCli, deviceKills: nDevice, ...totals });
await rm(work, { recursive: true, force: true });
