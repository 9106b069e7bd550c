// Child of bench/soak/multi.ts: backs up several devices at once from this one process with the library API, as a
// user of the package would (the built dist/, `backupPhotos` from the package entry).
//   node multi-child.mjs JSON   where JSON = [{ "socket": "UNIX:/…", "udid": "…", "dest": "/…" }, …]
// Prints one JSON line: { cpuSeconds, peakRssBytes, seconds, runs: [{ udid, status, copied, copiedBytes }] }.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { stdout } from 'node:process';
import { backupPhotos, openDevice } from '../../dist/index.js';

const jobs = JSON.parse(process.argv[2]);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const runs = await Promise.all(jobs.map(async (j) => {
  const dev = await openDevice({ socket: j.socket, udid: j.udid });
  const s = await backupPhotos(dev, { dest: j.dest });
  return { udid: j.udid, status: s.status, copied: s.copied, copiedBytes: s.copiedBytes, failed: s.failed.length, failures: s.failed.slice(0, 3).map((f) => `${f.code}: ${f.message ?? f.reason ?? ''}`.slice(0, 200)) };
}));
const c = process.cpuUsage(cpu0);
const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
stdout.write(JSON.stringify({ cpuSeconds: (c.user + c.system) / 1e6, peakRssBytes: m ? Number(m[1]) * 1024 : 0, seconds: (performance.now() - t0) / 1000, runs }) + '\n');
