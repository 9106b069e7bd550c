/**
 * Opens a URL in the default browser: xdg-open (Linux, BSD), open (macOS), `start` through cmd (Windows). Never
 * fails: a missing opener, a headless machine or an opener that exits non-zero only means the person opens the
 * printed URL themselves.
 */
import { spawn } from 'node:child_process';

/** The opener command for a platform. */
export function openerFor(platform: NodeJS.Platform, url: string): { cmd: string; args: string[] } {
  if (platform === 'darwin') return { cmd: 'open', args: [url] };
  if (platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""', url] };
  return { cmd: 'xdg-open', args: [url] };
}

/** Starts the opener detached; resolves true when it started (not whether a browser showed the page). */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const { cmd, args } = openerFor(platform, url);
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd, args, { stdio: 'ignore', detached: true, windowsHide: true });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}
