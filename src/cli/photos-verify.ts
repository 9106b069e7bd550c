/**
 * `iosdevice photos verify DEST [--repair]`: runs the engine's verifyDest (src/photos/verify.ts) and renders
 * its outcome: one line per problem and a summary (text), or JSON lines (`--json`: each event, progress
 * throttled, then `{"type":"summary",…}`). Exit status: 0 clean, 1 problems found (or left after --repair), 4 DEST
 * cannot be written for --repair (a DestError, mapped by main.ts).
 */
import { InvalidArgumentError } from '../core/errors.ts';
import { verifyDest, type VerifyEvent, type VerifyReport } from '../photos/verify.ts';
import type { CliIO } from './command.ts';
import { deviceSelector, parseCommonArgs } from './common.ts';
import { formatBar, formatBytes } from './photos-progress.ts';
import { openPhotoDevice } from './photos-run.ts';

export const VERIFY_USAGE = `usage: iosdevice photos verify DEST [--repair] [options]

Re-hashes every file DEST/.iosdevice/manifest.jsonl records (SHA-256) and reports
  missing  recorded, but not in DEST (or a folder/symlink stands there)
  changed  its size or content differs from the record (also a same-size corruption, which a backup
           run does not notice: it compares sizes only)
  extra    in DEST but not recorded (never touched)
Nothing is written unless --repair is given.

options:
  --repair   fetch each missing or changed file again from the device it came from (connect it; pick
             it with -u when several are attached) and put it back under its original name: the new
             bytes must match the recorded SHA-256, the swap is atomic (never a partial file, never
             over another file), and a damaged file is kept in DEST/.iosdevice/damaged/
  --json     one JSON object per line: events, then {"type":"summary",...}
  --socket ADDR, -u UDID, --usb   the device to repair from (as for photos backup)

exit status: 0 every recorded file is as recorded and nothing extra; 1 problems found (or left after
--repair); 2 bad arguments; 3 the device for --repair cannot be reached; 4 DEST cannot be written for
--repair (read-only, no permission, full: nothing half-written is left, repairs made so far stay)`;

/** One-line description of the report's outcome, and the hints. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines: string[] = [];
  const took = `${(r.elapsedMs / 1000).toFixed(1)} s`;
  lines.push(`${r.ok} of ${r.files} recorded file(s) as recorded (${formatBytes(r.bytesHashed)} hashed in ${took}); ` +
    `${r.missing.length} missing, ${r.changed.length} changed, ${r.extra.length} extra`);
  if (r.repaired.length > 0) lines.push(`repaired ${r.repaired.length} file(s) under their original names`);
  if (r.repaired.some((p) => p.keptAside)) lines.push('the damaged files are kept in DEST/.iosdevice/damaged/ (delete them once satisfied)');
  const left = r.unrepaired.filter((p) => p.code !== 'ERR_PHOTOS_VERIFY');
  for (const p of left) lines.push(`  not repaired: ${p.local} [${p.code}] ${p.reason}`);
  if (r.unrepaired.some((p) => p.code === 'ERR_PHOTOS_VERIFY')) lines.push('to restore them: connect the device and run `iosdevice photos verify DEST --repair`');
  lines.push(r.clean ? 'DEST is clean' : 'DEST has problems (see above)');
  return lines.join('\n');
}

/** Runs the sub-command; resolves with the exit code. */
export async function runVerifyCommand(args: string[], io: CliIO): Promise<number> {
  const p = parseCommonArgs(args, { flags: ['--repair'] });
  if (p.positionals.length !== 1) throw new InvalidArgumentError('expected exactly one DEST folder');
  const json = p.common.json;
  const repair = p.flags.has('--repair');
  const device = repair ? await openPhotoDevice(deviceSelector(p.common), io, json) : undefined;
  const out = io.stdout;
  const tty = !json && !!out.isTTY;
  let last = 0;
  let barShown = false;
  const t0 = performance.now();
  const line = (s: string): void => {
    if (barShown) out.write('\r\x1b[K');
    out.write(s + '\n');
    barShown = false;
  };
  const onEvent = (e: VerifyEvent): void => {
    const now = performance.now();
    if (e.type === 'progress') {
      const every = tty ? 100 : json ? 500 : 2000;
      if (now - last < every && e.filesDone !== e.filesTotal) return;
      last = now;
      if (json) out.write(JSON.stringify(e) + '\n');
      else if (tty) {
        out.write(`\r\x1b[K${formatBar({ ...e, elapsedMs: now - t0 }, out.columns || 80)}`);
        barShown = true;
      }
      return;
    }
    if (json) out.write(JSON.stringify(e) + '\n');
    else if (e.type === 'verify-plan') line(`verifying ${e.files} recorded file(s), ${formatBytes(e.bytes)}`);
    else if (e.type === 'verify-file') line(`${e.status}: ${e.local} (${e.detail})`);
  };
  const report = await verifyDest({ dest: p.positionals[0]!, repair, ...(device ? { device } : {}), signal: io.signal, onEvent });
  if (barShown) out.write('\n');
  if (json) out.write(JSON.stringify({ type: 'summary', ...report }) + '\n');
  else out.write(formatVerifyReport(report) + '\n');
  return report.clean ? 0 : 1;
}
