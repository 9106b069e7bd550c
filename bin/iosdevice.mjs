#!/usr/bin/env node
// The `iosdevice` command: runs the built JavaScript in dist/ (made by `npm install` / `npm run build` through the
// package's `prepare` script; the published package ships it). No TypeScript loader at run time.
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist')) throw e;
  process.stderr.write('iosdevice: the build is missing (dist/cli/main.js). In a clone, run `npm install` (or `npm run build`).\n');
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
