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
  /** Runs the command; resolves with the process exit code. Throw IDeviceError for user-facing failures. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Where a command writes; tests pass their own. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}
