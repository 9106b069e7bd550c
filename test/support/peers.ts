import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Skip reason when a real peer tool (Debian package) is missing, else false. In CI
 * (IOSDEVICE_REQUIRE_PEERS=1) a missing tool is not a skip: it throws, so the test fails loudly.
 * Usage: `test('…', { skip: skipUnlessTools('ideviceinfo') }, …)`.
 */
export function skipUnlessTools(...tools: string[]): string | false {
  const missing = tools.filter((t) => !has(t));
  if (tools.includes('ifuse') && !existsSync('/dev/fuse')) missing.push('/dev/fuse');
  if (missing.length === 0) return false;
  const why = `real peer tools missing: ${missing.join(', ')} (apt-get install usbmuxd libimobiledevice-utils libusbmuxd-tools ifuse socat)`;
  if (process.env.IOSDEVICE_REQUIRE_PEERS === '1') throw new Error(why);
  return why;
}

/** True when running as root (needed for the usbmuxd mount namespace and FUSE). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
