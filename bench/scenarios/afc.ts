/**
 * AFC throughput: (a) one large file (1 GiB; --quick 64 MiB) and (b) a DCIM tree of 2,000 files of
 * 50 KB – 8 MB (--quick 200), each unshaped and over the usb2 link profile (40 MB/s shared + 0.5 ms RTT).
 * Rows: our client (child process), ifuse + cp -r (needs the emulator), the raw ceiling (the same bytes
 * through a plain unix socket) and the shaped link rate (raw bytes through the same shaper).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { linkProfile } from '../../src/virtual-iphone/link.ts';
import { makeDcim, makeLargeFile } from '../afc/data.ts';
import { ifuseCopy, ifuseMissing, prepareEmulator, type EmulatorLike } from '../afc/ifuse.ts';
import { startAfcServer, startRawServer } from '../afc/servers.ts';
import { verify } from '../afc/verify.ts';
import { runChild } from '../child.ts';
import { row, type ClientResult } from '../measure.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const CHILD_TIMEOUT = 20 * 60_000;
/** The settings this scenario has always measured (8 files × 4 × 1 MiB reads in flight, window 32). */
const OUR_OPTS = ['--concurrency', '8', '--chunk', String(1024 * 1024), '--in-flight', '4', '--window', '32'];

const fmtMB = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(0));

function target(name: string, num: BenchMeasurement | undefined, den: BenchMeasurement | undefined, min: number, floorMbPerSec = 0): BenchTarget {
  if (!num?.mbPerSec || !den?.mbPerSec) {
    return { name, value: undefined, threshold: `>= ${min}`, pass: undefined, detail: `not measured (${num?.skipped ?? den?.skipped ?? 'row missing'})` };
  }
  // For the shaped link the denominator is the larger of the measured raw rate and the configured rate,
  // so a slow raw pump can never flatter the ratio.
  const d = Math.max(den.mbPerSec, floorMbPerSec);
  const v = num.mbPerSec / d;
  const how = floorMbPerSec > 0 ? ` (max of measured ${den.mbPerSec.toFixed(1)} and configured ${floorMbPerSec.toFixed(1)})` : '';
  return { name, value: v, threshold: `>= ${min}`, pass: v >= min, detail: `${num.mbPerSec.toFixed(1)} / ${d.toFixed(1)} MB/s${how}` };
}

