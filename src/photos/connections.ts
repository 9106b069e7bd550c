/**
 * A fixed number of AFC connection slots to one device, opened lazily and reopened after a drop
 * within a reconnect budget for the whole run.
 */
import type { CallOpts } from '../core/abort.ts';
import { PhotosError } from './errors.ts';
import type { PhotoAfc, PhotoDevice } from './source.ts';

export class ConnectionSlots {
  #slots: ({ client?: PhotoAfc; opening?: Promise<PhotoAfc>; opened: boolean })[];
  #reconnectsLeft: number;
  #dead: PhotosError | undefined;
  /** Called when a slot is reopened after a drop. */
  onReconnect?: (slot: number) => void;

  constructor(readonly device: PhotoDevice, count: number, maxReconnects: number, readonly callOpts?: CallOpts) {
    this.#slots = Array.from({ length: Math.max(1, count) }, () => ({ opened: false }));
    this.#reconnectsLeft = maxReconnects;
  }

  get count(): number {
    return this.#slots.length;
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
          this.#dead = new PhotosError('ERR_PHOTOS_DISCONNECTED', 'the device connection dropped and the reconnect budget is spent');
          throw this.#dead;
        }
        this.#reconnectsLeft--;
        this.onReconnect?.(i);
      }
      s.opening = this.device.openAfc(this.callOpts).then(
        (c) => {
          s.client = c;
          s.opened = true;
          s.opening = undefined;
          return c;
        },
        (e: unknown) => {
          s.opening = undefined;
          if (this.callOpts?.signal?.aborted) throw e; // interrupted, not a lost device
          this.#dead = new PhotosError('ERR_PHOTOS_DISCONNECTED', 'cannot connect to the device', { cause: e });
          throw this.#dead;
        },
      );
    }
    return s.opening;
  }

  /** Marks a connection as broken (only if it is still the current one of its slot) and closes it. */
  broken(i: number, client: PhotoAfc): void {
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
