/**
 * `npx iosdevice …` and `npm run …` start the command through a shell (`sh -c`): a signal sent to npm
 * (`npx iosdevice emulator & … kill $!`) reaches npm and its shell, never this process, which would keep
 * serving as an orphan. When npm launched us, we watch our parent: once it is gone (we are reparented) we
 * stop as on SIGTERM. Outside npm nothing is watched (a command backgrounded by a shell that exits keeps running).
 */

/** Environment variables npm sets for what it launches (`npm_command` is exec, run-script, test…). */
export function launchedByNpm(env: NodeJS.ProcessEnv): boolean {
  return typeof env.npm_command === 'string' && env.npm_command !== '';
}

/**
 * Calls `onGone` once when the parent process goes away, if npm launched this process. Polls every
 * `intervalMs` (an unref'ed timer: it never keeps the process alive). Returns the stop function.
 */
export function watchLauncher(env: NodeJS.ProcessEnv, onGone: () => void, intervalMs = 250): () => void {
  if (!launchedByNpm(env)) return () => undefined;
  const parent = process.ppid;
  if (parent <= 1) return () => undefined;
  const t = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(t);
    onGone();
  }, intervalMs);
  t.unref();
  return () => clearInterval(t);
}
