/** `iosdevice afc …`: files on the device's media partition (com.apple.afc). */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson, type ParsedArgs } from '../common.ts';
import { errorCode, InvalidArgumentError } from '../../core/errors.ts';
import { AfcDirNotEmptyError } from '../../afc/errors.ts';
import { connectAfc, openDevice } from '../../connect.ts';
import type { AfcClient } from '../../afc/client.ts';
import type { AfcFileInfo } from '../../afc/file-info.ts';
import type { TransferProgress, TransferResult } from '../../afc/transfer.ts';
import { trustPrinter } from '../trust-prompt.ts';

const OPTIONS = `options:
  -l, --long             ls: long listing
  -r, --recursive        rm: remove a tree
  --concurrency N        pull: most files in flight (adaptive window, default 16); push: files at once (default 8)
${COMMON_OPTIONS_USAGE}`;

/** Where `afc pull` puts things: as `cp -r` does. Shown by `afc --help` and `afc pull --help`. */
const PULL_RULES = `  afc pull /DCIM            -> ./DCIM/…              (the folder itself, into the current folder)
  afc pull /DCIM .          -> ./DCIM/…              (same: LOCAL is an existing folder)
  afc pull /DCIM backup     -> backup/DCIM/…         when backup/ exists
  afc pull /DCIM newdir     -> newdir/100APPLE/…     when newdir does not exist: it becomes the copy of /DCIM
  afc pull /DCIM/IMG_1.HEIC dir   -> dir/IMG_1.HEIC  (a file into an existing folder)
  afc pull /DCIM/IMG_1.HEIC a.heic -> ./a.heic       (otherwise LOCAL is the file's new name)
  Files already there are replaced; nothing else in LOCAL is removed.`;

const usage = `usage: iosdevice afc <command> [options] [args]

Files on the iPhone's media partition (DCIM, Downloads, …) over AFC.

commands:
  ls [PATH]              list a directory (default /); -l for type, size and date
  stat PATH              file information (size, type, times, link target)
  cat PATH               write a file to stdout
  pull REMOTE [LOCAL]    copy a file or a tree to this computer, as cp -r does (default LOCAL: the current folder)
  push LOCAL REMOTE      copy a file or a tree to the device
  rm PATH                remove a file or an empty directory; -r for a whole tree
  mkdir PATH             create a directory (and its parents)
  mv FROM TO             rename / move
  df                     device model and file system space

Run \`iosdevice afc <command> --help\` for one command.

pull destinations:
${PULL_RULES}

${OPTIONS}
`;

/** `afc <sub> --help`: the sub-command's synopsis, what it does, what --json prints. */
const SUB_USAGE: Record<string, string> = {
  ls: `usage: iosdevice afc ls [PATH] [-l] [--json]

Lists a directory on the device (default /), names sorted. -l: type (d, -, l), size, modification time, and
the target of a symlink. --json: an array of {name, path, type, size, mtime, …}.`,
  stat: `usage: iosdevice afc stat PATH [--json]

File information: type, size, blocks, links, modification and birth times, symlink target. --json adds the
device's raw fields.`,
  cat: `usage: iosdevice afc cat PATH

Writes the file's bytes to stdout.`,
  pull: `usage: iosdevice afc pull REMOTE [LOCAL] [--concurrency N] [--json]

Copies a file or a folder tree from the device to this computer, where \`cp -r REMOTE LOCAL\` would put it
(LOCAL defaults to the current folder). Files are written as NAME.part and renamed when complete; modification
times are kept; symlinks are recreated. Progress on stderr; --json prints {files, dirs, links, bytes, seconds, to}.

${PULL_RULES}

  --concurrency N   most files in flight (adaptive window, default 16)`,
  push: `usage: iosdevice afc push LOCAL REMOTE [--concurrency N] [--json]

Copies a local file or folder tree to REMOTE on the device (REMOTE is the copy). --json prints
{files, dirs, links, bytes, seconds}.

  --concurrency N   files at once (default 8)`,
  rm: `usage: iosdevice afc rm PATH [-r] [--json]

Removes a file or an empty folder. A folder that is not empty is refused (ERR_AFC_DIR_NOT_EMPTY) unless -r is
given, which removes it with everything in it. --json prints {removed: PATH, recursive}.`,
  mkdir: `usage: iosdevice afc mkdir PATH [--json]

Creates a folder and any missing parents (as the device does). --json prints {created: PATH}.`,
  mv: `usage: iosdevice afc mv FROM TO [--json]

Renames or moves a file or folder on the device. --json prints {from, to}.`,
  df: `usage: iosdevice afc df [--json]

Device model, total and free space of the media partition, block size.`,
};

function infoJson(path: string, i: AfcFileInfo): Record<string, unknown> {
  return {
    path,
    type: i.type,
    size: i.size,
    blocks: i.blocks,
    nlink: i.nlink,
    mtime: i.mtime.toISOString(),
    birthtime: i.birthtime.toISOString(),
    mtimeNs: i.mtimeNs.toString(),
    birthtimeNs: i.birthtimeNs.toString(),
    ...(i.linkTarget !== undefined ? { linkTarget: i.linkTarget } : {}),
  };
}

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return Number.isInteger(n) ? `${n} B` : `${n.toFixed(1)} B`;
}

