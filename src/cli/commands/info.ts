/** `iosdevice info`: lockdown values (ideviceinfo's job). */
import type { Command, CliIO } from '../command.ts';
import { COMMON_OPTIONS_USAGE, deviceSelector, parseCommonArgs, writeJson } from '../common.ts';
import { openDevice, openLockdownSession } from '../../connect.ts';
import { isPlistDict, PlistReal, PlistUid, type PlistValue } from '../../plist/types.ts';
import { trustPrinter } from '../trust-prompt.ts';

const usage = `usage: iosdevice info [options]

Prints the device's lockdown values. Starts a TLS session (pairing first if needed) unless --simple.

options:
  -k, --key KEY      print only this value
  -q, --domain DOM   read from this domain (e.g. com.apple.disk_usage, com.apple.mobile.battery)
  -s, --simple       no session: only the values readable before pairing (DeviceName, ProductVersion, …)
${COMMON_OPTIONS_USAGE}
`;

/** One value as ideviceinfo prints it: data as base64, dates ISO, nested dicts/arrays indented. */
export function formatValue(v: PlistValue, indent = ''): string {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (v instanceof PlistReal) return String(v.value);
  if (v instanceof PlistUid) return `UID(${v.value})`;
  if (Array.isArray(v)) return '\n' + v.map((x, i) => `${indent}  ${i}: ${formatValue(x, indent + '  ')}`).join('\n');
  if (isPlistDict(v)) return '\n' + formatDict(v, indent + '  ');
  return String(v);
}

function formatDict(d: Record<string, PlistValue>, indent = ''): string {
  return Object.keys(d)
    .sort()
    .map((k) => `${indent}${k}: ${formatValue(d[k]!, indent)}`)
    .join('\n');
}

function print(io: CliIO, value: PlistValue, json: boolean, key: string | undefined): void {
  if (json) return writeJson(io, key === undefined ? value : { [key]: value });
  if (isPlistDict(value) && key === undefined) io.stdout.write(formatDict(value) + '\n');
  else io.stdout.write(formatValue(value).replace(/^\n/, '') + '\n');
}

const command: Command = {
  name: 'info',
  summary: 'show device information (lockdown values)',
  usage,
  async run(args, io) {
    const p = parseCommonArgs(args, {
      maxPositionals: 0,
      flags: ['--simple'],
      options: ['--key', '--domain'],
      aliases: { '-k': '--key', '-q': '--domain', '-s': '--simple' },
    });
    const simple = p.flags.has('--simple');
    const key = p.options.get('--key');
    const domain = p.options.get('--domain');
    const o = { signal: io.signal, timeoutMs: 30_000 };
    const dev = await openDevice({ ...deviceSelector(p.common), env: io.env }, o);
    const { lockdown } = await openLockdownSession(dev, {
      ...o,
      session: !simple,
      onTrustEvent: trustPrinter(io),
      pairTimeoutMs: 120_000,
    });
    try {
      const value = await lockdown.getValue(key, domain, o);
      print(io, value, p.common.json, key);
      if (!simple) await lockdown.stopSession(o);
    } finally {
      lockdown.close();
    }
    return 0;
  },
};

export default command;
