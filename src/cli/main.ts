import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { EXIT, Interrupted, interruptedExitCode, type Command, type CliIO } from './command.ts';
import { COMMAND_SUMMARIES } from './command-summaries.ts';
import { watchLauncher } from './launcher-watch.ts';
import { errorCode, IDeviceError } from '../core/errors.ts';

const commandsDir = fileURLToPath(new URL('./commands/', import.meta.url));
/** '.ts' when running from src/ (tsx), '.js' when running the build in dist/. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -ext.length))
    .sort();
}

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !commandNames().includes(name)) return undefined;
  const mod = (await import(pathToFileURL(join(commandsDir, `${name}${ext}`)).href)) as { default: Command };
  return mod.default;
}

/** The overview; loads no command module (summaries from ./command-summaries.ts, a module only if one is missing there). */
async function help(io: CliIO): Promise<void> {
  const lines = ['usage: iosdevice <command> [options]', '', 'commands:'];
  for (const n of commandNames()) {
    const summary = Object.hasOwn(COMMAND_SUMMARIES, n) ? COMMAND_SUMMARIES[n] : (await loadCommand(n))?.summary;
    if (summary !== undefined) lines.push(`  ${n.padEnd(12)} ${summary}`);
  }
  lines.push('', 'Run `iosdevice <command> --help` for the options of one command.');
  io.stdout.write(lines.join('\n') + '\n');
}

/** Formats an error for the terminal: `error [CODE]: message`, plus the cause chain. */
export function formatError(e: unknown): string {
  if (e instanceof IDeviceError) {
    let s = `error [${e.code}]: ${e.message}`;
    let c: unknown = e.cause;
    for (let depth = 0; c instanceof Error && depth < 3; depth++, c = c.cause) s += `\n  caused by: ${c.message}`;
    return s;
  }
  return `error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
}

/** The error as one JSON object for `--json` consumers: `{ error: { code, message, ... } }`. */
export function errorJson(e: unknown): { error: Record<string, unknown> } {
  if (e instanceof IDeviceError) {
    const extra: Record<string, unknown> = {};
    for (const k of ['result', 'error', 'request', 'status', 'opcode', 'path', 'layer', 'reason', 'offset', 'dest', 'errno', 'freeBytes']) {
      const v = (e as unknown as Record<string, unknown>)[k];
      if (v !== undefined && (typeof v === 'string' || typeof v === 'number')) extra[k] = v;
    }
    return { error: { code: e.code, name: e.name, message: e.message, ...extra } };
  }
  return { error: { code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) } };
}

/**
 * Codes meaning the device is gone or cannot be reached (exit 3). ERR_CLOSED is the device's (or usbmuxd's)
 * connection closing while a reply was awaited: a device that vanished while a command was setting up (e.g.
 * during the lockdown session before a backup starts) is lost, not "some files failed".
 */
const DEVICE_LOST = new Set([
  'ERR_DEVICE_NOT_FOUND', 'ERR_USBMUX_UNREACHABLE', 'ERR_USBMUX_BADDEV', 'ERR_PHOTOS_DISCONNECTED', 'ERR_USB_DETACHED',
  'ERR_USB_NO_DEVICE', 'ERR_CLOSED',
]);

/** The exit code for an error a command threw (see EXIT in command.ts). */
export function exitCodeFor(e: unknown): number {
  const code = errorCode(e) ?? '';
  if (code === 'ERR_INVALID_ARG') return EXIT.usage;
  if (DEVICE_LOST.has(code)) return EXIT.device;
  if (code.startsWith('ERR_PHOTOS_DEST_')) return EXIT.dest;
  return EXIT.failed;
}

/** Entry point: resolves with the exit code. */
export async function main(argv: string[], io?: Partial<CliIO>): Promise<number> {
  const ac = new AbortController();
  const onInt = (): void => ac.abort(new Interrupted('SIGINT'));
  const onTerm = (): void => ac.abort(new Interrupted('SIGTERM'));
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  // stdin is a getter: process.stdin is created only when a command asks something
  const fullIO: CliIO = {
    stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; }, env: process.env, signal: ac.signal, ...io,
  };
  // started by npx / npm run: a kill of npm never reaches us, so its going away counts as SIGTERM
  const stopWatch = watchLauncher(fullIO.env, onTerm);
  try {
    const [name, ...rest] = argv;
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      await help(fullIO);
      return name ? 0 : 1;
    }
    if (name === '--version' || name === '-V') {
      fullIO.stdout.write('iosdevice 0.1.0\n');
      return 0;
    }
    const cmd = await loadCommand(name);
    if (!cmd) {
      fullIO.stderr.write(`error [ERR_INVALID_ARG]: unknown command "${name}"; run \`iosdevice help\`\n`);
      return 2;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      const text = cmd.usageFor?.(rest) ?? cmd.usage;
      fullIO.stdout.write(text.endsWith('\n') ? text : text + '\n');
      return 0;
    }
    return await cmd.run(rest, fullIO);
  } catch (e) {
    if (fullIO.signal.aborted && errorCode(e) === 'ERR_ABORTED') {
      // Ctrl-C / SIGTERM: not an error; one line, and the exit code a shell expects for that signal
      if (argv.includes('--json')) fullIO.stdout.write(JSON.stringify({ type: 'interrupted' }) + '\n');
      fullIO.stderr.write('interrupted\n');
      return interruptedExitCode(fullIO.signal);
    }
    if (argv.includes('--json')) fullIO.stdout.write(JSON.stringify(errorJson(e)) + '\n');
    fullIO.stderr.write(formatError(e) + '\n');
    return exitCodeFor(e);
  } finally {
    stopWatch();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