const scenario: BenchScenario = {
  name: 'afc',
  description:
    'AFC pull of one large file and of a DCIM tree (log-uniform 50 KB – 8 MB), unshaped and over usb2 (40 MB/s + 0.5 ms RTT). ' +
    'Our client runs in a child process and writes the files to local disk (.part + rename); the raw ceiling moves the same bytes ' +
    'through a plain unix socket into one local file; link-rate = raw bytes through the same link shaper.',
  async run(ctx: BenchContext) {
    const media = join(ctx.tmpDir, 'media');
    const largeBytes = ctx.quick ? 64 * 2 ** 20 : 2 ** 30;
    const dcimCount = ctx.quick ? 200 : 2000;
    ctx.log(`generating ${largeBytes} B file and ${dcimCount} DCIM files`);
    const large = await makeLargeFile(media, largeBytes);
    const dcim = await makeDcim(media, dcimCount);
    ctx.log(`DCIM: ${(dcim.bytes / 1e6).toFixed(0)} MB`);
    const out: BenchMeasurement[] = [];
    const cases = [
      { name: 'large-file', remote: large.remote, files: [large.path], bytes: large.bytes, ifuseSrc: 'Downloads/large.bin' },
      { name: 'dcim-tree', remote: dcim.remote, files: dcim.files, bytes: dcim.bytes, ifuseSrc: 'DCIM' },
    ];
    for (const linkName of ['none', 'usb2'] as const) {
      const link = linkProfile(linkName);
      // The emulator (usbmuxd + lockdown + AFC) is preferred for our client and needed for ifuse.
      const prep = await prepareEmulator(media, linkName);
      const emu: EmulatorLike | undefined = 'emu' in prep ? prep.emu : undefined;
      const emuReason = 'reason' in prep ? prep.reason : undefined;
      if (emuReason) ctx.log(`${linkName}: ${emuReason}; our client talks to serveAfc on a unix socket instead`);
      const afcSrv = await startAfcServer(ctx.tmpDir, media, link);
      try {
        for (const c of cases) {
          const dst = join(ctx.tmpDir, 'out');
          // Raw ceiling / link rate.
          const rawSrv = await startRawServer(ctx.tmpDir, c.files, link);
          try {
            await mkdir(dst, { recursive: true });
            const r = await runChild<ClientResult>('bench/afc/raw-child.ts', ['--socket', rawSrv.path, '--out', join(dst, 'raw.bin')], {
              cwd: ctx.repoRoot,
              timeoutMs: CHILD_TIMEOUT,
            });
            if (r.bytes !== c.bytes) throw new Error(`raw row moved ${r.bytes} of ${c.bytes} bytes`);
            out.push(row(c.name, linkName, link ? 'link-rate' : 'raw-socket', { ...r, files: c.files.length }));
            ctx.log(`${c.name} ${linkName} raw: ${out.at(-1)!.mbPerSec!.toFixed(1)} MB/s`);
          } finally {
            await rawSrv.close();
            await rm(dst, { recursive: true, force: true });
          }
          // Our client (through the emulator when it works; then also straight on serveAfc, to show the relay's cost).
          const variants: { client: string; args: string[]; note: string }[] = emu
            ? [
                { client: 'iosdevice', args: ['--usbmuxd', emu.address, ...OUR_OPTS], note: 'via emulator usbmuxd + lockdown' },
                { client: 'iosdevice-afc-socket', args: ['--afc-socket', afcSrv.path, ...OUR_OPTS], note: 'serveAfc on a unix socket, no usbmux relay (diagnostic)' },
              ]
            : [{ client: 'iosdevice', args: ['--afc-socket', afcSrv.path, ...OUR_OPTS], note: 'AFC on a unix socket (serveAfc)' }];
          for (const v of variants) {
            await mkdir(dst, { recursive: true });
            try {
              const local = join(dst, c.name === 'dcim-tree' ? 'DCIM' : 'large.bin');
              const r = await runChild<ClientResult>('bench/afc/client-child.ts', [...v.args, '--remote', c.remote, '--local', local], {
                cwd: ctx.repoRoot,
                timeoutMs: CHILD_TIMEOUT,
              });
              if (r.bytes !== c.bytes) throw new Error(`our client pulled ${r.bytes} of ${c.bytes} bytes`);
              await verify(c.files, c.name === 'dcim-tree' ? join(media, 'DCIM') : join(media, 'Downloads', 'large.bin'), local);
              out.push(row(c.name, linkName, v.client, r, v.note));
              ctx.log(`${c.name} ${linkName} ${v.client}: ${out.at(-1)!.mbPerSec!.toFixed(1)} MB/s`);
            } finally {
              await rm(dst, { recursive: true, force: true });
            }
          }
          // ifuse.
          const missing = ifuseMissing() ?? (emu ? undefined : `needs the emulator's usbmuxd: ${emuReason}`);
          if (missing) out.push({ case: c.name, link: linkName, client: 'ifuse', skipped: missing });
          else {
            await mkdir(dst, { recursive: true });
            try {
              const r = await ifuseCopy(emu!, c.ifuseSrc, join(dst, 'copy'), ctx.tmpDir, ctx.quick ? 30_000 : 60_000);
              out.push(row(c.name, linkName, 'ifuse', r, 'ifuse -f + cp -r'));
            } catch (e) {
              out.push({ case: c.name, link: linkName, client: 'ifuse', skipped: `ifuse failed: ${e instanceof Error ? e.message : String(e)}` });
            } finally {
              await rm(dst, { recursive: true, force: true });
            }
          }
        }
      } finally {
        await afcSrv.close();
        await emu?.close();
      }
    }
    const find = (c: string, l: string, cl: string): BenchMeasurement | undefined => out.find((m) => m.case === c && m.link === l && m.client === cl);
    const ours = out.filter((m) => m.client.startsWith('iosdevice'));
    const maxCopied = Math.max(...ours.map((m) => m.bytesCopiedPerPayloadByte ?? 0));
    const largeOurs = ours.filter((m) => m.case === 'large-file');
    const largeRss = Math.max(...largeOurs.map((m) => m.peakRssMB ?? 0));
    const largeGrowth = Math.max(...largeOurs.map((m) => m.rssGrowthMB ?? 0));
    const usb2Rate = linkProfile('usb2')!.bytesPerSecond / 1e6;
    const rawRow = out.find((m) => m.case === 'large-file' && m.client === 'raw-socket');
    const rawRss = rawRow ? `${fmtMB(rawRow.peakRssMB)} MB (growth ${fmtMB(rawRow.rssGrowthMB)} MB)` : 'not measured';
    const targets: BenchTarget[] = [
      target('large file, usb2: ours / link rate', find('large-file', 'usb2', 'iosdevice'), find('large-file', 'usb2', 'link-rate'), 0.95, usb2Rate),
      target('large file, unshaped: ours / raw socket ceiling', find('large-file', 'none', 'iosdevice'), find('large-file', 'none', 'raw-socket'), 0.8),
      target('(diagnostic) large file, unshaped: ours on serveAfc without the usbmux relay / raw socket', find('large-file', 'none', 'iosdevice-afc-socket'), find('large-file', 'none', 'raw-socket'), 0.8),
      target('DCIM, usb2: ours / link rate', find('dcim-tree', 'usb2', 'iosdevice'), find('dcim-tree', 'usb2', 'link-rate'), 0.85, usb2Rate),
      target('DCIM, usb2: ours / ifuse', find('dcim-tree', 'usb2', 'iosdevice'), find('dcim-tree', 'usb2', 'ifuse'), 3),
      {
        name: 'bytes copied per payload byte (max over our rows)',
        value: maxCopied,
        threshold: '<= 0.05',
        pass: maxCopied <= 0.05,
        detail: 'AfcClient.bytesCopied / payload bytes',
      },
      {
        name: `peak RSS of our client, large file (${(largeBytes / 2 ** 20).toFixed(0)} MiB), MB`,
        value: largeRss,
        threshold: '<= 100',
        pass: largeRss <= 100,
        detail: `VmHWM of the child process (plain Node running the esbuild-bundled client, max over our rows); the raw-socket receiver child peaked at ${rawRss}`,
      },
      {
        name: `(diagnostic) peak RSS growth during the transfer, large file (${(largeBytes / 2 ** 20).toFixed(0)} MiB), MB`,
        value: largeGrowth,
        threshold: '<= 20',
        pass: largeGrowth <= 20,
        detail: 'peak RSS − peak RSS before the transfer started, max over our rows (read-ahead 4 × 1 MiB + stream buffers + garbage not yet collected)',
      },
    ];
    return { measurements: out, targets };
  },
};

export default scenario;
