/**
 * The package as a consumer gets it: `npm pack`, the tarball installed into a fresh plain-Node project (type
 * module, no TypeScript, no dev dependencies: `npm install <tarball> --omit=dev`), then
 * - test/e2e/consumer/app.mjs imports every subpath by package name (exactly the runtime names of the API
 *   snapshot test/unit/api/surface.txt), starts `iosdevice/emulator` in-process, lists, pairs, reads DeviceName and
 *   ProductVersion, walks /DCIM and streams one photo to disk (SHA-256 equal to the emulator's source file);
 * - app.cjs require()s every subpath (Node's require(esm)) and gets the very objects import() gives;
 *   no-require-esm.cjs, run with --no-experimental-require-module, gets iosdevice's own ERR_REQUIRE_ESM message;
 * - `npx iosdevice --help` runs the installed bin (the built JavaScript, no TypeScript loader);
 * - use.ts type-checks with `tsc --strict` against the shipped declarations under "module": "nodenext" and under
 *   "moduleResolution": "bundler"; a wrong argument type fails to compile (TS2345).
 * One pack + install is shared by all of them. The tarball is packed with --ignore-scripts: `prepare` (the build)
 * has just run through scripts/ensure-build.mjs, and the test checks that the tarball carries dist/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/e2e/consumer');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const typeRoots = join(root, 'node_modules/@types');

/** The environment of a user's shell: no npm script variables, no loader flags, not a child of the test runner. */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_TEST_CONTEXT$|NODE_OPTIONS$|USBMUXD_SOCKET_ADDRESS$|INIT_CWD$)/i.test(k)));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Result): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The runtime names per subpath in the API snapshot (values, not types; not the `(type only)` classes). */
async function snapshotValues(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  let current = '';
  for (const line of (await readFile(join(root, 'test/unit/api/surface.txt'), 'utf8')).split('\n')) {
    if (/^\S/.test(line)) out[(current = line.trim())] = [];
    else if (line.trim() && !line.includes('(type only)')) {
      const [name, kinds] = line.trim().split(' ') as [string, string];
      if (kinds.split('+').some((k) => ['class', 'function', 'const', 'enum', 'namespace'].includes(k))) out[current]!.push(name);
    }
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

describe('the packed package in a fresh plain-Node project', { timeout: 600_000 }, () => {
  let dir = '';
  let app = '';
  let tarball = '';
  const subpaths = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports)
    .filter((s) => s !== './package.json')
    .map((s) => (s === '.' ? 'iosdevice' : `iosdevice/${s.slice(2)}`));

  before(async () => {
    const built = spawnSync(process.execPath, [join(root, 'scripts/ensure-build.mjs')], { cwd: root, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    dir = await mkdtemp(join(tmpdir(), 'iosdevice-consumer-'));
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root);
    assert.equal(pack.code, 0, show(pack));
    tarball = join(dir, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename);
    app = join(dir, 'app');
    await mkdir(join(app, 'out'), { recursive: true });
    await writeFile(join(app, 'package.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
    const install = await run('npm', ['install', tarball, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 300_000);
    assert.equal(install.code, 0, show(install));
    for (const f of await readdir(fixtures)) await copyFile(join(fixtures, f), join(app, f));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the tarball carries the build, the CommonJS entries, the bin and the docs; the project has no TypeScript', async () => {
    const pkg = join(app, 'node_modules/iosdevice');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.d.ts.map', 'dist/cli/main.js', 'dist/virtual-iphone/index.js', 'cjs/index.cjs', 'cjs/load.cjs', 'bin/iosdevice.mjs', 'docs/library.md', 'docs/errors.md', 'README.md']) {
      assert.ok(existsSync(join(pkg, f)), `${f} is in the installed package`);
    }
    assert.ok(!existsSync(join(pkg, 'test')), 'no tests shipped');
    assert.ok(!existsSync(join(pkg, 'bench')), 'no bench shipped');
    for (const dev of ['typescript', 'tsx', 'esbuild', '@types/node', 'eslint']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is not installed`);
    const manifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(manifest.dependencies), ['iosdevice']);
  });

  test('ESM: every subpath by name, the emulator in-process, list, pair, DeviceName/ProductVersion, /DCIM, one photo byte-identical', { timeout: 120_000 }, async () => {
    const r = await run(process.execPath, ['app.mjs', join(app, 'out')], app);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '', 'no warnings');
    const o = JSON.parse(r.stdout) as {
      exports: Record<string, string[]>;
      udid: string;
      listed: string[];
      paired: { hostId: boolean; trustEvents: string[] };
      deviceName: string;
      productVersion: string;
      files: string[];
      manifest: string[];
      photo: string;
      sizes: { remote: number; source: number; local: number };
      sha256: { manifest: string; source: string; local: string };
    };
    assert.deepEqual(Object.keys(o.exports).sort(), [...subpaths].sort(), 'app.mjs imports every subpath of package.json "exports"');
    assert.deepEqual(o.exports, await snapshotValues(), 'the built package exports exactly the runtime names of the API snapshot');
    assert.deepEqual(o.listed, [o.udid]);
    assert.ok(o.paired.hostId);
    assert.deepEqual(o.paired.trustEvents, ['paired']);
    assert.equal(o.deviceName, 'Consumer iPhone');
    assert.equal(o.productVersion, '17.4');
    assert.equal(o.files.length, 5);
    assert.deepEqual(o.files, o.manifest, 'the walk finds exactly the generated camera roll');
    assert.match(o.photo, /^\/DCIM\/\d{3}APPLE\/IMG_\d{4}\.(HEIC|JPG)$/);
    assert.ok(o.sizes.source > 100_000, 'a real photo, not an empty file');
    assert.deepEqual(o.sizes, { remote: o.sizes.source, source: o.sizes.source, local: o.sizes.source });
    assert.match(o.sha256.source, /^[0-9a-f]{64}$/);
    assert.equal(o.sha256.local, o.sha256.source, 'the streamed copy is byte-identical to the emulator source file');
    assert.equal(o.sha256.manifest, o.sha256.source);
  });

  test('CommonJS: require() of every subpath gives the objects import() gives (Node require(esm))', { timeout: 60_000 }, async () => {
    const r = await run(process.execPath, ['app.cjs'], app);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '', 'no warnings');
    const o = JSON.parse(r.stdout) as Record<string, { keys: number; same: boolean } | boolean>;
    for (const s of subpaths) assert.deepEqual({ s, same: (o[s] as { same: boolean }).same }, { s, same: true });
    assert.equal(o.listed, true);
  });

  test('CommonJS where Node cannot require() ES modules: ERR_REQUIRE_ESM saying to use import()', async () => {
    const r = await run(process.execPath, ['--no-experimental-require-module', 'no-require-esm.cjs'], app);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; code?: string; message?: string; loaded?: boolean });
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.equal(l.code, 'ERR_REQUIRE_ESM', JSON.stringify(l));
      assert.match(l.message!, new RegExp(`^${l.name.replace('/', '\\/')} is an ES module package, and this Node\\.js \\(${process.version.replace(/\./g, '\\.')}\\) does not load ES modules with require\\(\\)`));
      assert.ok(l.message!.includes(`await import('${l.name}')`), l.message);
    }
  });

  test('npx iosdevice --help runs the installed bin (the built JavaScript)', { timeout: 60_000 }, async () => {
    const r = await run('npx', ['--no-install', 'iosdevice', '--help'], app);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^usage: iosdevice <command>/m);
    for (const c of ['afc', 'emulator', 'list', 'pair', 'photos']) assert.match(r.stdout, new RegExp(`^  ${c} +\\S`, 'm'));
    assert.equal(r.stderr, '');
  });

  const tsconfig = (files: string[], module: Record<string, string>): string =>
    `${JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2023'], ...module, types: ['node'], typeRoots: [typeRoots] }, files }, null, 2)}\n`;

  for (const [mode, module] of [
    ['"module": "nodenext"', { module: 'nodenext' }],
    ['"module": "esnext", "moduleResolution": "bundler"', { module: 'esnext', moduleResolution: 'bundler' }],
  ] as const) {
    test(`TypeScript: use.ts type-checks with tsc --strict against the shipped declarations, ${mode}`, { timeout: 180_000 }, async () => {
      const name = `tsconfig.${module.module}.json`;
      await writeFile(join(app, name), tsconfig(['use.ts'], module));
      const r = await run(process.execPath, [tsc, '-p', name, '--listFiles'], app, 170_000);
      assert.equal(r.code, 0, show(r));
      const ours = r.stdout.split('\n').filter((l) => l.includes('/node_modules/iosdevice/'));
      assert.ok(ours.length > 10 && ours.every((l) => l.includes('/node_modules/iosdevice/dist/') && l.endsWith('.d.ts')), 'types come from dist/*.d.ts only');
    });
  }

  test('TypeScript: a wrong argument type fails to compile (TS2345)', { timeout: 180_000 }, async () => {
    await writeFile(join(app, 'misuse.ts'), "import { connectAfc } from 'iosdevice';\n\nawait connectAfc('00008120-26432C2933024E22');\n");
    await writeFile(join(app, 'tsconfig.misuse.json'), tsconfig(['misuse.ts'], { module: 'nodenext' }));
    const r = await run(process.execPath, [tsc, '-p', 'tsconfig.misuse.json'], app, 170_000);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stdout, /^misuse\.ts\(3,18\): error TS2345: Argument of type 'string' is not assignable to parameter of type 'DeviceProvider'\./m);
    assert.equal(r.stdout.match(/error TS/g)?.length, 1, r.stdout);
  });
});
