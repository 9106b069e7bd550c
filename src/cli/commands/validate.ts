/** `iosdevice validate`: checks that the stored pair record still opens a TLS session. */
import type { Command } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson } from '../common.ts';
import { openDevice, openLockdownSession } from '../../connect.ts';

const usage = `usage: iosdevice validate [options]

Checks the pairing: reads the stored pair record and starts (then stops) a TLS session with it. Fails with
ERR_DEVICE_NOT_PAIRED when there is no record and ERR_LOCKDOWN_INVALID_HOST_ID when the device no longer
trusts this computer (run \`iosdevice pair\`). Never pairs by itself.

options:
${COMMON_OPTIONS_USAGE}
`;

const command: Command = {
  name: 'validate',
  summary: 'check that the pair record still works (TLS session)',
  usage,
  async run(args, io) {
    const p = parseCommonArgs(args, { maxPositionals: 0 });
    const o = { signal: io.signal, timeoutMs: 30_000 };
    const dev = await openDevice({ ...deviceSelector(p.common), env: io.env }, o);
    const { lockdown, record } = await openLockdownSession(dev, { ...o, autoPair: false });
    try {
      await lockdown.stopSession(o);
    } finally {
      lockdown.close();
    }
    if (p.common.json) writeJson(io, { udid: dev.udid, valid: true, hostId: record?.HostID });
    else io.stdout.write(`SUCCESS: Validated pairing with device ${dev.udid}\n`);
    return 0;
  },
};

export default command;
