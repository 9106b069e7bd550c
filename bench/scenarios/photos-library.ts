/**
 * Whole-library inventory at scale: a generated library of 100,000 assets (--quick 10,000) — DCIM with Live
 * pairs, iCloud originals, edits, cloud-only rows, albums — whose Photos.sqlite (+ -wal) is about 260 MB (each
 * asset row carries a reverse-geocoding blob of realistic size, as real libraries do; files are tiny: the
 * database is what is measured). The emulator serves it over the usb2 link profile; a child process runs the
 * inventory as `photos backup --dry-run` does (walk, stream the database to a temporary file, read it, walk
 * PhotoData, pair Live Photos, plan) and reports its peak RSS (VmHWM) and time.
 * Target (issue 16): peak RSS <= 256 MB for the 100k library.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateLibrary } from '../../src/virtual-iphone/library-generator.ts';
import { prepareEmulator } from '../afc/ifuse.ts';
import { runChild } from '../child.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const CHILD_TIMEOUT = 20 * 60_000;
/** Blob bytes per asset row: two attribute rows still fit one 4 KiB page, so with the other tables a 100k library (113k rows) has ~2.3 KB per asset, ~260 MB. */
const PAD_BYTES_PER_ASSET = 1850;
const RSS_LIMIT_MB = 256;

interface ChildResult {
  baselineRssBytes: number;
  peakRssBytes: number;
  seconds: number;
  cpuSeconds: number;
  heapUsedBytes: number;
  arrayBuffersBytes: number;
  found: number;
  assets: number;
  databaseBytes: number;
  inventoryMs: number;
  source?: string;
  warning?: string;
  cloudOnly: number;
  albums: number;
  livePairedById: number;
  status: string;
}

const scenario: BenchScenario = {
  name: 'photos-library',
  description:
    'Whole-library inventory (photos backup --dry-run in a child process: walk, Photos.sqlite + -wal streamed to a temporary file and read, ' +
    'PhotoData walked, Live Photos paired) of a generated 100,000-asset library with a ~260 MB database, through the emulator over usb2.',
  async run(ctx: BenchContext) {
    const count = ctx.quick ? 10_000 : 100_000;
    const media = join(ctx.tmpDir, 'media');
    await mkdir(join(media, 'DCIM'), { recursive: true });
    const g0 = performance.now();
    // scale 1e-6: every file at its format's minimum size (a few hundred bytes)
    const m = await generateLibrary(media, { count, scale: 1e-6, seed: 16 }, { padBytesPerAsset: PAD_BYTES_PER_ASSET, editRate: 0.05 });
    const db = join(media, 'PhotoData', 'Photos.sqlite');
    const dbBytes = (await stat(db)).size + (await stat(`${db}-wal`)).size;
    ctx.log(`generated ${m.assets.length} assets, ${m.files.length} files, database ${(dbBytes / 1e6).toFixed(0)} MB in ${((performance.now() - g0) / 1000).toFixed(0)} s`);
    const out: BenchMeasurement[] = [];
    const prep = await prepareEmulator(media, 'usb2');
    if ('reason' in prep) {
      out.push({ case: `library-inventory-${count}`, link: 'usb2', client: 'iosdevice photos backup --dry-run', skipped: prep.reason });
    } else {
      const dest = join(ctx.tmpDir, 'dest');
      try {
        const r = await runChild<ChildResult>('bench/photos/inventory-child.ts', ['--usbmuxd', prep.emu.address, '--dest', dest], { cwd: ctx.repoRoot, timeoutMs: CHILD_TIMEOUT });
        if (r.source !== 'photos.sqlite') throw new Error(`the inventory did not read the database: ${r.warning ?? r.source}`);
        const live = m.assets.filter((a) => !a.trashed).length;
        if (r.assets !== live) throw new Error(`inventory counted ${r.assets} assets, the library has ${live}`);
        if (r.databaseBytes !== dbBytes) throw new Error(`database bytes ${r.databaseBytes}, on the device ${dbBytes}`);
        out.push({
          case: `library-inventory-${count}`, link: 'usb2', client: 'iosdevice photos backup --dry-run', payloadBytes: r.databaseBytes, files: r.found,
          seconds: r.seconds, peakRssMB: r.peakRssBytes / 1e6, rssBeforeMB: r.baselineRssBytes / 1e6, rssGrowthMB: (r.peakRssBytes - r.baselineRssBytes) / 1e6,
          notes: `${r.assets} assets, ${r.found} files, database + WAL ${(r.databaseBytes / 1e6).toFixed(0)} MB; inventory ${(r.inventoryMs / 1000).toFixed(1)} s ` +
            `of ${r.seconds.toFixed(1)} s (walk + plan the rest); CPU ${r.cpuSeconds.toFixed(1)} s; heap peak ${(r.heapUsedBytes / 1e6).toFixed(0)} MB; ` +
            `${r.cloudOnly} cloud-only, ${r.albums} albums, ${r.livePairedById} Live pairs by content id`,
        });
        ctx.log(out.at(-1)!.notes!);
        ctx.log(`peak RSS ${(r.peakRssBytes / 1e6).toFixed(0)} MB (before the run ${(r.baselineRssBytes / 1e6).toFixed(0)} MB), ${r.seconds.toFixed(1)} s`);
      } finally {
        await prep.emu.close();
        await rm(dest, { recursive: true, force: true });
      }
    }
    const row = out[0]!;
    const targets: BenchTarget[] = [{
      name: `library inventory, ${count} assets: peak RSS (MB)`,
      value: row.peakRssMB,
      threshold: `<= ${RSS_LIMIT_MB}`,
      pass: row.peakRssMB === undefined ? undefined : row.peakRssMB <= RSS_LIMIT_MB,
      detail: row.peakRssMB === undefined ? `not measured (${row.skipped ?? 'no row'})` : `${row.peakRssMB.toFixed(0)} MB, database ${((row.payloadBytes ?? 0) / 1e6).toFixed(0)} MB, ${row.seconds!.toFixed(1)} s`,
    }];
    return { measurements: out, targets };
  },
};

export default scenario;
