/**
 * A fixed number of AFC connection slots to one device, opened lazily and reopened after a drop
 * within a reconnect budget for the whole run.
 *
 * Timeouts are told apart from drops: a connection that timed out (a request or a transfer made no progress)
 * is replaced once, but when a second timeout follows without any successful request in between (on any slot:
 * see {@link ConnectionSlots.ok}), the device has stopped answering and the run gives up at once, with a
 * message that says so, instead of spending the whole reconnect budget one timeout at a time.
 */
import type { CallOpts } from '../core/abort.ts';
import { errorCode } from '../core/errors.ts';
import { PhotosError } from './errors.ts';
import type { PhotoAfc, PhotoDevice } from './source.ts';

export class ConnectionSlots {
  #slots: ({ client?: PhotoAfc; opening?: Promise<PhotoAfc>; opened: boolean })[];
  #reconnectsLeft: number;
  #dead: PhotosError | undefined;
  #lastCause: unknown;
  /** Open sequence number of each client, and the highest one opened when the last timeout happened. */
  readonly #seq = new WeakMap<PhotoAfc, number>();
  #opens = 0;
  #timeoutAtSeq: number | undefined;
  #progressSinceTimeout = false;
  /** Called when a slot is reopened after a drop. */
  onReconnect?: (slot: number) => void;

  constructor(readonly device: PhotoDevice, count: number, maxReconnects: number, readonly callOpts?: CallOpts) {
    this.#slots = Array.from({ length: Math.max(1, count) }, () => ({ opened: false }));
    this.#reconnectsLeft = maxReconnects;
  }

  get count(): number {
    return this.#slots.length;
  }

  /**
   * True when every open connection has fewer than 2 requests pending (the device may run out of work: admit more
   * files). False when a connection does not say (a PhotoAfc without `connection.pendingCount`) or none is open.
   */
  starved(): boolean {
    let open = 0;
    for (const s of this.#slots) {
      if (!s.client) continue;
      const n = s.client.connection?.pendingCount;
      if (n === undefined || n >= 2) return false;
      open++;
    }
    return open > 0;
  }

  /** Set once the device could not be (re)connected: everything after that fails fast. */
  get dead(): PhotosError | undefined {
    return this.#dead;
  }

  /**
   * The connection of slot `i`, opening it when needed.
   * @throws PhotosError ERR_PHOTOS_DISCONNECTED when the device is gone or the reconnect budget is spent
   */
  async get(i: number): Promise<PhotoAfc> {
    if (this.#dead) throw this.#dead;
    const s = this.#slots[i % this.#slots.length]!;
    if (s.client) return s.client;
    if (!s.opening) {
      if (s.opened) {
        if (this.#reconnectsLeft <= 0) {
          const why = this.#lastCause instanceof Error ? ` (last: ${this.#lastCause.message})` : '';
          this.#dead = new PhotosError('ERR_PHOTOS_DISCONNECTED', `the device connection was lost and the reconnect budget is spent${why}`, { cause: this.#lastCause });
          throw this.#dead;
        }
        this.#reconnectsLeft--;
        this.onReconnect?.(i);
      }
      s.opening = this.device.openAfc(this.callOpts).then(
        (c) => {
          this.#seq.set(c, ++this.#opens);
          s.client = c;
          s.opened = true;
          s.opening = undefined;
          return c;
        },
        (e: unknown) => {
          s.opening = undefined;
          if (this.callOpts?.signal?.aborted) throw e; // interrupted, not a lost device
          const why = errorCode(e) === 'ERR_TIMEOUT' ? 'the device stopped answering: ' : '';
          this.#dead = new PhotosError('ERR_PHOTOS_DISCONNECTED', `${why}cannot connect to the device${e instanceof Error ? `: ${e.message}` : ''}`, { cause: e });
          throw this.#dead;
        },
      );
    }
    return s.opening;
  }

  /** A request succeeded: the device is answering (resets the consecutive-timeout rule). */
  ok(): void {
    this.#progressSinceTimeout = true;
  }

  /**
   * Marks a connection as broken (only if it is still the current one of its slot) and closes it. `cause` is
   * what broke it: a second ERR_TIMEOUT with no {@link ok} since the previous one makes the slots dead
   * (ERR_PHOTOS_DISCONNECTED, "the device stopped answering: … timed out …").
   */
  broken(i: number, client: PhotoAfc, cause?: unknown): void {
    if (cause !== undefined) this.#lastCause = cause;
    if (errorCode(cause) === 'ERR_TIMEOUT') {
      const seq = this.#seq.get(client) ?? 0;
      const again = this.#timeoutAtSeq !== undefined && seq > this.#timeoutAtSeq && !this.#progressSinceTimeout;
      if (again && !this.#dead) {
        this.#dead = new PhotosError(
          'ERR_PHOTOS_DISCONNECTED',
          `the device stopped answering: ${cause instanceof Error ? cause.message : 'timed out'} (again on a new connection)`,
          { cause },
        );
      }
      if (this.#timeoutAtSeq === undefined || seq > this.#timeoutAtSeq || this.#progressSinceTimeout) {
        this.#timeoutAtSeq = this.#opens;
        this.#progressSinceTimeout = false;
      }
    }
    const s = this.#slots[i % this.#slots.length]!;
    if (s.client === client) s.client = undefined;
    try {
      client.close();
    } catch {
      /* already closed */
    }
  }

  /** Closes every open connection. */
  closeAll(): void {
    for (const s of this.#slots) {
      const c = s.client;
      s.client = undefined;
      try {
        c?.close();
      } catch {
        /* already closed */
      }
    }
  }
}
