/**
 * Child process of the library-inventory row: opens the device behind a usbmuxd socket and runs the backup
 * engine's whole-library inventory as `iosdevice photos backup --dry-run` does (walk /DCIM, stream
 * Photos.sqlite + -wal from the device into a temporary file, read it, walk the PhotoData folders, pair Live
 * Photos, plan), then prints one JSON line
 * { baselineRssBytes, peakRssBytes, seconds, cpuSeconds, heapUsedBytes, arrayBuffersBytes, found, assets, databaseBytes, inventoryMs, source, status }.
 *   --usbmuxd ADDRESS --dest DIR
 * Peak RSS is VmHWM of this process (runtime, imports and the lockdown session included).
 */
import { runBackup } from '../../src/photos/backup.ts';
import { MemorySampler, peakRssBytes, selfUsage } from '../self-usage.ts';
import { arg, openBenchDevice } from './device.ts';

const device = await openBenchDevice();
const baselineRssBytes = peakRssBytes();
const mem = new MemorySampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const s = await runBackup({ dest: arg('--dest')!, device, library: true, dryRun: true, idleTimeoutMs: 120_000 });
const seconds = (performance.now() - t0) / 1000;
const u = selfUsage(cpu0);
const peaks = mem.stop();
const l = s.library;
console.log(JSON.stringify({
  baselineRssBytes, peakRssBytes: u.peakRssBytes, seconds, cpuSeconds: u.cpuSeconds, ...peaks, found: s.found, assets: l?.assets ?? 0,
  databaseBytes: l?.databaseBytes ?? 0, inventoryMs: l?.inventoryMs ?? 0, source: l?.source, warning: l?.warning, cloudOnly: l?.cloudOnly.length ?? 0,
  albums: l?.albums.length ?? 0, livePairedById: l?.livePairedById ?? 0, status: s.status,
}));
