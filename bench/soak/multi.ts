/**
 * Many devices at once (issue 12, "Measured"): N virtual iPhones (N `iosdevice emulator` children, each its own
 * socket and UDID, all serving one generated folder) backed up into N destinations
 *   - from one process with the library API (bench/soak/multi-child.mjs: backupPhotos from the built package), and
 *   - from N processes (the CLI, `iosdevice photos backup`, all started at once),
 * against a single device backed up the same two ways. Every DEST must be byte-identical to the source; CPU seconds
 * per GB per device (the backup process(es) only) of the N-device runs must stay within 1.5 × the single device's.
 *
 *   node --import tsx bench/soak/multi.ts [--devices 16] [--files 40] [--work DIR] [--out FILE.jsonl]
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../../src/core/prng.ts';
import { writeFileSync } from 'node:fs';
import { ROOT, arg, childEnv, emit, num, runBackupCli, startEmulatorProc, treeHashes, type EmulatorProc } from './lib.ts';

const N = num('--devices', 16);
const nFiles = num('--files', 40);
const work = arg('--work') ?? '/dev/shm/iosdevice-multi';
const out = arg('--out');
await rm(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const configHome = join(work, 'config');
const media = join(work, 'media');

// The source: nFiles files of 0.5–6 MB, distinct content.
let bytes = 0;
{
  const rnd = mulberry32(424242);
  const block = Buffer.alloc(6_000_000);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rnd() * 256);
  const dir = join(media, 'DCIM', '100APPLE');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < nFiles; i++) {
    const size = 500_000 + Math.floor(rnd() * 5_500_000);
    const b = Buffer.from(block.subarray(0, size));
    b.writeUInt32BE(i, 2);
    writeFileSync(join(dir, `IMG_${String(i).padStart(4, '0')}.JPG`), b);
    bytes += size;
  }
}
const source = await treeHashes(media);
const want = [...source.entries()].map(([p, h]) => `${p.replace(/^DCIM\//, '')}=${h}`).sort().join('\n');

const udid = (i: number): string => `0000810100${String(i).padStart(2, '0')}AABBCCDDEEFF00`;
const emus: EmulatorProc[] = [];
for (let i = 0; i < N; i++) emus.push(await startEmulatorProc({ media, socket: join(work, `mux-${i}.sock`), udid: udid(i), configHome, extra: ['--name', `Phone ${i}`] }));

/** DEST's device folder must hold exactly the source's files (by relative path below DCIM/ and content). */
async function identical(dest: string): Promise<boolean> {
  const got = await treeHashes(dest, ['.iosdevice']);
  const flat = [...got.entries()].map(([p, h]) => `${p.replace(/^[^/]+\//, '')}=${h}`).sort().join('\n');
  return flat === want;
}

function library(jobs: { socket: string; udid: string; dest: string }[]): Promise<{ cpuSeconds: number; peakRssBytes: number; seconds: number; runs: { status: string; copied: number; copiedBytes: number; failures?: string[] }[] }> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [join(ROOT, 'bench', 'soak', 'multi-child.mjs'), JSON.stringify(jobs)], { cwd: ROOT, env: childEnv(configHome), stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    let e = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (o += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (e += s));
    c.once('close', (code) => (code === 0 ? res(JSON.parse(o.trim().split('\n').at(-1)!)) : rej(new Error(`multi-child exited ${code}: ${e.slice(-800)}`))));
  });
}

try {
  // pair every device once (not measured)
  await Promise.all(emus.map((e, i) => runBackupCli({ dest: join(work, `pair-${i}`), address: e.address, configHome, extra: ['--dry-run'] })));
  const rows: Record<string, number | string | boolean>[] = [];
  const modes = (arg('--modes') ?? 'library,cli').split(',') as ('library' | 'cli')[];
  for (const mode of modes) {
    for (const n of [1, N]) {
      const dests = Array.from({ length: n }, (_, i) => join(work, `${mode}-${n}-${i}`));
      let cpu: number;
      let peak: number;
      let seconds: number;
      let copiedBytes = 0;
      let allComplete: boolean;
      let problems: string[] = [];
      if (mode === 'library') {
        const r = await library(dests.map((dest, i) => ({ socket: emus[i]!.address, udid: udid(i), dest })));
        cpu = r.cpuSeconds;
        peak = r.peakRssBytes;
        seconds = r.seconds;
        copiedBytes = r.runs.reduce((a, x) => a + x.copiedBytes, 0);
        allComplete = r.runs.every((x) => x.status === 'complete');
        if (!allComplete) problems = r.runs.filter((x) => x.status !== 'complete').map((x) => `${x.status} (${x.copied} copied): ${(x.failures ?? []).join(' | ')}`).slice(0, 4);
      } else {
        const t0 = performance.now();
        const rs = await Promise.all(dests.map((dest, i) => runBackupCli({ dest, address: emus[i]!.address, configHome })));
        seconds = (performance.now() - t0) / 1000;
        cpu = rs.reduce((a, r) => a + (r.cpuSeconds ?? NaN), 0);
        peak = Math.max(...rs.map((r) => r.peakRssBytes ?? 0));
        copiedBytes = rs.reduce((a, r) => a + (r.summary?.copiedBytes ?? 0), 0);
        allComplete = rs.every((r) => r.code === 0 && r.summary?.status === 'complete');
        if (!allComplete) problems = rs.filter((r) => r.code !== 0).map((r) => `exit ${r.code}: ${r.stderr.slice(-200)}`).slice(0, 4);
      }
      const same = (await Promise.all(dests.map(identical))).every(Boolean);
      const row = {
        kind: 'multi', mode, devices: n, files: nFiles, bytesPerDevice: bytes, copiedBytes, allComplete, byteIdentical: same,
        seconds: Math.round(seconds * 10) / 10, cpuSeconds: Math.round(cpu * 100) / 100, cpuSecondsPerGBPerDevice: Math.round((cpu / (copiedBytes / 1e9)) * 100) / 100,
        peakRssMB: Math.round(peak / 1048576), ...(problems.length ? { problems: problems.join(' || ') } : {}),
      };
      rows.push(row);
      emit(out, row);
      for (const d of dests) await rm(d, { recursive: true, force: true });
    }
  }
  for (const mode of modes) {
    const one = rows.find((r) => r.mode === mode && r.devices === 1)!;
    const many = rows.find((r) => r.mode === mode && r.devices === N)!;
    const ratio = (many.cpuSecondsPerGBPerDevice as number) / (one.cpuSecondsPerGBPerDevice as number);
    emit(out, { kind: 'multi-target', mode, devices: N, ratio: Math.round(ratio * 100) / 100, ratioOk: ratio <= 1.5, byteIdentical: many.byteIdentical && one.byteIdentical });
  }
} finally {
  await Promise.all(emus.map((e) => e.stop()));
  await rm(work, { recursive: true, force: true });
}
