// Loaded into every test process by scripts/run-tests.mjs (--import): a Node warning (MaxListenersExceededWarning,
// a deprecation, an unhandled-rejection warning…) fails the test that caused it instead of scrolling by on stderr.
// Plain JavaScript on purpose: worker threads inherit the --import flags and must load it without a TS loader.
import process from 'node:process';
import { setImmediate } from 'node:timers';

process.on('warning', (w) => {
  setImmediate(() => {
    throw new Error(`Node printed a warning during the tests: ${w.name}: ${w.message}`);
  });
});
