/**
 * Seeds the virtual iPhone's crash report folder (what `com.apple.crashreportcopymobile` serves), deterministically:
 * `.ips` reports at the top level, an `Analytics/` and a `Retired/` folder, one report larger than a few 4 KiB READs,
 * an empty folder, and a relative symlink (`Latest.ips` → a report) that `idevicecrashreport` recreates as a link.
 */
import { createHash } from 'node:crypto';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../core/prng.ts';

/** One seeded entry (paths relative to the crash folder, `/`-separated). */
export interface CrashEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size?: number;
  sha256?: string;
  linkTarget?: string;
}

function report(rand: () => number, name: string, date: Date, bytes: number): Buffer {
  const header = JSON.stringify({ app_name: name, timestamp: date.toISOString(), bug_type: '109', os_version: 'iPhone OS 17.5.1 (21F90)' });
  const lines = [header];
  let size = header.length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `Thread ${i % 12} frame ${i}: 0x${Math.floor(rand() * 0xffffffff).toString(16).padStart(8, '0')} ${name} + ${Math.floor(rand() * 65536)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

/** Writes the crash tree into `dir` (created if needed) and lists what was written. */
export async function seedCrashReports(dir: string, seed = 1): Promise<CrashEntry[]> {
  const rand = mulberry32(seed ^ 0x5eed);
  const out: CrashEntry[] = [];
  const files: [string, string, number][] = [
    ['JetsamEvent-2024-05-01-120301.ips', 'JetsamEvent', 3000],
    ['Camera-2024-05-02-081500.ips', 'Camera', 9000],
    ['MobileSlideShow-2024-06-11-223010.ips', 'MobileSlideShow', 70_000],
    ['Analytics/Analytics-2024-06-12-000000.ips.ca.synced', 'Analytics', 12_000],
    ['Retired/SpringBoard-2023-12-24-180000.ips', 'SpringBoard', 5000],
  ];
  for (const d of ['Analytics', 'Retired', 'Panics']) {
    await mkdir(join(dir, d), { recursive: true });
    out.push({ path: d, type: 'dir' });
  }
  let when = Date.UTC(2024, 4, 1, 12, 3, 1);
  for (const [path, name, bytes] of files) {
    const date = new Date(when);
    const data = report(rand, name, date, bytes);
    const full = join(dir, ...path.split('/'));
    await writeFile(full, data, { mode: 0o644 });
    await utimes(full, date, date);
    out.push({ path, type: 'file', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    when += 86_400_000 * 3;
  }
  await symlink('MobileSlideShow-2024-06-11-223010.ips', join(dir, 'Latest.ips'));
  out.push({ path: 'Latest.ips', type: 'symlink', linkTarget: 'MobileSlideShow-2024-06-11-223010.ips' });
  return out;
}
