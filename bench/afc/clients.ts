/**
 * The clients of the peers benchmark, each pulling a tree's /DCIM from the emulator into a fresh local folder, in a
 * process of its own: ours (`afc pull` = AfcClient.pull with the library defaults; `photos backup` = runBackup with
 * its defaults), both esbuild-bundled to plain JavaScript; ifuse + `cp -r`; appium-ios-device (its AFC service, one
 * file at a time, its default read size). Each run is checked (sizes and the first/last 64 KiB of every file) unless
 * a time limit cut it short; the row is then the rate of the bytes copied by then.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runChild } from '../child.ts';
import { row, type ClientResult } from '../measure.ts';
import type { BenchMeasurement } from '../scenario.ts';
import { ifuseCopy, ifuseMissing, type EmulatorLike } from './ifuse.ts';
import type { Tree } from './trees.ts';
import { verify } from './verify.ts';

/** Client labels as they appear in the rows. */
export const CLIENTS = ['iosdevice afc pull', 'iosdevice photos backup', 'ifuse', 'appium-ios-device'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Where and how one run happens. */
export interface RunSpec {
  repoRoot: string;
  tmpDir: string;
  emu: EmulatorLike;
  tree: Tree;
  /** Row labels. */
  caseName: string;
  link: string;
  /** Time limit of one run (peers that exceed it report the rate so far), ms. */
  limitMs: number;
}

const CHILD_TIMEOUT = 40 * 60_000;

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) if (e.isFile()) n++;
  return n;
}

async function runOne(client: ClientName, s: RunSpec, dst: string): Promise<{ r: ClientResult; verifyRoot: string | undefined; note: string }> {
  const opts = { cwd: s.repoRoot, timeoutMs: CHILD_TIMEOUT };
  switch (client) {
    case 'iosdevice afc pull': {
      const local = join(dst, 'DCIM');
      const r = await runChild<ClientResult>('bench/afc/client-child.ts', ['--usbmuxd', s.emu.address, '--remote', '/DCIM', '--local', local], opts);
      return { r, verifyRoot: local, note: 'AfcClient.pull, library defaults (what `iosdevice afc pull` runs)' };
    }
    case 'iosdevice photos backup': {
      const r = await runChild<ClientResult & { status: string; failed: number; deviceFolder: string }>('bench/photos/backup-child.ts', ['--usbmuxd', s.emu.address, '--dest', dst], opts);
      if (r.status !== 'complete' || r.failed > 0) throw new Error(`backup ended ${r.status} with ${r.failed} failed files`);
      // the files are below DEST/<device folder>/ (src/photos/device-folder.ts)
      return { r, verifyRoot: join(dst, r.deviceFolder), note: 'runBackup, defaults (.part + SHA-256 + fsync + place + manifest)' };
    }
    case 'ifuse': {
      const local = join(dst, 'DCIM');
      const r = await ifuseCopy(s.emu, 'DCIM', local, s.tmpDir, s.limitMs);
      // cut short: the files cp finished (the one in progress does not count)
      const files = r.partial ? Math.max(0, (await countFiles(local)) - 1) : s.tree.files.length;
      return { r: { ...r, files }, verifyRoot: r.partial ? undefined : local, note: 'ifuse -f + cp -r' };
    }
    case 'appium-ios-device': {
      const local = join(dst, 'DCIM');
      const r = await runChild<ClientResult>('bench/afc/appium-child.ts', ['--remote', '/DCIM', '--local', local, '--limit-ms', String(s.limitMs)], {
        ...opts,
        env: { ...process.env, USBMUXD_SOCKET_ADDRESS: s.emu.address },
      });
      return { r, verifyRoot: r.partial ? undefined : local, note: 'appium-ios-device 3.1.23 AFC service: walkDir + createReadStream, one file at a time, default read size' };
    }
  }
}

/** Runs `client` once on `s` and returns its row (skipped with the reason when it cannot run or fails). */
export async function runClient(client: ClientName, s: RunSpec): Promise<BenchMeasurement> {
  if (client === 'ifuse') {
    const missing = ifuseMissing();
    if (missing) return { case: s.caseName, link: s.link, client, skipped: missing };
  }
  const dst = join(s.tmpDir, 'out');
  await rm(dst, { recursive: true, force: true });
  await mkdir(dst, { recursive: true });
  try {
    const { r, verifyRoot, note } = await runOne(client, s, dst);
    if (verifyRoot !== undefined) {
      if (r.bytes !== s.tree.bytes) throw new Error(`copied ${r.bytes} of ${s.tree.bytes} bytes`);
      await verify(s.tree.files, join(s.tree.media, 'DCIM'), verifyRoot);
    }
    return row(s.caseName, s.link, client, r, note);
  } catch (e) {
    return { case: s.caseName, link: s.link, client, skipped: `failed: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    await rm(dst, { recursive: true, force: true });
  }
}
