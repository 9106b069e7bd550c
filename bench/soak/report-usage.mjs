// Preloaded (`node --import`) into a backup child of the soak tier: at exit, writes its own peak RSS (VmHWM), CPU
// time and the peaks of process.memoryUsage() (sampled every 250 ms: JS heap used / total, external, array buffers)
// as JSON to the file named by IOSDEVICE_SOAK_USAGE_FILE. (A child killed with -9 writes nothing.)
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';

const out = process.env.IOSDEVICE_SOAK_USAGE_FILE;
if (out) {
  const peaks = { heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peaks.heapUsedBytes = Math.max(peaks.heapUsedBytes, m.heapUsed);
    peaks.heapTotalBytes = Math.max(peaks.heapTotalBytes, m.heapTotal);
    peaks.externalBytes = Math.max(peaks.externalBytes, m.external);
    peaks.arrayBuffersBytes = Math.max(peaks.arrayBuffersBytes, m.arrayBuffers);
  };
  setInterval(sample, 250).unref();
  process.on('exit', () => {
    sample();
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const c = process.cpuUsage();
    writeFileSync(out, JSON.stringify({ peakRssBytes: m ? Number(m[1]) * 1024 : 0, cpuSeconds: (c.user + c.system) / 1e6, ...peaks }));
  });
}
