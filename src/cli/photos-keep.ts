/**
 * iPhoto's question after an import, for `iosdevice photos backup`: keep the imported photos on the phone or
 * remove them. Asked only when a person is at a terminal (stdin and stdout are TTYs, no --json) and the run
 * completed with something copied; the answer defaults to keep. `--yes` removes without asking (scripts);
 * without a TTY and without `--yes` nothing is ever removed. Removal goes through the engine's
 * {@link removeImported}: only files whose copy verifies and which are unchanged on the phone leave it.
 *
 * On a phone with a Photos library (PhotoData/Photos.sqlite), AFC deletion leaves broken entries in the Photos
 * app, so, as with --delete-after-import, nothing is offered for removal there unless
 * --delete-even-if-photos-breaks is given.
 */
import { createInterface } from 'node:readline';
import { errorCode } from '../core/errors.ts';
import type { BackupSummary } from '../photos/backup.ts';
import { DB_PATH } from '../photos/library/device-read.ts';
import { PHOTOS_DB_WARNING } from '../photos/library/safe-delete.ts';
import { removeImported, verifyImported, type RemoveSummary } from '../photos/remove.ts';
import type { PhotoDevice } from '../photos/source.ts';
import type { CliIO } from './command.ts';

/** How the question is answered: asked at a terminal, answered yes by a flag, or not asked at all. */
export type RemoveMode = 'ask' | 'yes' | 'never';

/** The device paths a run left backed up (copied, repaired or already there): the candidates for removal. */
export class ImportedFiles {
  readonly remotes: string[] = [];
  /** Feed every BackupEvent here. */
  onEvent(e: { type: string; status?: string; remote?: string }): void {
    if (e.type === 'file' && (e.status === 'copied' || e.status === 'repaired' || e.status === 'skipped') && e.remote !== undefined) this.remotes.push(e.remote);
  }
}

/** True when a person can be asked: stdin and stdout are terminals. */
export function canAsk(io: Pick<CliIO, 'stdout' | 'stdin'>): boolean {
  return io.stdin?.isTTY === true && io.stdout.isTTY === true;
}

/** Whether the run is one after which the question makes sense: it completed and copied something new. */
export function offerRemoval(s: BackupSummary): boolean {
  return !s.dryRun && s.status === 'complete' && s.copied > 0;
}

/** True when the phone has a Photos library database (unknown counts as yes: the safe side). */
async function hasPhotosDatabase(device: PhotoDevice, signal: AbortSignal): Promise<boolean> {
  let afc;
  try {
    afc = await device.openAfc({ signal, timeoutMs: 30_000 });
    await afc.stat(DB_PATH, { signal, timeoutMs: 30_000 });
    return true;
  } catch (e) {
    return errorCode(e) !== 'ERR_AFC_OBJECT_NOT_FOUND';
  } finally {
    afc?.close();
  }
}

/**
 * `--yes`: removes the verified imported files now and folds the result into the summary (`deleted`,
 * `keptOnDevice`, `failed`), so that the summary line (and the --json summary object) tell what left the phone.
 */
export async function removeIntoSummary(device: PhotoDevice, s: BackupSummary, files: ImportedFiles, o: { evenIfPhotosBreaks: boolean }, io: CliIO): Promise<void> {
  if (!offerRemoval(s)) return;
  if (!o.evenIfPhotosBreaks && (await hasPhotosDatabase(device, io.signal))) {
    s.deleteSkipped = PHOTOS_DB_WARNING;
    return;
  }
  const v = await verifyImported(s.dest, device.udid, files.remotes, io.signal);
  const r = await removeImported({ dest: s.dest, device, remotes: v.verified, signal: io.signal });
  mergeRemoval(s, r);
}

function mergeRemoval(s: BackupSummary, r: RemoveSummary): void {
  s.deleted.push(...r.deleted);
  s.failed.push(...r.failed);
  for (const k of r.kept) {
    if (k.reason === 'changed-on-device' || k.reason === 'content-changed' || k.reason === 'vanished') s.keptOnDevice.push({ remote: k.remote, reason: k.reason, detail: k.reason.replace(/-/g, ' ') });
  }
  if (r.failed.length > 0 && s.status === 'complete') s.status = 'partial';
}

/** Reads one line from the terminal; undefined when the input ends or the signal fires (Ctrl-C). */
function askLine(io: CliIO, question: string): Promise<string | undefined> {
  const input = io.stdin!;
  // terminal: false keeps the tty in cooked mode, so Ctrl-C stays a SIGINT (main() aborts io.signal)
  const rl = createInterface({ input, output: io.stdout, terminal: false });
  return new Promise<string | undefined>((resolve) => {
    let settled = false;
    const done = (answer: string | undefined): void => {
      if (settled) return; // rl.close() below emits 'close' synchronously
      settled = true;
      resolve(answer);
      io.signal.removeEventListener('abort', onAbort);
      rl.close();
      (input as { pause?: () => void }).pause?.();
    };
    const onAbort = (): void => done(undefined);
    io.signal.addEventListener('abort', onAbort, { once: true });
    rl.once('close', () => done(undefined));
    rl.once('line', (l) => done(l));
    io.stdout.write(question);
  });
}

/**
 * After an interactive import: lists how many imported files are verified and asks
 * `Remove N imported photos from the iPhone? [y/N]`; removes them on y/yes. Resolves with the removal summary,
 * or undefined when nothing was removed (kept, not asked, nothing verified).
 */
export async function askKeepOrRemove(device: PhotoDevice, s: BackupSummary, files: ImportedFiles, o: { evenIfPhotosBreaks: boolean }, io: CliIO): Promise<RemoveSummary | undefined> {
  if (!offerRemoval(s) || !canAsk(io)) return undefined;
  if (!o.evenIfPhotosBreaks && (await hasPhotosDatabase(device, io.signal))) {
    io.stdout.write(`kept the photos on the iPhone: it has a Photos library. ${PHOTOS_DB_WARNING}\n`);
    return undefined;
  }
  const v = await verifyImported(s.dest, device.udid, files.remotes, io.signal);
  const n = v.verified.length;
  const notVerified = v.notVerified.length > 0 ? `; ${v.notVerified.length} not verified, kept on the iPhone` : '';
  io.stdout.write(`${n} of ${files.remotes.length} imported file(s) verified in the backup (size and SHA-256 match)${notVerified}\n`);
  if (n === 0) return undefined;
  const answer = await askLine(io, `Remove ${n} imported photos from the iPhone? [y/N] `);
  if (answer === undefined || !/^\s*y(es)?\s*$/i.test(answer)) {
    if (answer === undefined) io.stdout.write('\n');
    io.stdout.write(`kept ${n} photo(s) on the iPhone\n`);
    return undefined;
  }
  const r = await removeImported({ dest: s.dest, device, remotes: v.verified, signal: io.signal });
  io.stdout.write(`removed ${r.deleted.length} photo(s) from the iPhone${r.kept.length + r.failed.length > 0 ? `; kept ${r.kept.length + r.failed.length} (changed on the phone since the copy, gone, or failed)` : ''}\n`);
  for (const f of r.failed) io.stdout.write(`  not removed: ${f.remote} [${f.code}] ${f.reason}\n`);
  mergeRemoval(s, r);
  return r;
}
