/**
 * The event queue behind `UsbmuxClient.listen()`: events pushed by the socket reader, pulled by an
 * async iterator. Ends with the first error (after the queued events), or when the consumer leaves.
 */
import { onAbort } from '../core/abort.ts';
import { AbortError, TooLargeError } from '../core/errors.ts';
import type { DeviceEvent } from './device.ts';

/** Events queued while the consumer is busy; a consumer that stops reading for this long is cut off. */
const MAX_QUEUED = 10_000;

export class ListenFeed {
  readonly #items: DeviceEvent[] = [];
  #waiter: { resolve(ev: DeviceEvent): void; reject(e: Error): void } | undefined;
  #error: Error | undefined;

  #detach: (() => void) | undefined;

  constructor(signal?: AbortSignal) {
    if (signal?.aborted) this.fail(new AbortError('usbmux Listen', signal.reason));
    else if (signal) {
      // a long-lived signal must not collect one listener per Listen that has ended
      this.#detach = onAbort(signal, () => this.fail(new AbortError('usbmux Listen', signal.reason)));
    }
  }

  /** Queues an event (or hands it to a waiting consumer). */
  push(ev: DeviceEvent): void {
    if (this.#error) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w.resolve(ev);
      return;
    }
    if (this.#items.length >= MAX_QUEUED) return this.fail(new TooLargeError('usbmux', this.#items.length + 1, MAX_QUEUED));
    this.#items.push(ev);
  }

  /** Ends the feed with `e` (the first error wins); queued events are still delivered first. */
  fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#detach?.();
    this.#detach = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(e);
  }

  #next(): Promise<DeviceEvent> {
    const ev = this.#items.shift();
    if (ev) return Promise.resolve(ev);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The consumer side: waits for `started`, then yields events; `onLeave` runs however the loop ends. */
  iterate(started: Promise<void>, onLeave: () => void): AsyncIterable<DeviceEvent> {
    const next = (): Promise<DeviceEvent> => this.#next();
    return (async function* feed(): AsyncGenerator<DeviceEvent> {
      try {
        await started;
        for (;;) yield await next();
      } finally {
        onLeave();
      }
    })();
  }
}
