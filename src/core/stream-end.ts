/**
 * Waiting for a Readable to end, for consumers that take its bytes in a sink or a 'data' listener: resolves on
 * 'end', rejects with the stream's error, or with ClosedError (ERR_CLOSED) when it closes before its end. Starts
 * the flow (resume) so a stream with a sink, which pushes nothing, still reaches 'end'.
 */
import type { Readable } from 'node:stream';
import { ClosedError } from './errors.ts';

/** See the module comment. `what` names the stream in the ERR_CLOSED message. */
export function untilEnd(rs: Readable, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    rs.once('end', () => {
      ended = true;
      resolve();
    });
    rs.once('error', reject);
    rs.once('close', () => {
      if (!ended) reject(new ClosedError(`${what} (closed before its end)`));
    });
    rs.resume();
  });
}
