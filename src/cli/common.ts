/**
 * Option parsing shared by CLI sub-commands: the common device options (`--socket ADDR`,
 * `-u/--udid UDID`, `--json`, `--usb`) plus each command's own flags and valued options.
 *
 * Stable API (other commands import it):
 * - {@link parseCommonArgs}(args, spec?) → {@link ParsedArgs}
 * - {@link deviceSelector}(common) → `{ udid?, socket?, usb? }` for `openDevice()`
 * - {@link COMMON_OPTIONS_USAGE} (help text lines) and {@link writeJson}(io, value)
 */
import { InvalidArgumentError } from '../core/errors.ts';
import type { CliIO } from './command.ts';

/** The options every device command understands. */
export interface CommonOptions {
  /** `--socket ADDR`: usbmuxd address (`UNIX:/path`, `/path`, `host:port`, `[v6]:port`); overrides USBMUXD_SOCKET_ADDRESS. */
  socket?: string;
  /** `-u/--udid UDID`: the device to use (default: the only one attached). */
  udid?: string;
  /** `--json`: machine-readable output. */
  json: boolean;
  /** `--usb`: talk to the device over our own USB transport instead of usbmuxd. */
  usb: boolean;
}

/** Result of {@link parseCommonArgs}. */
export interface ParsedArgs {
  common: CommonOptions;
  /** Command-specific boolean flags that were given (by the name listed in the spec, e.g. `--force`). */
  flags: Set<string>;
  /** Command-specific valued options (by the name listed in the spec, e.g. `--out` → value). Last one wins. */
  options: Map<string, string>;
  /** Everything that is not an option (and everything after `--`). */
  positionals: string[];
}

/** Command-specific options: names as typed, e.g. `['--force', '-f']` for flags, `['--out']` for valued options. */
export interface ArgSpec {
  flags?: string[];
  options?: string[];
  /** Aliases: `{ '-f': '--force' }` maps a short name onto its long name (reported under the long name). */
  aliases?: Record<string, string>;
  /** Most positional arguments accepted (default: any number); e.g. 0 for commands that take none. */
  maxPositionals?: number;
}

const COMMON_ALIASES: Record<string, string> = { '-u': '--udid' };

/** Help text for the common options, to append to a command's usage. */
export const COMMON_OPTIONS_USAGE = [
  '  --socket ADDR   usbmuxd address: UNIX:/path, /path, host:port or [v6]:port',
  '                  (default: $USBMUXD_SOCKET_ADDRESS, else /var/run/usbmuxd; on Windows 127.0.0.1:27015)',
  '  -u, --udid UDID use this device (default: the only one attached)',
  '  --json          machine-readable JSON output',
  '  --usb           use our own USB transport instead of usbmuxd',
].join('\n');

/**
 * Parses `args` into the common options, the command's own flags/options and positionals.
 * Accepts `--name value`, `--name=value`, `-u value`; `--` ends option parsing.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for an unknown option, a missing value, a value given to a flag,
 *   or more positionals than `spec.maxPositionals`.
 */
export function parseCommonArgs(args: readonly string[], spec: ArgSpec = {}): ParsedArgs {
  const flagNames = new Set(spec.flags ?? []);
  const optionNames = new Set(spec.options ?? []);
  const aliases: Record<string, string> = { ...COMMON_ALIASES, ...(spec.aliases ?? {}) };
  const out: ParsedArgs = { common: { json: false, usb: false }, flags: new Set(), options: new Map(), positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    let name = eq >= 0 ? arg.slice(0, eq) : arg;
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    name = aliases[name] ?? name;
    const isValued = name === '--socket' || name === '--udid' || optionNames.has(name);
    const isFlag = name === '--json' || name === '--usb' || flagNames.has(name);
    if (!isValued && !isFlag) throw new InvalidArgumentError(`unknown option ${arg}`);
    if (isFlag) {
      if (inline !== undefined) throw new InvalidArgumentError(`option ${name} takes no value`);
      if (name === '--json') out.common.json = true;
      else if (name === '--usb') out.common.usb = true;
      else out.flags.add(name);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) throw new InvalidArgumentError(`option ${name} needs a value`);
      value = args[++i]!;
    }
    if (value === '') throw new InvalidArgumentError(`option ${name} needs a non-empty value`);
    if (name === '--socket') out.common.socket = value;
    else if (name === '--udid') out.common.udid = value;
    else out.options.set(name, value);
  }
  const max = spec.maxPositionals ?? Infinity;
  if (out.positionals.length > max) throw new InvalidArgumentError(`unexpected argument "${out.positionals[max]}"`);
  return out;
}

/** The device selector for `openDevice()` (src/connect.ts) from the common options. */
export function deviceSelector(c: CommonOptions): { udid?: string; socket?: string; usb?: boolean } {
  const sel: { udid?: string; socket?: string; usb?: boolean } = {};
  if (c.udid !== undefined) sel.udid = c.udid;
  if (c.socket !== undefined) sel.socket = c.socket;
  if (c.usb) sel.usb = true;
  return sel;
}

/** Writes `value` as one line of JSON (Buffers as base64, bigints as numbers-in-strings, Dates as ISO). */
export function writeJson(io: Pick<CliIO, 'stdout'>, value: unknown): void {
  io.stdout.write(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return Buffer.from((v as { data: number[] }).data).toString('base64');
      }
      return v;
    }) + '\n',
  );
}
