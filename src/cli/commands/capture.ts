/** `iosdevice capture`: a recording usbmuxd proxy writing pcapng (one synthetic TCP stream per client connection). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Command, CliIO } from '../command.ts';
import { parseCommonArgs, writeJson } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { formatMuxAddress, parseMuxAddress, resolveUsbmuxAddress } from '../../usbmux/address.ts';
import { startRecordingProxy } from '../../capture/proxy.ts';
import { CaptureRecorder } from '../../capture/recorder.ts';

const usage = `usage: iosdevice capture --out FILE.pcapng [--listen ADDR] [--upstream ADDR] [--keylog FILE] [--ns] [--json]

Records usbmuxd traffic: listens where clients expect usbmuxd, forwards every connection to the real usbmuxd (or
the emulator) and writes each one as its own TCP stream (127.0.0.1:<port> → 127.0.0.1:27015) into FILE.pcapng.
Point clients at the printed address (USBMUXD_SOCKET_ADDRESS=…). Stop with Ctrl-C; the file is then completed.
A failure to write the recording (e.g. disk full) closes that connection, ends the capture and exits 1.

options:
  --out FILE        pcapng file to write (created 0600)
  --listen ADDR     UNIX:/path, /path or host:port (default: a socket in a new temp folder)
  --upstream ADDR   the daemon to forward to (default: --socket, $USBMUXD_SOCKET_ADDRESS, or /var/run/usbmuxd)
  --keylog FILE     NSS key log written by the TLS endpoints (e.g. SSLKEYLOGFILE of our client, the emulator's
                    key log): embedded into the capture as a Decryption Secrets Block when the capture stops
  --ns              nanosecond timestamps (default microseconds)
  --socket ADDR     same as --upstream
  --json            JSON lines: {"event":"recording","address",…} at start, {"event":"stopped","connections"} at the end
`;

/** Why `address` does not accept a connection right now (undefined when it does). */
function unreachable(address: string): Promise<string | undefined> {
  const a = parseMuxAddress(address);
  return new Promise((resolve) => {
    const s = a.kind === 'unix' ? connect(a.path) : connect(a.port, a.host);
    const timer = setTimeout(() => (s.destroy(), resolve('no answer within 2 s')), 2000);
    s.once('connect', () => (clearTimeout(timer), s.destroy(), resolve(undefined)));
    s.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(e.code ?? e.message)));
  });
}

const command: Command = {
  name: 'capture',
  summary: 'record usbmuxd traffic to pcapng through a proxy socket',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    const p = parseCommonArgs(args, { maxPositionals: 0, options: ['--out', '--listen', '--upstream', '--keylog'], flags: ['--ns'] });
    const out = p.options.get('--out');
    if (!out) throw new InvalidArgumentError('capture needs --out FILE.pcapng');
    if (p.common.udid !== undefined || p.common.usb) throw new InvalidArgumentError('capture records every device on the daemon: -u/--udid and --usb do not apply');
    const upstream = formatMuxAddress(resolveUsbmuxAddress(p.options.get('--upstream') ?? p.common.socket, io.env));
    let tmp: string | undefined;
    let listen = p.options.get('--listen');
    if (!listen) {
      tmp = mkdtempSync(join(tmpdir(), 'iosdevice-capture-'));
      listen = `UNIX:${join(tmp, 'usbmuxd')}`;
    }
    let recorder: CaptureRecorder;
    try {
      recorder = new CaptureRecorder({ file: out, resolution: p.flags.has('--ns') ? 'ns' : 'us' });
    } catch (e) {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      throw new InvalidArgumentError(`cannot write ${out}: ${(e as Error).message}`, { cause: e });
    }
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let proxy;
    try {
      // a failure to record (disk full…) ends the capture: the file would silently miss traffic otherwise
      proxy = await startRecordingProxy({ listen, upstream, recorder, onError: () => stop() });
    } catch (e) {
      recorder.finish();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    if (p.common.json) writeJson(io, { event: 'recording', upstream, out, address: proxy.address });
    else io.stdout.write(`recording ${upstream} into ${out}\nUSBMUXD_SOCKET_ADDRESS=${proxy.address}\n`);
    const down = await unreachable(upstream);
    if (down) io.stderr.write(`warning: usbmuxd at ${upstream} is not reachable now (${down}); clients will fail until it runs\n`);
    const onAbort = (): void => stop();
    if (io.signal.aborted) stop();
    else io.signal.addEventListener('abort', onAbort, { once: true });
    await stopped;
    io.signal.removeEventListener('abort', onAbort);
    await proxy.close();
    const kl = p.options.get('--keylog');
    if (kl && existsSync(kl)) recorder.addKeylog(await readFile(kl));
    recorder.finish();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (p.common.json) writeJson(io, { event: 'stopped', out, connections: proxy.connections });
    else io.stdout.write(`${proxy.connections} connections recorded in ${out}\n`);
    if (proxy.failure) throw proxy.failure;
    return 0;
  },
};

export default command;
