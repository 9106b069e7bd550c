/** `iosdevice decode FILE`: usbmux / lockdown / AFC messages of a pcapng capture (TLS decrypted with a key log). */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command, CliIO } from '../command.ts';
import { parseCommonArgs } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { decodeCapture } from '../../capture/decode.ts';
import { eventJson, eventLine, streamLine } from '../../capture/format.ts';

const usage = `usage: iosdevice decode FILE.pcapng [--keylog FILE] [--port N] [--stream N] [--json]

Reassembles every TCP connection carrying usbmuxd traffic and prints its messages: usbmux requests and replies,
the switch to device traffic after Connect, lockdown requests and replies, the TLS boundary after StartSession,
the lockdown frames inside TLS when secrets are available, and AFC operations (opcode, paths, sizes, status).

TLS secrets (NSS key log) come from the capture's Decryption Secrets Blocks, from FILE.keys beside the capture,
and from --keylog FILE. TLS 1.2 AES-GCM and TLS 1.3 AES-GCM/ChaCha20 sessions are decrypted.

options:
  --keylog FILE   extra NSS key log (SSLKEYLOGFILE format)
  --port N        only TCP connections with this port (default: every connection that starts with a usbmux header)
  --stream N      only this stream (Wireshark's tcp.stream number)
  --json          JSON Lines: one object per event (stream summaries have "layer": "stream")
`;

/** Reads a file named by the user. @throws InvalidArgumentError (ERR_INVALID_ARG) when it cannot be read. */
async function readUserFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return Number(v);
}

const command: Command = {
  name: 'decode',
  summary: 'decode a pcapng capture of usbmuxd traffic (usbmux, lockdown incl. TLS with a key log, AFC)',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { options: ['--keylog', '--port', '--stream'] });
    if (p.positionals.length !== 1) throw new InvalidArgumentError('decode needs exactly one capture file');
    if (p.common.socket !== undefined || p.common.udid !== undefined || p.common.usb) throw new InvalidArgumentError('decode reads a file: --socket, -u/--udid and --usb do not apply');
    const file = p.positionals[0]!;
    const port = intOption(p.options.get('--port'), '--port');
    const only = intOption(p.options.get('--stream'), '--stream');
    const keys: Buffer[] = [];
    if (existsSync(`${file}.keys`)) keys.push(await readUserFile(`${file}.keys`, 'key log'));
    const kl = p.options.get('--keylog');
    if (kl !== undefined) keys.push(await readUserFile(kl, 'key log'));
    const decoded = decodeCapture(await readUserFile(file, 'capture'), { ...(keys.length ? { keylog: Buffer.concat(keys.map((k) => Buffer.concat([k, Buffer.from('\n')]))) } : {}), ...(port !== undefined ? { port } : {}) });
    const out = (s: string): void => void io.stdout.write(`${s}\n`);
    for (const s of decoded.streams) {
      if (only !== undefined && s.stream !== only) continue;
      if (p.common.json) {
        const { events, ...rest } = s;
        out(JSON.stringify({ layer: 'stream', ...rest }));
        for (const e of events) out(JSON.stringify(eventJson(e)));
      } else {
        out(streamLine(s));
        for (const e of s.events) out(eventLine(e));
      }
    }
    const summary = `${decoded.streams.length} usbmux connections${decoded.skipped ? `, ${decoded.skipped} other TCP connections skipped` : ''}${decoded.truncated ? ', capture truncated' : ''}`;
    if (p.common.json) out(JSON.stringify({ layer: 'summary', streams: decoded.streams.length, skipped: decoded.skipped, truncated: decoded.truncated, keylogEntries: decoded.keylogEntries }));
    else out(`-- ${summary}`);
    return 0;
  },
};

export default command;
