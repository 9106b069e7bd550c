/**
 * `iosdevice photos ui [DEST]`: the Image Capture-like page (src/ui/): serves it on 127.0.0.1, prints the URL (with
 * its token) and opens it in the default browser; runs until Ctrl-C / SIGTERM, which cancels an import cleanly.
 */
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.ts';
import { defaultDest } from '../ui/api.ts';
import { openBrowser } from '../ui/open-browser.ts';
import { startUiServer } from '../ui/server.ts';
import { userCacheDir } from '../ui/thumbs.ts';
import type { CliIO } from './command.ts';
import { parseCommonArgs } from './common.ts';

export const UI_USAGE = `usage: iosdevice photos ui [DEST] [--no-open] [--socket ADDR]

Opens a page in your browser to look at the iPhone's photos and import them, as Image Capture does:
attached devices (and "Tap Trust on your iPhone" while pairing), the whole library as thumbnails
grouped by day (backed-up ones marked), pick with click / shift-click / a day / select all, then
"Import Selected" or "Import All" with live progress and Cancel; settings: destination (DEST,
default ~/Pictures/iPhone), event name, split by date, delete after import; afterwards it asks
whether to keep or remove the imported photos on the phone (default keep).
The page is served on 127.0.0.1 at a random port; its URL carries a random token, and requests
without it, or from another Host or Origin, are refused. Thumbnails are cached in the user cache
folder ($XDG_CACHE_HOME/iosdevice/thumbs), never in DEST's photo folders.

options:
  --no-open        print the URL only (do not start a browser)
  --socket ADDR    usbmuxd address (default USBMUXD_SOCKET_ADDRESS, else the platform's)
Ctrl-C stops the server (a running import is cancelled: what was copied is kept).`;

/** Runs `photos ui`; resolves with the exit code when stopped. */
export async function runUiCommand(args: string[], io: CliIO): Promise<number> {
  const p = parseCommonArgs(args, { flags: ['--no-open'] });
  if (p.positionals.length > 1) throw new InvalidArgumentError('expected at most one DEST folder');
  if (p.common.usb) throw new InvalidArgumentError('photos ui talks to usbmuxd (--usb is not supported here)');
  const server = await startUiServer({
    dest: p.positionals[0] ?? defaultDest(),
    socket: p.common.socket,
    env: io.env,
    thumbsDir: join(userCacheDir(io.env), 'thumbs'),
  });
  io.stdout.write(`Photos page: ${server.url}\n(open it in your browser if it does not open by itself; Ctrl-C to stop)\n`);
  if (!p.flags.has('--no-open') && !(await openBrowser(server.url))) io.stderr.write('Could not start a browser: open the address above yourself.\n');
  if (!io.signal.aborted) await new Promise<void>((r) => io.signal.addEventListener('abort', () => r(), { once: true }));
  await server.close();
  return 0;
}
