import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The third-party capture folder (../shared/captures/third-party), or undefined when absent. */
export function thirdPartyDir(): string | undefined {
  const candidates = [process.env.IOSDEVICE_SHARED_DIR, resolve(fileURLToPath(new URL('../../..', import.meta.url)), 'shared')];
  for (const c of candidates) {
    if (c && existsSync(join(c, 'captures', 'third-party'))) return join(c, 'captures', 'third-party');
  }
  return undefined;
}

/** Skip option for node:test: `test('x', { skip: skipUnlessCaptures() }, ...)`. */
export function skipUnlessCaptures(): string | false {
  return thirdPartyDir() ? false : 'third-party captures (../shared/captures/third-party) are absent';
}

/** Path inside the third-party folder (call only when thirdPartyDir() is defined). */
export function capturePath(...parts: string[]): string {
  const d = thirdPartyDir();
  if (!d) throw new Error('third-party captures are absent');
  return join(d, ...parts);
}
