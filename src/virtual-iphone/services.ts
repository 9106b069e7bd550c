/**
 * The virtual iPhone's port table: fixed listeners (lockdownd on 62078) and one-shot service ports handed out by
 * StartService (a real lockdownd opens a fresh port per StartService and accepts one connection on it).
 */
import type { Duplex } from 'node:stream';

/** Serves one accepted device-side stream. */
export type ServiceHandler = (stream: Duplex) => void;

const FIRST_DYNAMIC = 49152;
const LAST_DYNAMIC = 65535;

/** Ports of one device. */
export class ServiceRegistry {
  readonly #fixed = new Map<number, ServiceHandler>();
  readonly #oneShot = new Map<number, { handler: ServiceHandler; timer: NodeJS.Timeout }>();
  #next: number;

  /** `firstPort` seeds the dynamic port sequence (default 49152 + a small offset, like iOS's ephemeral ports). */
  constructor(firstPort = FIRST_DYNAMIC + 1024) {
    this.#next = firstPort;
  }

  /** A permanent listener (e.g. 62078 → lockdownd). */
  listen(port: number, handler: ServiceHandler): void {
    this.#fixed.set(port, handler);
  }

  /** Opens a one-shot port for `handler`; it closes after one connection or after `ttlMs` (default 60 s). */
  offer(handler: ServiceHandler, ttlMs = 60_000): number {
    let port = this.#next;
    while (this.#fixed.has(port) || this.#oneShot.has(port)) port = port >= LAST_DYNAMIC ? FIRST_DYNAMIC : port + 1;
    this.#next = port >= LAST_DYNAMIC ? FIRST_DYNAMIC : port + 1;
    const timer = setTimeout(() => this.#oneShot.delete(port), ttlMs);
    timer.unref();
    this.#oneShot.set(port, { handler, timer });
    return port;
  }

  /** The handler for a connection to `port` (consuming a one-shot port), or undefined: connection refused. */
  take(port: number): ServiceHandler | undefined {
    const fixed = this.#fixed.get(port);
    if (fixed) return fixed;
    const o = this.#oneShot.get(port);
    if (!o) return undefined;
    clearTimeout(o.timer);
    this.#oneShot.delete(port);
    return o.handler;
  }

  /** Closes every one-shot port. */
  clear(): void {
    for (const o of this.#oneShot.values()) clearTimeout(o.timer);
    this.#oneShot.clear();
  }
}
