/**
 * Child process of the appium-ios-device peer row: pulls a remote folder (or one file) with appium-ios-device's
 * own AFC service (the npm package, version pinned in package.json), the way a user of that library would, and
 * prints one JSON line { baselineRssBytes, bytes, files, seconds, cpuSeconds, peakRssBytes, chunk, jobs }.
 *
 *   USBMUXD_SOCKET_ADDRESS=UNIX:/… node appium-child.mjs --remote /DCIM --local DIR [--chunk BYTES] [--jobs N] [--limit-ms MS]
 * With --limit-ms the pull stops after MS (the stream in progress is destroyed) and reports `partial: true` with the
 * bytes received by then.
 *
 * Public API only: utilities.getConnectedDevices(), services.startAfcService(udid) (lockdown session + TLS +
 * StartService, on the socket named by USBMUXD_SOCKET_ADDRESS), AfcService.getFileInfo / walkDir (one READ_DIR per
 * folder, one GET_FILE_INFO per entry, in sequence) / createReadStream (FILE_OPEN, then one FILE_READ of the
 * stream's highWaterMark per _read, an empty read at EOF, FILE_CLOSE on destroy) / close(). The library has no
 * folder pull, so this is the obvious one built from those calls. Defaults are appium's own: one file at a time
 * (--jobs 1) and the Readable default highWaterMark (16 KiB on Node 20) as the read size (--chunk unset); the
 * library caps AFC frames at 1 MiB, so --chunk must stay below 1 MiB − 40 B.
 * The timed part is the walk + the copy (connection set-up excluded, as for our client's row).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { getDefaultHighWaterMark } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { services, utilities } from 'appium-ios-device';
import { MemorySampler, peakRssBytes, selfUsage } from '../self-usage.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const remote = arg('--remote') ?? '/DCIM';
const local = arg('--local');
if (!local) throw new Error('need --local DIR');
const chunkArg = arg('--chunk');
const jobs = Math.max(1, Number(arg('--jobs') ?? 1));
const limitMs = arg('--limit-ms') === undefined ? undefined : Number(arg('--limit-ms'));

const udids = await utilities.getConnectedDevices();
if (udids.length === 0) throw new Error('no device on the usbmuxd socket (USBMUXD_SOCKET_ADDRESS)');
const afc = await services.startAfcService(udids[0]!);
const baselineRssBytes = peakRssBytes();
const mem = new MemorySampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let partial = false;
const active = new Set<NodeJS.ReadableStream & { destroy(e?: Error): void }>();
const limit = limitMs === undefined ? undefined : setTimeout(() => {
  partial = true;
  for (const s of active) s.destroy(new Error('time limit'));
}, limitMs);

const files: { remote: string; local: string }[] = [];
const top = await afc.getFileInfo(remote);
if (top.isDirectory()) {
  await afc.walkDir(remote, true, (p: string, isDir: boolean) => {
    if (!isDir) files.push({ remote: p, local: join(local, ...posix.relative(remote, p).split('/')) });
  });
} else files.push({ remote, local });

// the options object is required by appium (it reads opts.autoDestroy); highWaterMark = FILE_READ size
const streamOpts = chunkArg ? { highWaterMark: Number(chunkArg) } : {};
let bytes = 0;
let done = 0;
const queue = [...files];
await Promise.all(
  Array.from({ length: jobs }, async () => {
    for (let f = queue.shift(); f !== undefined && !partial; f = queue.shift()) {
      await mkdir(dirname(f.local), { recursive: true });
      const rs = await afc.createReadStream(f.remote, streamOpts);
      active.add(rs);
      rs.on('data', (b: Buffer) => (bytes += b.length));
      try {
        await pipeline(rs, createWriteStream(f.local));
        done++;
      } catch (e) {
        if (!partial) throw e;
      } finally {
        active.delete(rs);
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
if (limit) clearTimeout(limit);
const u = selfUsage(cpu0);
const peaks = mem.stop();
afc.close();
console.log(
  JSON.stringify({
    baselineRssBytes, bytes, files: done, listed: files.length, seconds, cpuSeconds: u.cpuSeconds, peakRssBytes: u.peakRssBytes, ...peaks,
    chunk: chunkArg ? Number(chunkArg) : getDefaultHighWaterMark(false), jobs, partial,
  }),
);
process.exit(0); // appium keeps sockets/timers of its own alive
