// Preloaded (`node --import`) into a child under test: at exit, writes its own peak RSS (VmHWM, kB) to the file
// named by IOSDEVICE_TEST_RSS_FILE. VmHWM is the high-water mark of this process image only (not inherited
// from the parent across fork+exec, unlike getrusage's maxrss).
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const out = process.env.IOSDEVICE_TEST_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    writeFileSync(out, m ? m[1] : '0');
  });
}
