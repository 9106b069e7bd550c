/**
 * One clash suffix per group: the members of a group (a Live Photo's still and video, its .AAE, Apple's edited and
 * original variants) are placed under one suffix, chosen before the first of them is placed, so a name clash
 * never splits them (IMG_0001-1.HEIC with IMG_0001-1.MOV, never with IMG_0001.MOV).
 *
 * The suffix is the smallest n at which the name of every member of the group is usable in the group's folder:
 * nothing there, or the member's own recorded copy, or a file of the member's size (possibly the member itself,
 * placed by a run that was cut off before recording it: place() compares the bytes and moves on when they differ),
 * and not picked by another group of the same run (`claims`, released once the group is placed).
 * Limits: a member whose name was taken after the pick (by another program) goes to the next free suffix; claims
 * compare exact names, so on a case-insensitive DEST two groups of one run whose names differ only in case could
 * pick the same suffix, and the second one's members then move on one by one (place() never overwrites).
 */
import { promises as fsp } from 'node:fs';
import { withSuffix, type DeviceFile } from './layout.ts';
import { resolveInside } from './safe-path.ts';

/** Highest suffix tried (as place() in copy.ts). */
const MAX_SUFFIX = 9999;

/** A member as the pick sees it: its device file name and size, and its recorded local path if any. */
export interface SuffixMember {
  name: string;
  size: number;
  recordedLocal?: string;
}

async function usable(dest: string, local: string, m: SuffixMember): Promise<boolean> {
  if (m.recordedLocal === local) return true;
  try {
    const st = await fsp.lstat(resolveInside(dest, local.split('/')));
    return st.isFile() && st.size === m.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/**
 * Picks the group's suffix in DEST/`dirParts` and claims its names in `claims` (see the module comment).
 * @returns the suffix and the claimed keys (pass them to {@link releaseClaims} once the group is placed)
 */
export async function pickGroupSuffix(
  dest: string, dirParts: readonly string[], members: readonly SuffixMember[], claims: Set<string>,
): Promise<{ suffix: number; claimed: string[] }> {
  for (let n = 0; n <= MAX_SUFFIX; n++) {
    const locals = members.map((m) => [...dirParts, withSuffix(m.name, n)].join('/'));
    const keys = locals;
    if (keys.some((k) => claims.has(k))) continue;
    let ok = true;
    for (const [i, m] of members.entries()) {
      if (!(await usable(dest, locals[i]!, m))) {
        ok = false;
        break;
      }
    }
    // another group may have claimed one of these names while we looked at the disk
    if (!ok || keys.some((k) => claims.has(k))) continue;
    for (const k of keys) claims.add(k);
    return { suffix: n, claimed: keys };
  }
  return { suffix: 0, claimed: [] }; // place() reports the clash
}

/** Releases a group's claims (its files are placed or given up). */
export function releaseClaims(claims: Set<string>, claimed: readonly string[]): void {
  for (const k of claimed) claims.delete(k);
}

/** The members of a group for {@link pickGroupSuffix}. */
export function suffixMembers(files: readonly DeviceFile[], recordedLocal: (f: DeviceFile) => string | undefined): SuffixMember[] {
  return files.map((f) => {
    const local = recordedLocal(f);
    return { name: f.rel[f.rel.length - 1]!, size: f.size, ...(local !== undefined ? { recordedLocal: local } : {}) };
  });
}
