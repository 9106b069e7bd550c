/** File listings for e2e checks. */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Files below `dir` (relative, `/`-separated, sorted), leaving out DEST's state folder; [] when `dir` is missing. */
export async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const rel = relative(dir, join(e.parentPath, e.name)).split('\\').join('/');
    if (!rel.startsWith('.iosdevice/')) out.push(rel);
  }
  return out.sort();
}