/** Progress on stderr: one rewritten line on a TTY, otherwise a plain line per finished file. */
function progressPrinter(io: CliIO, verb: string): { onProgress: (p: TransferProgress) => void; done: (r: TransferResult, secs: number) => void } {
  const tty = io.stderr.isTTY === true;
  let last = 0;
  let files = -1;
  const line = (p: TransferProgress): string => {
    const pct = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 100;
    return `${verb} ${p.files}/${p.totalFiles} files, ${human(p.bytes)} of ${human(p.totalBytes)} (${pct}%)`;
  };
  return {
    onProgress(p) {
      const now = Date.now();
      if (tty) {
        if (now - last < 100) return;
        last = now;
        io.stderr.write(`\r\x1b[K${line(p)}`);
      } else if (p.files !== files) {
        files = p.files;
        io.stderr.write(`${line(p)}\n`);
      }
    },
    done(r, secs) {
      if (tty) io.stderr.write('\r\x1b[K');
      io.stderr.write(`${verb} ${r.files} files, ${r.dirs} directories, ${r.links} links, ${human(r.bytes)} in ${secs.toFixed(1)} s (${human(r.bytes / Math.max(secs, 1e-3))}/s)\n`);
    },
  };
}

function need(p: ParsedArgs, n: number, what: string): string[] {
  const args = p.positionals.slice(1);
  if (args.length < n) throw new InvalidArgumentError(`afc ${p.positionals[0]}: missing ${what}`);
  if (args.length > Math.max(n, what.includes('[') ? n + 1 : n)) throw new InvalidArgumentError(`afc ${p.positionals[0]}: unexpected argument "${args.at(-1)}"`);
  return args;
}

async function localStat(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}

/**
 * The `pull` destination by cp -r rules: REMOTE's own name inside LOCAL when LOCAL is an existing folder (or not
 * given: the current folder), else LOCAL itself (a folder is created as the copy, a file takes that name). The
 * device's root has no name: its contents go into LOCAL.
 * @throws InvalidArgumentError when a folder would replace a file, or LOCAL's parent folder does not exist
 */
async function pullTarget(afc: AfcClient, remote: string, local: string | undefined, o: { signal: AbortSignal }): Promise<string> {
  const name = posix.basename(posix.normalize(remote));
  const dest = local ?? '.';
  const st = await localStat(dest);
  if (st?.isDirectory()) return name && name !== '.' ? join(dest, name) : dest;
  const info = await afc.stat(remote, o); // the device's answer first: a missing REMOTE says so
  if (st && info.type === 'dir') throw new InvalidArgumentError(`afc pull: ${dest} exists and is not a folder; cannot copy the folder ${remote} over it`);
  const parent = dirname(resolve(dest));
  if (!(await localStat(parent))?.isDirectory()) throw new InvalidArgumentError(`afc pull: folder ${parent} does not exist`);
  return dest;
}

