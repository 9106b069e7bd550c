/**
 * One backup per DEST at a time: DEST/.iosdevice/lock holds the owner's pid (O_EXCL). A lock left
 * by a process that no longer exists (kill -9, power loss) is taken over.
 */
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { PhotosError } from './errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock in `stateDir`; resolves with its release function.
 * @throws PhotosError ERR_PHOTOS_BUSY when a live process holds it
 */
export async function acquireLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
      } catch (e) {
        // a full disk: the lock was created but is empty; it is not ours to keep
        await fh.close().catch(() => undefined);
        await fsp.unlink(path).catch(() => undefined);
        throw e;
      }
      return async () => {
        await fsp.unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await fsp.readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new PhotosError('ERR_PHOTOS_BUSY', `another backup (pid ${pid}) is writing to this folder`);
    }
    await fsp.unlink(path).catch(() => undefined); // stale: its owner is gone
  }
  throw new PhotosError('ERR_PHOTOS_BUSY', 'could not take the backup lock');
}

/** The pid of a live process holding the lock in `stateDir`, or undefined (no lock, or a stale one). */
export async function lockHolder(stateDir: string): Promise<number | undefined> {
  const text = await fsp.readFile(join(stateDir, 'lock'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}
