import { AbortError, TimeoutError } from './errors.ts';

/** Options every request/response call accepts as its last argument. */
export interface CallOpts {
  /** Aborts the call: the promise rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  /** Rejects with ERR_TIMEOUT after this many milliseconds (no default on bulk transfers). */
  timeoutMs?: number;
}

/**
 * Races `work` against the call's signal and timeout. `onCancel` runs once when the call is
 * abandoned (abort or timeout) so the caller can release what the work holds (e.g. destroy a socket).
 */
export function withCallOpts<T>(
  what: string,
  work: Promise<T>,
  opts: CallOpts | undefined,
  onCancel?: (err: Error) => void,
): Promise<T> {
  const signal = opts?.signal;
  const timeoutMs = opts?.timeoutMs;
  if (!signal && timeoutMs === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      done = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const cancel = (err: Error): void => {
      if (done) return;
      finish();
      try {
        onCancel?.(err);
      } finally {
        reject(err);
      }
    };
    const onAbort = (): void => cancel(new AbortError(what, signal?.reason));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => cancel(new TimeoutError(what, timeoutMs)), timeoutMs);
    }
    work.then(
      (v) => {
        if (done) return;
        finish();
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        finish();
        reject(e);
      },
    );
  });
}

/** Throws ERR_ABORTED when the signal is already aborted. */
export function throwIfAborted(what: string, signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(what, signal.reason);
}
