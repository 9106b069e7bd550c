/**
 * Scale (issue 12, "Measured"): libraries of many small files (emulator-served, generated into WORK), each backed up
 * end to end by the real CLI in a child process, then rerun with nothing new; then one listing of 10^6 names from
 * the hostile responder (test/support/hostile-afc.ts), which must end fast with the cap error below 512 MB.
 *
 *   node --import tsx bench/soak/scale.ts [--counts 50000,200000] [--work /dev/shm/iosdevice-scale] [--out FILE.jsonl]
 *     [--keep-going] [--no-huge]
 *
 * Per library: peak RSS (VmHWM, from inside the child), RSS samples, wall seconds, CPU seconds, files copied, every
 * DEST file's SHA-256 against the source; rerun: seconds, files copied (must be 0). Targets: peak RSS ≤ 256 MB;
 * peak RSS at the largest count ≤ 1.5 × that at the smallest; rerun ≤ 30 s; 10^6 listing: ERR_PHOTOS_LIMIT, < 512 MB.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hugeListing } from '../../test/support/hostile-afc.ts';
import { summaryOf as hostileSummary, withHostile } from '../../test/support/hostile-run.ts';
import { MB, arg, emit, lossReport, makeSmallLibrary, runBackupCli, startEmulatorProc, treeHashes } from './lib.ts';

const counts = (arg('--counts') ?? '50000,200000').split(',').map(Number);
const work = arg('--work') ?? '/dev/shm/iosdevice-scale';
const out = arg('--out');
const verify = !process.argv.includes('--no-verify');
const rows: Record<string, unknown>[] = [];
mkdirSync(work, { recursive: true });
const configHome = join(work, 'config');

for (const count of counts) {
  const media = join(work, `lib-${count}`);
  const dest = join(work, `dest-${count}`);
  await rm(media, { recursive: true, force: true });
  await rm(dest, { recursive: true, force: true });
  const g0 = performance.now();
  const lib = makeSmallLibrary(media, count, { perFolder: 1000 });
  const genSeconds = (performance.now() - g0) / 1000;
  const emu = await startEmulatorProc({ media, socket: join(work, `mux-${count}.sock`), udid: '0000808000112233445566AA', configHome });
  try {
    const first = await runBackupCli({ dest, address: emu.address, configHome, sampleMs: 1000 });
    const s = first.summary;
    if (!s) throw new Error(`no summary (exit ${first.code}): ${first.stderr.slice(-800)}`);
    let loss: unknown;
    if (verify) {
      const source = await treeHashes(media);
      const r = await lossReport(source, dest, media);
      loss = { lost: r.lost, corrupted: r.corrupted, duplicated: r.duplicated, details: r.details };
    }
    const again = await runBackupCli({ dest, address: emu.address, configHome, sampleMs: 1000 });
    const row = {
      kind: 'scale', items: count, bytes: lib.bytes, genSeconds: Math.round(genSeconds * 10) / 10,
      exit: first.code, status: s.status, copied: s.copied, failed: s.failed.length,
      seconds: Math.round(first.seconds * 10) / 10, engineSeconds: s.elapsedMs / 1000, cpuSeconds: first.cpuSeconds,
      peakRssMB: (first.peakRssBytes ?? 0) / MB, heapUsedPeakMB: (first.heapUsedBytes ?? 0) / MB, rssSamplesMB: first.samples.map((x) => Math.round(x.rssBytes / MB)),
      fdsMax: Math.max(0, ...first.samples.map((x) => x.fds)),
      loss,
      rerun: {
        exit: again.code, status: again.summary?.status, copied: again.summary?.copied, skipped: again.summary?.skipped,
        seconds: Math.round(again.seconds * 10) / 10, engineSeconds: (again.summary?.elapsedMs ?? 0) / 1000, cpuSeconds: again.cpuSeconds, peakRssMB: (again.peakRssBytes ?? 0) / MB,
      },
    };
    rows.push(row);
    emit(out, row);
  } finally {
    await emu.stop();
    await rm(dest, { recursive: true, force: true });
    await rm(media, { recursive: true, force: true });
  }
}

if (!process.argv.includes('--no-huge')) {
  let big: Buffer | undefined;
  await withHostile({ listing: (p) => (p === '/DCIM/999APPLE' ? (big ??= hugeListing(1_000_000)) : undefined) }, (afc) => {
    afc.file('/DCIM/100APPLE', 'IMG_0001.JPG', Buffer.from([0xff, 0xd8, 1, 2, 3]));
    afc.dir('/DCIM/999APPLE');
  }, async (h) => {
    const r = await h.backup([], { timeoutMs: 300_000 });
    const s = hostileSummary(r);
    const row = {
      kind: 'huge-listing', names: 1_000_000, exit: r.code, seconds: Math.round(r.ms / 100) / 10, peakRssMB: r.peakRss / MB,
      rejected: s.rejected.map((x) => ({ remote: x.remote, reason: x.reason, code: x.code, detail: x.detail })), copied: s.copied, requests: h.afc.requests,
    };
    rows.push(row);
    emit(out, row);
  });
}

const scale = rows.filter((r) => r.kind === 'scale') as { items: number; peakRssMB: number; rerun: { seconds: number; copied?: number }; loss?: { lost: number; corrupted: number; duplicated: number } }[];
if (scale.length > 0) {
  const lo = scale[0]!;
  const hi = scale.at(-1)!;
  emit(out, {
    kind: 'scale-targets',
    peakRssMBMax: Math.max(...scale.map((r) => r.peakRssMB)), peakRssOk: scale.every((r) => r.peakRssMB <= 256),
    rssRatio: hi.peakRssMB / lo.peakRssMB, rssRatioOk: hi.peakRssMB <= 1.5 * lo.peakRssMB, ratioOf: `${hi.items} / ${lo.items}`,
    rerunSecondsMax: Math.max(...scale.map((r) => r.rerun.seconds)), rerunOk: scale.every((r) => r.rerun.seconds <= 30 && r.rerun.copied === 0),
    lossFree: scale.every((r) => !r.loss || (r.loss.lost === 0 && r.loss.corrupted === 0 && r.loss.duplicated === 0)),
  });
}
