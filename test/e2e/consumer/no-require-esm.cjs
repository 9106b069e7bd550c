// What a CommonJS user sees on a Node.js that cannot require() ES modules (run with --no-experimental-require-module):
// iosdevice's own error (code ERR_REQUIRE_ESM) saying what to do. Prints one JSON line per subpath tried.
'use strict';
for (const name of ['iosdevice', 'iosdevice/emulator', 'iosdevice/errors']) {
  try {
    require(name);
    console.log(JSON.stringify({ name, loaded: true }));
  } catch (e) {
    console.log(JSON.stringify({ name, code: e.code, message: e.message }));
  }
}
