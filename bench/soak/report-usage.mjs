// Preloaded (`node --import`) into a backup child of the soak tier: at exit, writes its own peak RSS (VmHWM) and
// CPU time as JSON to the file named by IOSDEVICE_SOAK_USAGE_FILE. (A child killed with -9 writes nothing.)
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const out = process.env.IOSDEVICE_SOAK_USAGE_FILE;
if (out) {
  process.on('exit', () => {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const c = process.cpuUsage();
    writeFileSync(out, JSON.stringify({ peakRssBytes: m ? Number(m[1]) * 1024 : 0, cpuSeconds: (c.user + c.system) / 1e6 }));
  });
}
