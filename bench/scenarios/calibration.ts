/**
 * Calibration of the emulator's `real` profile (src/virtual-iphone/afcd-model.ts) on the peers, never on our
 * client: the real ifuse (+ cp) runs against the emulator with `--link real`, and each row is printed next to the
 * real-phone figure it must reproduce (within ±25 %). One row is a model check rather than a peer: no peer that
 * reads in 4 MiB requests runs here (pymobiledevice3 is Python and not installed; appium-ios-device caps reads below
 * 1 MiB), so our own AfcClient is configured to behave like pymobiledevice3's pull: one request in flight, 4 MiB
 * reads, one file. The small-file row has no published read figure and is shown as what the model predicts.
 * Rounds are interleaved (every row once per round), the median round is reported.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeLargeFile } from '../afc/data.ts';
import { ifuseCopy, ifuseMissing, ifusePush, prepareEmulator } from '../afc/ifuse.ts';
import { runChild } from '../child.ts';
import { medianRound, row, type ClientResult } from '../measure.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

/** ifuse #40 (janvda, 2022-08-17): `cp` of DCIM/112APPLE/IMG_2556.MOV, 841,891,136 B in 45.163 s through ifuse. */
export const PUBLISHED_IFUSE_MOV = { mbPerSec: 841_891_136 / 45.163 / 1e6, source: 'ifuse #40: 841,891,136 B .MOV in 45.163 s' };
/** The size of that .MOV, used for the full-size row. */
const MOV_BYTES = 841_891_136;
/**
 * Writes through ifuse: ifuse #40 reports 2, 1.2, 2 and 1.2 MB/s (iPad iOS 10, iPhone 6 iOS 11.2.6, iOS 11, Ubuntu
 * 20.04) and ifuse #61 1.35 MB/s (rsync of 660,508,709 B): the median, 1.35 MB/s. These are the "1–2 MB/s" of the
 * issue; the sources do not say they were reads of photo folders (they are copies *to* the device).
 */
export const PUBLISHED_IFUSE_WRITE = { mbPerSec: 1.35, source: 'ifuse #40 / #61: median of 5 write reports, 1.2–2' };
/**
 * One request in flight, 4 MiB reads: pymobiledevice3 #1719 (4 MiB pull ≈ 112 ms, 37.4 MB/s) and libimobiledevice
 * #1126 (100 MB AFC read, 32.4 MB/s; "never more than ~30-35 MB/s"): their mean, 34.9 MB/s.
 */
export const PUBLISHED_4MIB_READER = { mbPerSec: (4 * 2 ** 20 / 0.112 / 1e6 + 32.4) / 2, source: 'pymobiledevice3 #1719 (37.4) / libimobiledevice #1126 (32.4), mean' };

const SMALL_FILE_BYTES = 40_000;
const CHILD_TIMEOUT = 20 * 60_000;

/** measured / published within [0.75, 1.25]. */
function within25(name: string, m: BenchMeasurement | undefined): BenchTarget {
  if (!m?.mbPerSec || !m.published) return { name, value: undefined, threshold: '0.75 – 1.25', pass: undefined, detail: `not measured (${m?.skipped ?? 'row missing'})` };
  const v = m.mbPerSec / m.published.mbPerSec;
  return { name, value: v, threshold: '0.75 – 1.25', pass: v >= 0.75 && v <= 1.25, detail: `${m.mbPerSec.toFixed(2)} / ${m.published.mbPerSec.toFixed(2)} MB/s (${m.published.source})` };
}

