/** `iosdevice afc …`: files on the device's media partition (com.apple.afc). */
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson, type ParsedArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { connectAfc, openDevice } from '../../connect.ts';
import type { AfcClient } from '../../afc/client.ts';
import type { AfcFileInfo } from '../../afc/file-info.ts';
import type { TransferProgress, TransferResult } from '../../afc/transfer.ts';
import { trustPrinter } from '../trust-prompt.ts';

const usage = `usage: iosdevice afc <command> [options] [args]

Files on the iPhone's media partition (DCIM, Downloads, …) over AFC.

commands:
  ls [PATH]              list a directory (default /); -l for type, size and date
  stat PATH              file information (size, type, times, link target)
  cat PATH               write a file to stdout
  pull REMOTE [LOCAL]    copy a file or a tree to this computer (default: current directory)
  push LOCAL REMOTE      copy a file or a tree to the device
  rm PATH                remove a file or an empty directory; -r for a whole tree
  mkdir PATH             create a directory (and its parents)
  mv FROM TO             rename / move
  df                     device model and file system space

options:
  -l, --long             ls: long listing
  -r, --recursive        rm: remove a tree
  --concurrency N        pull: most files in flight (adaptive window, default 16); push: files at once (default 8)
${COMMON_OPTIONS_USAGE}
`;

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
  return `${n} B`;
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
      const r =
        sub === 'pull'
          ? await afc.pull(args[0]!, args[1] ?? (posix.basename(args[0]!) || '.'), opts)
          : await afc.push(args[0]!, args[1]!, opts);
      const secs = (performance.now() - t0) / 1000;
      if (json) writeJson(io, { ...r, seconds: secs });
      else pr.done(r, secs);
      return 0;
    }
    case 'rm': {
      const [path] = need(p, 1, 'PATH');
      if (p.flags.has('--recursive')) await afc.removeAll(path!, o);
      else await afc.remove(path!, o);
      return 0;
    }
    case 'mkdir': {
      const [path] = need(p, 1, 'PATH');
      await afc.mkdir(path!, o);
      return 0;
    }
    case 'mv': {
      const [from, to] = need(p, 2, 'FROM TO');
      await afc.rename(from!, to!, o);
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

const SUBS = new Set(['ls', 'stat', 'cat', 'pull', 'push', 'rm', 'mkdir', 'mv', 'df']);

const command: Command = {
  name: 'afc',
  summary: 'files on the device (ls, stat, cat, pull, push, rm, mkdir, mv, df)',
  usage,
  async run(args, io) {
    const p = parseCommonArgs(args, {
      flags: ['--long', '--recursive'],
      options: ['--concurrency'],
      aliases: { '-l': '--long', '-r': '--recursive' },
    });
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
