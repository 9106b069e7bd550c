/**
 * Hostile mode of the virtual iPhone's media folder, for the photo-backup safety tests: a device that lists names
 * a naive backup would write outside its destination, or follow out of the device's root.
 *
 * In `/DCIM/100APPLE` (created if missing) it adds:
 * - `IMG_6661.JPG`: a real symlink to `/etc/passwd` (absolute, outside the root; reading it is PERM_DENIED),
 * - `IMG_6662.JPG`: a real symlink `../../../../../../../../etc/hostname` (relative escape),
 * - `103APPLE` (in `/DCIM`): a real directory symlink to `/`,
 * - listed name `../../../../../../tmp/iosdevice-escape.JPG` (path traversal; the AFC server clamps `..` at its root,
 *   so a decoy file at `<root>/tmp/iosdevice-escape.JPG` makes it stat and read successfully),
 * - listed name `sub/IMG_6663.JPG` (contains `/`; backed by a real file in a `sub` folder hidden from the listing),
 * - listed name `IMG_6664\0.JPG` (a NUL inside a name: on the wire the client sees `IMG_6664` and `.JPG`),
 * - listed names `.` and `..` a second time, and an empty name.
 * The `tmp` decoy folder is hidden from the root listing. Everything else is served unchanged.
 */
import { mkdir, symlink, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The hostile names injected into `/DCIM/100APPLE` listings (as sent, before any NUL splitting). */
export const HOSTILE_NAMES = ['../../../../../../tmp/iosdevice-escape.JPG', 'sub/IMG_6663.JPG', 'IMG_6664\0.JPG', '.', '..', ''] as const;

/** The real symlinks created (path relative to the media root → target). */
export const HOSTILE_SYMLINKS: Record<string, string> = {
  'DCIM/100APPLE/IMG_6661.JPG': '/etc/passwd',
  'DCIM/100APPLE/IMG_6662.JPG': '../../../../../../../../etc/hostname',
  'DCIM/103APPLE': '/',
};

/** serveAfc hooks of hostile mode. */
export interface HostileHooks {
  readdir(path: string, names: string[]): string[];
}

function norm(p: string): string {
  return '/' + p.split('/').filter((c) => c !== '' && c !== '.').join('/');
}

/** Creates the hostile entries under `mediaRoot` and returns the AFC hooks that inject the names. */
export async function setupHostileMedia(mediaRoot: string): Promise<HostileHooks> {
  await mkdir(join(mediaRoot, 'DCIM', '100APPLE', 'sub'), { recursive: true });
  await mkdir(join(mediaRoot, 'tmp'), { recursive: true });
  await writeFile(join(mediaRoot, 'tmp', 'iosdevice-escape.JPG'), 'decoy: a backup that writes this file followed a ../ name\n');
  await writeFile(join(mediaRoot, 'DCIM', '100APPLE', 'sub', 'IMG_6663.JPG'), 'decoy: a name containing a slash\n');
  for (const [rel, target] of Object.entries(HOSTILE_SYMLINKS)) {
    const full = join(mediaRoot, ...rel.split('/'));
    await rm(full, { force: true, recursive: false }).catch(() => undefined);
    await symlink(target, full);
  }
  return {
    readdir(path: string, names: string[]): string[] {
      const p = norm(path);
      if (p === '/') return names.filter((n) => n !== 'tmp');
      if (p === '/DCIM/100APPLE') return [...names.filter((n) => n !== 'sub'), ...HOSTILE_NAMES];
      return names;
    },
  };
}
