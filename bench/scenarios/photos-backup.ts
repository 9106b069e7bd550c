/**
 * Photo backup throughput: `iosdevice photos backup` (the real CLI, a child process) against the emulator
 * serving the same DCIM tree as the AFC benchmark (2,000 files of 50 KB – 8 MB; --quick 200) over the usb2
 * link profile (40 MB/s shared + 0.5 ms RTT), compared with the link rate (the same bytes through the same
 * shaper on a plain socket). The backup rate is copied bytes / the engine's elapsed time (walk + copy +
 * fsync + manifest), from the CLI's --json summary; process start and pairing are in the wall-clock note.
 * Every file is then checked: same size and SHA-256 as the source.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { linkProfile } from '../../src/virtual-iphone/link.ts';
import { Manifest } from '../../src/photos/manifest.ts';
import { makeDcim } from '../afc/data.ts';
import { prepareEmulator } from '../afc/ifuse.ts';
import { startRawServer } from '../afc/servers.ts';
import { runChild } from '../child.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const CHILD_TIMEOUT = 30 * 60_000;

interface CliRun {
  summary: { copied: number; copiedBytes: number; elapsedMs: number; failed: unknown[]; udid: string };
  wallSeconds: number;
  cpuSeconds?: number;
  peakRssBytes?: number;
}

/** Runs the CLI (under /usr/bin/time when present for CPU and RSS); resolves with its --json summary. */
function runCli(repoRoot: string, args: string[]): Promise<CliRun> {
  const time = existsSync('/usr/bin/time');
  const cmd = time ? '/usr/bin/time' : process.execPath;
  const argv = [...(time ? ['-f', 'BENCH_TIME %U %S %M', process.execPath] : []), join(repoRoot, 'bin', 'iosdevice.mjs'), ...args];
  const t0 = performance.now();
  const child = spawn(cmd, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT);
  return new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const wallSeconds = (performance.now() - t0) / 1000;
      const line = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).find((e) => e.type === 'summary');
      if (code !== 0 || !line) return reject(new Error(`photos backup exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
      const m = /BENCH_TIME ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      resolve({
        summary: line as unknown as CliRun['summary'],
        wallSeconds,
        ...(m ? { cpuSeconds: Number(m[1]) + Number(m[2]), peakRssBytes: Number(m[3]) * 1024 } : {}),
      });
    });
  });
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const scenario: BenchScenario = {
  name: 'photos-backup',
  description:
    'iosdevice photos backup (CLI child process, 2 AFC connections × 4 files in flight, .part + fsync + link + manifest) of the AFC ' +
    'benchmark DCIM tree through the emulator over usb2 (40 MB/s + 0.5 ms RTT), against the link rate.',
  async run(ctx: BenchContext) {
    const media = join(ctx.tmpDir, 'media');
    const count = ctx.quick ? 200 : 2000;
    const dcim = await makeDcim(media, count);
    ctx.log(`DCIM: ${count} files, ${(dcim.bytes / 1e6).toFixed(0)} MB`);
    const out: BenchMeasurement[] = [];
    const link = linkProfile('usb2')!;

    // Link rate: the same bytes through the same shaper on a plain unix socket.
    const raw = await startRawServer(ctx.tmpDir, dcim.files, link);
    try {
      const r = await runChild<{ bytes: number; seconds: number; cpuSeconds: number; peakRssBytes: number }>(
        'bench/afc/raw-child.ts', ['--socket', raw.path, '--out', join(ctx.tmpDir, 'raw.bin')], { cwd: ctx.repoRoot, timeoutMs: CHILD_TIMEOUT },
      );
      if (r.bytes !== dcim.bytes) throw new Error(`raw row moved ${r.bytes} of ${dcim.bytes} bytes`);
      out.push({ case: 'dcim-backup', link: 'usb2', client: 'link-rate', payloadBytes: r.bytes, files: count, seconds: r.seconds, mbPerSec: r.bytes / r.seconds / 1e6 });
      ctx.log(`link rate: ${out.at(-1)!.mbPerSec!.toFixed(1)} MB/s`);
    } finally {
      await raw.close();
      await rm(join(ctx.tmpDir, 'raw.bin'), { force: true });
    }

    const prep = await prepareEmulator(media, 'usb2');
    if ('reason' in prep) {
      out.push({ case: 'dcim-backup', link: 'usb2', client: 'iosdevice photos backup', skipped: prep.reason });
    } else {
      const dest = join(ctx.tmpDir, 'backup');
      try {
        await mkdir(dest, { recursive: true });
        const r = await runCli(ctx.repoRoot, ['photos', 'backup', dest, '--socket', prep.emu.address, '--json']);
        const s = r.summary;
        if (s.copied !== count || s.copiedBytes !== dcim.bytes) throw new Error(`backup copied ${s.copied} files / ${s.copiedBytes} B of ${count} / ${dcim.bytes}`);
        // Verify every file: SHA-256 of the source = the manifest's = the local copy's.
        const m = await Manifest.open(dest, { readOnly: true });
        try {
          for (const f of dcim.files) {
            const e = m.get(s.udid, `/${relative(media, f).split('\\').join('/')}`);
            if (!e) throw new Error(`not in the manifest: ${f}`);
            const want = await sha256(f);
            if (e.sha256 !== want || (await sha256(join(dest, ...e.local.split('/')))) !== want) throw new Error(`content mismatch: ${f}`);
          }
        } finally {
          await m.close();
        }
        const seconds = s.elapsedMs / 1000;
        out.push({
          case: 'dcim-backup', link: 'usb2', client: 'iosdevice photos backup', payloadBytes: s.copiedBytes, files: s.copied, seconds,
          mbPerSec: s.copiedBytes / seconds / 1e6,
          ...(r.cpuSeconds !== undefined ? { cpuSecondsPerGB: r.cpuSeconds / (s.copiedBytes / 1e9) } : {}),
          ...(r.peakRssBytes !== undefined ? { peakRssMB: r.peakRssBytes / 1e6 } : {}),
          notes: `engine time (walk + copy + verify + manifest); CLI wall clock incl. start-up and lockdown ${r.wallSeconds.toFixed(1)} s; all files SHA-256 verified`,
        });
        ctx.log(`photos backup: ${out.at(-1)!.mbPerSec!.toFixed(1)} MB/s (wall ${r.wallSeconds.toFixed(1)} s)`);
        // Incremental rerun: nothing to copy; its time is the walk + manifest check.
        const again = await runCli(ctx.repoRoot, ['photos', 'backup', dest, '--socket', prep.emu.address, '--json']);
        if (again.summary.copied !== 0) throw new Error(`the rerun copied ${again.summary.copied} files`);
        out.push({
          case: 'dcim-rerun', link: 'usb2', client: 'iosdevice photos backup', files: count, seconds: again.summary.elapsedMs / 1000,
          notes: `nothing copied; walk of ${count} files + manifest check`,
        });
      } finally {
        await prep.emu.close();
        await rm(dest, { recursive: true, force: true });
      }
    }

    const ours = out.find((m) => m.client === 'iosdevice photos backup' && m.case === 'dcim-backup');
    const rate = out.find((m) => m.client === 'link-rate');
    const ratio = ours?.mbPerSec && rate?.mbPerSec ? ours.mbPerSec / rate.mbPerSec : undefined;
    const targets: BenchTarget[] = [
      {
        name: 'DCIM photo backup, usb2: ours / link rate',
        value: ratio,
        threshold: '>= 0.85',
        pass: ratio === undefined ? undefined : ratio >= 0.85,
        detail: ratio === undefined ? `not measured (${ours?.skipped ?? 'row missing'})` : `${ours!.mbPerSec!.toFixed(1)} / ${rate!.mbPerSec!.toFixed(1)} MB/s`,
      },
    ];
    return { measurements: out, targets };
  },
};

export default scenario;
