/**
 * A CLI sub-command. Each file in src/cli/commands/ default-exports one; main.ts discovers them by
 * file name (src/cli/commands/<name>.ts is `iosdevice <name>`), so commands are added without editing main.ts.
 */
export interface Command {
  /** Name as typed after `iosdevice`. */
  name: string;
  /** One line for `iosdevice help`. */
  summary: string;
  /** Full usage text for `iosdevice <name> --help`. */
  usage: string;
  /** The help of a sub-command (`iosdevice afc pull --help`) from the arguments before --help; default `usage`. */
  usageFor?(args: string[]): string | undefined;
  /** Runs the command; resolves with the process exit code. Throw IDeviceError for user-facing failures. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Where a command writes; tests pass their own. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where a question is answered (photos backup's keep-or-remove prompt); main() passes process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * Exit codes of every command (the contract of `iosdevice photos`, documented in its --help):
 * 0 done; 1 something failed or was refused; 2 usage / bad arguments; 3 the device was lost or unreachable
 * (unplug, no such device, no usbmuxd, reconnect budget spent); 4 DEST unusable; 130 SIGINT; 143 SIGTERM.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, device: 3, dest: 4, sigint: 130, sigterm: 143 } as const;

/** The reason `main()` aborts `CliIO.signal` with on SIGINT/SIGTERM. */
export class Interrupted extends Error {
  constructor(readonly signalName: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signalName}`);
    this.name = 'Interrupted';
  }
}

/** 130 for SIGINT (Ctrl-C), 143 for SIGTERM, as shells report a process killed by that signal. */
export function interruptedExitCode(signal: AbortSignal): number {
  const r: unknown = signal.reason;
  return r instanceof Interrupted && r.signalName === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
}
