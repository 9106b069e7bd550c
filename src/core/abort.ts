import { AbortError, TimeoutError } from './errors.ts';

/** Options every request/response call accepts as its last argument. */
export interface CallOpts {
  /** Aborts the call: the promise rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  /** Rejects with ERR_TIMEOUT after this many milliseconds (no default on bulk transfers). */
  timeoutMs?: number;
}

/** Per signal: the callbacks subscribed through {@link onAbort}, and the one real listener that runs them. */
const dispatchers = new WeakMap<AbortSignal, { fns: Set<() => void>; fire: () => void }>();

/**
 * Runs `fn` once when `signal` aborts; returns the unsubscribe function (call it when the work is done).
 * However many calls are in flight on one signal, the signal holds one 'abort' listener (a shared dispatcher):
 * no MaxListenersExceededWarning for 11+ concurrent requests, and nothing left behind once they are done.
 * An already aborted signal runs `fn` synchronously and returns a no-op.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  let d = dispatchers.get(signal);
  if (!d) {
    const fns = new Set<() => void>();
    const fire = (): void => {
      dispatchers.delete(signal);
      for (const f of [...fns]) {
        try {
          f();
        } catch (e) {
          queueMicrotask(() => {
            throw e; // as an EventTarget listener that throws: reported, the others still run
          });
        }
      }
      fns.clear();
    };
    d = { fns, fire };
    dispatchers.set(signal, d);
    signal.addEventListener('abort', fire, { once: true });
  }
  const entry = (): void => fn();
  const dd = d;
  dd.fns.add(entry);
  return () => {
    if (!dd.fns.delete(entry) || dd.fns.size > 0 || dispatchers.get(signal) !== dd) return;
    dispatchers.delete(signal);
    signal.removeEventListener('abort', dd.fire);
  };
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
    let unsubscribe: (() => void) | undefined;
    const finish = (): void => {
      done = true;
      if (timer) clearTimeout(timer);
      unsubscribe?.();
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
    const aborted = (): void => cancel(new AbortError(what, signal?.reason));
    if (signal?.aborted) return aborted();
    if (signal) unsubscribe = onAbort(signal, aborted);
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
