/** `iosdevice unpair`: the device forgets this computer, then the pair record is deleted. */
import type { Command } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson } from '../common.ts';
import { openDevice } from '../../connect.ts';
import { NotPairedError } from '../../provider.ts';
import { LockdownClient } from '../../lockdown/client.ts';
import { LockdownError } from '../../lockdown/errors.ts';
import { LOCKDOWN_PORT } from '../../lockdown/protocol.ts';
import { unpairDevice } from '../../pairing/trust.ts';

const usage = `usage: iosdevice unpair [options]

Tells the device to forget this computer (lockdown Unpair), then deletes the stored pair record. When the
device no longer knows this computer (InvalidHostID) the record is deleted all the same.

options:
${COMMON_OPTIONS_USAGE}
`;

const command: Command = {
  name: 'unpair',
  summary: 'make the device forget this computer and delete the pair record',
  usage,
  async run(args, io) {
    const p = parseCommonArgs(args, { maxPositionals: 0 });
    const o = { signal: io.signal, timeoutMs: 30_000 };
    const dev = await openDevice({ ...deviceSelector(p.common), env: io.env }, o);
    const record = await dev.pairRecords.read(dev.udid, o);
    if (!record) throw new NotPairedError(dev.udid);
    const lockdown = new LockdownClient(await dev.connect(LOCKDOWN_PORT, o), { env: io.env });
    let deviceKnewUs = true;
    try {
      await lockdown.queryType(o);
      await unpairDevice(lockdown, record, o);
    } catch (e) {
      if (!(e instanceof LockdownError && (e.error === 'InvalidHostID' || e.error === 'MissingHostID'))) throw e;
      deviceKnewUs = false;
    } finally {
      lockdown.close();
    }
    await dev.pairRecords.delete(dev.udid, o);
    if (p.common.json) writeJson(io, { udid: dev.udid, unpaired: true, deviceKnewHost: deviceKnewUs });
    else {
      if (!deviceKnewUs) io.stderr.write('note: the device had already forgotten this computer\n');
      io.stdout.write(`SUCCESS: Unpaired with device ${dev.udid}\n`);
    }
    return 0;
  },
};

export default command;