async function runSub(afc: AfcClient, p: ParsedArgs, io: CliIO): Promise<number> {
  const sub = p.positionals[0];
  const o = { signal: io.signal };
  const json = p.common.json;
  switch (sub) {
    case 'ls': {
      const dir = p.positionals[1] ?? '/';
      const names = (await afc.readdir(dir, o)).sort();
      if (!json && !p.flags.has('--long')) {
        io.stdout.write(names.map((n) => `${n}\n`).join(''));
        return 0;
      }
      const infos = await Promise.all(names.map((n) => afc.stat(posix.join(dir, n), o).catch(() => undefined)));
      if (json) {
        writeJson(io, names.map((n, i) => (infos[i] ? { name: n, ...infoJson(posix.join(dir, n), infos[i]) } : { name: n })));
        return 0;
      }
      for (const [i, n] of names.entries()) {
        const s = infos[i];
        const t = s ? { file: '-', dir: 'd', symlink: 'l' }[s.type as string] ?? '?' : '?';
        io.stdout.write(`${t} ${String(s?.size ?? '').padStart(12)} ${s ? s.mtime.toISOString().slice(0, 19).replace('T', ' ') : ''.padEnd(19)} ${n}${s?.linkTarget ? ` -> ${s.linkTarget}` : ''}\n`);
      }
      return 0;
    }
    case 'stat': {
      const [path] = need(p, 1, 'PATH');
      const i = await afc.stat(path!, o);
      if (json) writeJson(io, { ...infoJson(path!, i), raw: { ...i.raw } });
      else {
        const j = infoJson(path!, i);
        for (const [k, v] of Object.entries(j)) io.stdout.write(`${k}: ${String(v)}\n`);
      }
      return 0;
    }
    case 'cat': {
      const [path] = need(p, 1, 'PATH');
      await pipeline(afc.createReadStream(path!, { signal: io.signal }), io.stdout as Writable, { end: false });
      return 0;
    }
    case 'pull':
    case 'push': {
      const args = p.positionals.slice(1);
      if (args.length < (sub === 'pull' ? 1 : 2) || args.length > 2) throw new InvalidArgumentError(`afc ${sub}: expected ${sub === 'pull' ? 'REMOTE [LOCAL]' : 'LOCAL REMOTE'}`);
      const conc = p.options.get('--concurrency');
      const concurrency = conc === undefined ? undefined : Number(conc);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)) throw new InvalidArgumentError('--concurrency must be 1..64');
      const pr = progressPrinter(io, sub === 'pull' ? 'pulled' : 'pushed');
      const t0 = performance.now();
      const opts = { ...(concurrency !== undefined ? { concurrency } : {}), signal: io.signal, onProgress: pr.onProgress };
      const to = sub === 'pull' ? await pullTarget(afc, args[0]!, args[1], o) : args[1]!;
      const r = sub === 'pull' ? await afc.pull(args[0]!, to, opts) : await afc.push(args[0]!, to, opts);
      const secs = (performance.now() - t0) / 1000;
      if (json) writeJson(io, { ...r, seconds: secs, ...(sub === 'pull' ? { to } : {}) });
      else pr.done(r, secs);
      return 0;
    }
    case 'rm': {
      const [path] = need(p, 1, 'PATH');
      const recursive = p.flags.has('--recursive');
      if (recursive) await afc.removeAll(path!, o);
      else {
        try {
          await afc.remove(path!, o);
        } catch (e) {
          // status 1 is all the device says for a folder with something in it
          if (errorCode(e) === 'ERR_AFC_UNKNOWN_ERROR' && (await afc.stat(path!, o).catch(() => undefined))?.type === 'dir') {
            throw new AfcDirNotEmptyError(path!, { cause: e });
          }
          throw e;
        }
      }
      if (json) writeJson(io, { removed: path, recursive });
      return 0;
    }
    case 'mkdir': {
      const [path] = need(p, 1, 'PATH');
      await afc.mkdir(path!, o);
      if (json) writeJson(io, { created: path });
      return 0;
    }
    case 'mv': {
      const [from, to] = need(p, 2, 'FROM TO');
      await afc.rename(from!, to!, o);
      if (json) writeJson(io, { from, to });
      return 0;
    }
    case 'df': {
      const d = await afc.deviceInfo(o);
      if (json) writeJson(io, { model: d.model, totalBytes: d.totalBytes, freeBytes: d.freeBytes, blockSize: d.blockSize, raw: { ...d.raw } });
      else {
        io.stdout.write(`Model: ${d.model ?? '?'}\nTotal: ${human(d.totalBytes)} (${d.totalBytes} bytes)\nFree:  ${human(d.freeBytes)} (${d.freeBytes} bytes)\n`);
        io.stdout.write(`Used:  ${human(d.totalBytes - d.freeBytes)}\nBlock size: ${d.blockSize}\n`);
      }
      return 0;
    }
    default:
      throw new InvalidArgumentError(sub === undefined ? 'afc: missing command (ls, stat, cat, pull, push, rm, mkdir, mv, df)' : `afc: unknown command "${sub}"`);
  }
}

const SPEC = { flags: ['--long', '--recursive'], options: ['--concurrency'], aliases: { '-l': '--long', '-r': '--recursive' } };

const SUBS = new Set(['ls', 'stat', 'cat', 'pull', 'push', 'rm', 'mkdir', 'mv', 'df']);

const command: Command = {
  name: 'afc',
  summary: 'files on the device (ls, stat, cat, pull, push, rm, mkdir, mv, df)',
  usage,
  usageFor(args) {
    let sub: string | undefined;
    try {
      sub = parseCommonArgs(args.filter((a) => a !== '--help' && a !== '-h'), SPEC).positionals[0];
    } catch {
      sub = args.find((a) => !a.startsWith('-'));
    }
    const text = sub === undefined ? undefined : SUB_USAGE[sub];
    return text === undefined ? undefined : `${text}\n\ncommon options:\n${COMMON_OPTIONS_USAGE}\n`;
  },
  async run(args, io) {
    const p = parseCommonArgs(args, SPEC);
    const sub = p.positionals[0];
    if (sub === undefined) throw new InvalidArgumentError('afc: missing command (ls, stat, cat, pull, push, rm, mkdir, mv, df)');
    if (!SUBS.has(sub)) throw new InvalidArgumentError(`afc: unknown command "${sub}"`);
    const dev = await openDevice({ ...deviceSelector(p.common), env: io.env }, { signal: io.signal, timeoutMs: 30_000 });
    const afc = await connectAfc(dev, { signal: io.signal, timeoutMs: 30_000, onTrustEvent: trustPrinter(io), pairTimeoutMs: 120_000 });
    try {
      return await runSub(afc, p, io);
    } finally {
      afc.close();
    }
  },
};

export default command;