const scenario: BenchScenario = {
  name: 'calibration',
  description:
    'The `real` device profile (usb2 bus + afcd service times, src/virtual-iphone/afcd-model.ts) calibrated on the peers: ' +
    'ifuse + cp reading one large .MOV and writing a file, a pymobiledevice3-like 4 MiB reader (model check: our client with ' +
    'one 4 MiB request in flight), and ifuse + cp -r of small files (no published read figure: the model\'s prediction).',
  async run(ctx: BenchContext) {
    const media = join(ctx.tmpDir, 'media');
    const movBytes = ctx.quick ? 128 * 2 ** 20 : MOV_BYTES;
    const uploadBytes = (ctx.quick ? 4 : 16) * 2 ** 20;
    const smallCount = ctx.quick ? 200 : 1000;
    const rounds = ctx.quick ? 1 : 3;
    const mov = await makeLargeFile(media, movBytes);
    const smallDir = join(media, 'DCIM', '100APPLE');
    await mkdir(smallDir, { recursive: true });
    for (let i = 0; i < smallCount; i++) await writeFile(join(smallDir, `IMG_${String(i).padStart(4, '0')}.JPG`), randomBytes(SMALL_FILE_BYTES));
    const upload = join(ctx.tmpDir, 'upload.bin');
    await writeFile(upload, randomBytes(uploadBytes));
    const devUpload = join(media, 'Downloads', 'upload.bin');

    const missing = ifuseMissing();
    const prep = await prepareEmulator(media, 'real');
    if ('reason' in prep) throw new Error(prep.reason);
    const emu = prep.emu;
    const byRow = new Map<string, BenchMeasurement[]>();
    const add = (m: BenchMeasurement): void => {
      const k = `${m.case}|${m.client}`;
      byRow.set(k, [...(byRow.get(k) ?? []), m]);
      ctx.log(`${m.case} ${m.client}: ${m.skipped ?? `${m.mbPerSec!.toFixed(2)} MB/s`}`);
    };
    const out = join(ctx.tmpDir, 'out');
    const limitMs = ctx.quick ? 60_000 : 300_000;
    try {
      for (let round = 0; round < rounds; round++) {
        if (missing) {
          for (const c of ['large-mov-read', 'file-write', 'small-files-read']) add({ case: c, link: 'real', client: 'ifuse', skipped: missing });
        } else {
          await rm(out, { recursive: true, force: true });
          const r1 = await ifuseCopy(emu, mov.remote.slice(1), out, ctx.tmpDir, limitMs);
          add({ ...row('large-mov-read', 'real', 'ifuse', { ...r1, files: 1 }, 'ifuse -f + cp (128 KiB seek + read per FUSE read)'), published: PUBLISHED_IFUSE_MOV });
          await rm(out, { recursive: true, force: true });
          await rm(devUpload, { force: true });
          const r2 = await ifusePush(emu, upload, 'Downloads/upload.bin', devUpload, ctx.tmpDir, limitMs);
          add({ ...row('file-write', 'real', 'ifuse', { ...r2, files: 1 }, 'cp to the ifuse mount (seek + write per 4 KiB FUSE write)'), published: PUBLISHED_IFUSE_WRITE });
          const r3 = await ifuseCopy(emu, 'DCIM', out, ctx.tmpDir, limitMs);
          add(row('small-files-read', 'real', 'ifuse', { ...r3, files: smallCount }, `${smallCount} files of ${SMALL_FILE_BYTES / 1000} KB, cp -r; no published read figure (prediction)`));
          await rm(out, { recursive: true, force: true });
        }
        await mkdir(out, { recursive: true });
        const r4 = await runChild<ClientResult>(
          'bench/afc/client-child.ts',
          ['--usbmuxd', emu.address, '--remote', mov.remote, '--local', join(out, 'mov.bin'), '--chunk', String(4 * 2 ** 20), '--in-flight', '1', '--concurrency', '1'],
          { cwd: ctx.repoRoot, timeoutMs: CHILD_TIMEOUT },
        );
        add({ ...row('large-mov-read', 'real', '4MiB-reader (model check)', r4, 'our AfcClient as pymobiledevice3 pulls: one 4 MiB READ in flight; not a peer'), published: PUBLISHED_4MIB_READER });
        await rm(out, { recursive: true, force: true });
      }
    } finally {
      await emu.close();
    }
    const measurements = [...byRow.values()].map(medianRound);
    const find = (c: string, cl: string): BenchMeasurement | undefined => measurements.find((m) => m.case === c && m.client === cl);
    const targets = [
      within25('ifuse + cp, one large .MOV read: measured / published', find('large-mov-read', 'ifuse')),
      within25('ifuse + cp, a file written to the device: measured / published', find('file-write', 'ifuse')),
      within25('4 MiB reader, one request in flight (model check): measured / published', find('large-mov-read', '4MiB-reader (model check)')),
    ];
    return { measurements, targets };
  },
};

export default scenario;
