/** `iosdevice pair`: the "Trust this computer" flow; saves the pair record where usbmuxd (or the per-user store) keeps it. */
import type { Command } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson } from '../common.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { openDevice } from '../../connect.ts';
import { LockdownClient } from '../../lockdown/client.ts';
import { LOCKDOWN_PORT } from '../../lockdown/protocol.ts';
import { pairAndSave } from '../../pairing/trust.ts';
import { trustPrinter } from '../trust-prompt.ts';

const usage = `usage: iosdevice pair [options]

Pairs this computer with the device: shows "Trust this computer?" on the iPhone, waits for the tap,
checks the new pairing with a TLS session and saves the pair record (through usbmuxd when it runs).

options:
  --timeout SEC   give up after SEC seconds without an answer on the device (default 120)
${COMMON_OPTIONS_USAGE}
`;

/** Parses `--timeout SEC` (seconds, > 0). @throws InvalidArgumentError ERR_INVALID_ARG */
export function timeoutMs(v: string | undefined, defSeconds: number): number {
  if (v === undefined) return defSeconds * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new InvalidArgumentError(`--timeout must be a number of seconds in (0, 86400], got "${v}"`);
  return Math.round(n * 1000);
}

const command: Command = {
  name: 'pair',
  summary: 'pair with the device ("Trust this computer") and save the pair record',
  usage,
  async run(args, io) {
    const p = parseCommonArgs(args, { maxPositionals: 0, options: ['--timeout'] });
    const pairTimeoutMs = timeoutMs(p.options.get('--timeout'), 120);
    const dev = await openDevice({ ...deviceSelector(p.common), env: io.env }, { signal: io.signal, timeoutMs: 10_000 });
    if (!p.common.json) io.stderr.write(`Pairing with ${dev.udid}…\n`);
    const lockdown = new LockdownClient(await dev.connect(LOCKDOWN_PORT, { signal: io.signal, timeoutMs: 10_000 }), { env: io.env });
    try {
      const record = await pairAndSave(lockdown, dev.pairRecords, dev.udid, {
        deviceId: dev.deviceId,
        onEvent: trustPrinter(io),
        signal: io.signal,
        timeoutMs: pairTimeoutMs,
      });
      // Prove the new record works: a TLS session, as every later command will start one.
      await lockdown.startSession(record, { signal: io.signal, timeoutMs: 30_000 });
      await lockdown.stopSession({ signal: io.signal, timeoutMs: 30_000 });
      if (p.common.json) writeJson(io, { udid: dev.udid, paired: true, hostId: record.HostID, store: dev.pairRecords.kind });
      else io.stdout.write(`SUCCESS: Paired with device ${dev.udid}\n`);
      return 0;
    } finally {
      lockdown.close();
    }
  },
};

export default command;
