/**
 * The one trust-flow prompt every command shows while "Trust this computer?" is pending: plain lines on
 * stderr (so stdout stays clean for --json), or, with `json`, one `{"type":"trust","event":…}` line per
 * event on stdout for programs driving the CLI.
 */
import type { TrustEvent } from '../pairing/trust.ts';
import type { CliIO } from './command.ts';

/** A TrustEvent handler that tells the person at the terminal what to do on the phone. */
export function trustPrinter(io: Pick<CliIO, 'stdout' | 'stderr'>, json = false): (e: TrustEvent) => void {
  return (e) => {
    if (json) {
      io.stdout.write(JSON.stringify({ type: 'trust', event: e }) + '\n');
      return;
    }
    if (e.type === 'waiting-for-trust') io.stderr.write('Tap "Trust" on your iPhone and enter its passcode if asked…\n');
    else if (e.type === 'device-locked') io.stderr.write('Your iPhone is locked: unlock it so the "Trust this computer?" dialog can appear…\n');
    else if (e.type === 'paired') io.stderr.write('Paired: this computer is now trusted.\n');
    else if (e.type === 'denied') io.stderr.write('The iPhone answered "Don\'t Trust".\n');
  };
}
