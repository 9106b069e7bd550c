/**
 * Soak (issue 12, "Measured"): one backup of GB gigabytes through the emulator (unshaped, `iosdevice emulator`
 * child) by the real CLI (`iosdevice photos backup` child), sampling the backup process's RSS and open file
 * descriptors (/proc/PID/status, /proc/PID/fd) every few seconds. Targets: RSS flat (the peak of the last part
 * within 10 % of the peak of the first part, warm-up excluded), fd count not growing.
 *
 * Disk: the device's files are hard links to a few distinct pattern files (FILE_GIB each), so the source costs
 * DISTINCT × FILE_GIB on disk whatever GB is; DEST is verified as it goes: a watcher hashes each file as soon as it
 * is placed (SHA-256 against its source's), then deletes it, so DEST never holds more than a few files.
 *
 *   node --import tsx bench/soak/soak.ts [--gb 50] [--file-mib 1024] [--distinct 4] [--sample-s 3] [--work DIR] [--out FILE.jsonl]
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync } from 'node:fs';
import { open, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MB, arg, emit, num, runBackupCli, sha256File, startEmulatorProc } from './lib.ts';

const gb = num('--gb', 50);
const fileMiB = num('--file-mib', 1024);
const distinct = num('--distinct', 4);
const sampleS = num('--sample-s', 3);
const work = arg('--work') ?? '/tmp/iosdevice-soak';
const out = arg('--out');
await rm(work, { recursive: true, force: true });
const blocks = join(work, 'blocks');
const media = join(work, 'media');
const folder = join(media, 'DCIM', '100APPLE');
mkdirSync(blocks, { recursive: true });
mkdirSync(folder, { recursive: true });
const configHome = join(work, 'config');
const dest = join(work, 'dest');

// distinct pattern files: an 8 MiB random block written at a per-file rotation
const fileBytes = fileMiB * MB;
const block = randomBytes(8 * MB);
const hashes: string[] = [];
for (let d = 0; d < distinct; d++) {
  const p = join(blocks, `b${d}.bin`);
  const fh = await open(p, 'w');
  for (let off = 0; off < fileBytes; ) {
    const start = (d * 1_048_583 + off) % (block.length / 2);
    const n = Math.min(fileBytes - off, block.length - start);
    await fh.write(block, start, n);
    off += n;
  }
  await fh.close();
  hashes.push(await sha256File(p));
}
const count = Math.ceil((gb * 1e9) / fileBytes);
const expected = new Map<string, string>();
for (let i = 0; i < count; i++) {
  const name = `IMG_${String(i).padStart(4, '0')}.MOV`;
  linkSync(join(blocks, `b${i % distinct}.bin`), join(folder, name));
  expected.set(name, hashes[i % distinct]!);
}
emit(out, { kind: 'soak-setup', files: count, fileBytes, totalBytes: count * fileBytes, distinct });

// verify-as-you-go: hash each placed file against its source, then delete it
const verified = { ok: 0, bad: 0, bytes: 0, badNames: [] as string[] };
let stopping = false;
const seen = new Set<string>();
const watcher = (async () => {
  for (;;) {
    const dirs = await readdir(dest).catch(() => [] as string[]);
    let found = false;
    for (const dev of dirs.filter((n) => n !== '.iosdevice')) {
      for (const name of await readdir(join(dest, dev, '100APPLE')).catch(() => [] as string[])) {
        if (seen.has(name)) continue;
        seen.add(name);
        found = true;
        const p = join(dest, dev, '100APPLE', name);
        const h = await sha256File(p);
        if (h === expected.get(name)) {
          verified.ok++;
          verified.bytes += fileBytes;
        } else {
          verified.bad++;
          verified.badNames.push(name);
        }
        await unlink(p);
      }
    }
    if (stopping && !found) return;
    if (!found) await new Promise((r) => setTimeout(r, 1000));
  }
})();

const emu = await startEmulatorProc({ media, socket: join(work, 'mux.sock'), udid: '00008110000A1B2C3D4E5F60', configHome });
let run;
try {
  run = await runBackupCli({ dest, address: emu.address, configHome, sampleMs: sampleS * 1000, timeoutMs: 6 * 3600_000 });
} finally {
  await emu.stop();
  stopping = true;
  await watcher;
}
const s = run.samples;
const dur = run.seconds;
const warm = Math.min(30, dur * 0.1);
const part = (from: number, to: number): typeof s => s.filter((x) => x.t >= from && x.t <= to);
const span = dur - warm;
const first = part(warm, warm + span * 0.2);
const last = part(dur - span * 0.2, dur);
const peak = (xs: typeof s): number => Math.max(0, ...xs.map((x) => x.rssBytes)) / MB;
const fdsFirst = Math.max(0, ...first.map((x) => x.fds));
const fdsLast = Math.max(0, ...last.map((x) => x.fds));
const row = {
  kind: 'soak', exit: run.code, status: run.summary?.status, copied: run.summary?.copied, copiedBytes: run.summary?.copiedBytes,
  seconds: Math.round(dur), mbPerSec: Math.round(((run.summary?.copiedBytes ?? 0) / dur / 1e6) * 10) / 10, cpuSeconds: run.cpuSeconds,
  peakRssMB: (run.peakRssBytes ?? 0) / MB, firstPartPeakMB: peak(first), lastPartPeakMB: peak(last), rssFlat: peak(last) <= 1.1 * peak(first),
  fdsFirstMax: fdsFirst, fdsLastMax: fdsLast, fdsMin: Math.min(...s.map((x) => x.fds)), fdsMax: Math.max(...s.map((x) => x.fds)), fdsNotGrowing: fdsLast <= fdsFirst,
  samples: s.length, verified: verified.ok, verifiedBytes: verified.bytes, badCopies: verified.bad, badNames: verified.badNames.slice(0, 10),
  rssSeriesMB: s.map((x) => Math.round(x.rssBytes / MB)), fdSeries: s.map((x) => x.fds),
};
emit(out, row);
await rm(work, { recursive: true, force: true });
