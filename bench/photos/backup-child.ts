/**
 * Child process of the photo-backup rows: runs the backup engine (runBackup, as `iosdevice photos backup` does,
 * with its default connections and files in flight) against a usbmuxd socket and prints one JSON line
 * { baselineRssBytes, bytes, files, seconds, cpuSeconds, peakRssBytes, heapUsedBytes, arrayBuffersBytes, status, failed,
 * deviceFolder } (deviceFolder: the device's folder below DEST, where its files are).
 *   --usbmuxd ADDRESS --dest DIR [--connections N]
 * The timed part is the engine's run (walk + copy + verify + place + manifest); connection set-up is excluded,
 * as for the other clients.
 */
import { runBackup } from '../../src/photos/backup.ts';
import { MemorySampler, peakRssBytes, selfUsage } from '../self-usage.ts';
import { arg, openBenchDevice } from './device.ts';

const device = await openBenchDevice();
const conns = arg('--connections');
const baselineRssBytes = peakRssBytes();
const mem = new MemorySampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const s = await runBackup({ dest: arg('--dest')!, device, ...(conns ? { connections: Number(conns) } : {}) });
const seconds = (performance.now() - t0) / 1000;
const u = selfUsage(cpu0);
const peaks = mem.stop();
console.log(JSON.stringify({ baselineRssBytes, bytes: s.copiedBytes, files: s.copied, seconds, cpuSeconds: u.cpuSeconds, peakRssBytes: u.peakRssBytes, ...peaks, status: s.status, failed: s.failed.length, deviceFolder: s.deviceFolder ?? '' }));
