/**
 * The seam between the AFC server and a device timing model (the emulator's `real` profile,
 * src/virtual-iphone/afcd-model.ts): the server hands every reply to a pacer, which writes it when the
 * modelled device would. Types only.
 */

/** What a pacer learns about a served request. */
export interface AfcServedRequest {
  operation: number;
  /** When the request was completely received (performance.now() ms). */
  arrivedAt: number;
  /** Bytes in the request's data area (WRITE payload). */
  requestDataBytes: number;
  /** ReadDir: names returned. */
  items?: number;
}

/** Releases replies at a device's pace (AfcServerOptions.pacer in ./server.ts). */
export interface AfcServicePacer {
  /**
   * Called once per request, in service order, with its reply (header first, then data). Writes all of it through
   * `send` (any grouping, in order; `send` returns the stream's write() result) and resolves with the last result.
   */
  serve(req: AfcServedRequest, reply: Buffer[], send: (pieces: Buffer[]) => boolean): Promise<boolean>;
}
