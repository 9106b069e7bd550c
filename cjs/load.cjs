'use strict';
// The CommonJS entry points (the `require` condition of package.json "exports"). iosdevice is ES modules only:
// Node.js >= 20.19 and >= 22.12 load them from require() (require(esm)), and then these files hand the module's
// namespace over unchanged. Older versions cannot; they get this error, which says what to do, instead of Node's.
module.exports = function load(loadModule, name) {
  try {
    return loadModule();
  } catch (e) {
    if (!e || e.code !== 'ERR_REQUIRE_ESM') throw e;
    const err = new Error(
      `${name} is an ES module package, and this Node.js (${process.version}) does not load ES modules with require() ` +
        '(it needs Node.js >= 20.19 on 20.x or >= 22.12, without --no-experimental-require-module). ' +
        `Use \`const m = await import('${name}')\` instead (it works from CommonJS too), or upgrade Node.js.`,
      { cause: e },
    );
    err.code = 'ERR_REQUIRE_ESM';
    throw err;
  }
};
