/**
 * docs/library.md's recipes run: every examples/*.mjs runs as a plain-Node child process (importing `iosdevice` by
 * name: the built package in dist/) against a virtual iPhone found through USBMUXD_SOCKET_ADDRESS, and the code
 * blocks in docs/library.md are exactly these files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/virtual-iphone/emulator.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = join(root, 'examples');

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves once stdout contains `text`. */
  waitFor: (text: string) => Promise<void>;
  exit: Promise<number | null>;
}

function run(file: string, args: string[], emu: Emulator, cwd: string, nodeArgs: string[] = []): Run {
  const child = spawn(process.execPath, [...nodeArgs, join(examples, file), ...args], {
    cwd,
    // a plain environment: no loader flags, and not as a child of this test runner (NODE_TEST_CONTEXT)
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), USBMUXD_SOCKET_ADDRESS: emu.address, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (out.includes(waiters[i]!.text)) waiters.splice(i, 1)[0]!.resolve();
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`${file} exited (${code}) before printing ${JSON.stringify(w.text)}:\n${out}${err}`));
      resolve(code);
    }),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    waitFor: (text) => (out.includes(text) ? Promise.resolve() : new Promise((resolve, reject) => waiters.push({ text, resolve, reject }))),
    exit,
  };
}

async function withEmulator(opts: EmulatorOptions, fn: (emu: Emulator, dir: string) => Promise<void>): Promise<void> {
  const emu = await startEmulator(opts);
  const dir = await mkdtemp(join(tmpdir(), 'iosdevice-example-'));
  try {
    await fn(emu, dir);
  } finally {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function filesUnder(dir: string, skip = new Set(['.iosdevice'])): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (skip.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p, skip)));
    else out.push(p);
  }
  return out;
}

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

/** The `// examples/NAME` code blocks of a Markdown file. */
async function exampleBlocks(doc: string): Promise<Map<string, string>> {
  const text = await readFile(join(root, doc), 'utf8');
  const blocks = new Map<string, string>();
  for (const m of text.matchAll(/```js\n\/\/ (examples\/[\w.-]+)\n([\s\S]*?)```/g)) blocks.set(m[1]!, m[2]!);
  return blocks;
}

test('docs/library.md shows every example file and README.md the quick start, word for word', async () => {
  const files = (await readdir(examples)).filter((f) => f.endsWith('.mjs')).sort();
  assert.ok(files.length >= 6);
  const guide = await exampleBlocks('docs/library.md');
  assert.deepEqual([...guide.keys()].sort(), files.map((f) => `examples/${f}`));
  const readme = await exampleBlocks('README.md');
  assert.deepEqual([...readme.keys()], ['examples/quick-start.mjs']);
  for (const [name, code] of [...guide, ...readme]) assert.equal(code, await readFile(join(root, name), 'utf8'), `the code block differs from ${name}`);
});

test('examples/quick-start.mjs: the device, its name and version, the files in /DCIM', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 4, name: 'Quick iPhone', iosVersion: '18.1', trust: 'auto' }, async (emu, dir) => {
    const r = run('quick-start.mjs', [], emu, dir);
    assert.equal(await r.exit, 0, r.err());
    assert.match(r.out(), new RegExp(`udid: '${emu.devices[0]!.udid}'`));
    assert.match(r.out(), /^Quick iPhone, iOS 18\.1$/m);
    assert.match(r.out(), new RegExp(`^${emu.devices[0]!.manifest!.files.length} files in /DCIM$`, 'm'));
  });
});

test('examples/list-and-watch.mjs: lists, prints detach, stops on Ctrl-C', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 1 }, async (emu, dir) => {
    const udid = emu.devices[0]!.udid;
    const r = run('list-and-watch.mjs', [], emu, dir);
    await r.waitFor(`attached: ${udid}`);
    emu.detach();
    await r.waitFor(`detached: ${udid}`);
    r.child.kill('SIGINT');
    assert.equal(await r.exit, 0, r.err());
    assert.match(r.out(), new RegExp(`^1 device\\(s\\) attached\\n  ${udid} \\(USB\\)$`, 'm'));
  });
});

test('examples/replug.mjs: the same handle counts /DCIM again after an unplug and a replug', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 3, trust: 'auto' }, async (emu, dir) => {
    const n = emu.devices[0]!.manifest!.files.length;
    const r = run('replug.mjs', [], emu, dir);
    await r.waitFor('unplug it now');
    emu.detach();
    await r.waitFor('plug it back in');
    emu.attach();
    assert.equal(await r.exit, 0, r.err());
    assert.equal(r.out(), `${n} files in /DCIM\nunplug it now…\nunplugged: plug it back in (within 60 s)\nback: ${n} files in /DCIM\n`);
  });
});

test('examples/pair.mjs: the trust prompt, then DeviceName and ProductVersion', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 1, trust: 'prompt', name: 'Example iPhone', iosVersion: '16.4' }, async (emu, dir) => {
    const phone = emu.devices[0]!.iphone;
    phone.lockdown.once('dialog', () => setImmediate(() => phone.lockdown.tapTrust()));
    const r = run('pair.mjs', [], emu, dir);
    assert.equal(await r.exit, 0, r.err());
    assert.equal(r.out(), 'Tap "Trust" on your iPhone…\nPaired.\nDeviceName: Example iPhone\nProductVersion: 16.4\n');
    assert.equal(phone.lockdown.trustedHostIds().length, 1);
  });
});

test('examples/pair.mjs: "Don\'t Trust" exits 1 and saves nothing', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 1, trust: 'deny' }, async (emu, dir) => {
    const r = run('pair.mjs', [], emu, dir);
    assert.equal(await r.exit, 1, r.err());
    assert.match(r.out(), /You tapped "Don't Trust"\./);
    assert.equal(await emu.records.read(emu.devices[0]!.udid), undefined);
  });
});

test('examples/pull-dcim.mjs: every file byte for byte, and one streamed copy', { timeout: 120_000 }, async () => {
  await withEmulator({ dcimCount: 8, trust: 'auto' }, async (emu, dir) => {
    const target = join(dir, 'out');
    const r = run('pull-dcim.mjs', [target], emu, dir);
    assert.equal(await r.exit, 0, r.err());
    const want = emu.devices[0]!.manifest!.files;
    assert.match(r.out(), new RegExp(`copied ${want.length} files`));
    const media = emu.devices[0]!.mediaDir;
    const got = (await filesUnder(target)).filter((p) => !p.endsWith('streamed-copy'));
    assert.equal(got.length, want.length);
    const wantHashes = new Map<string, string>();
    for (const p of await filesUnder(join(media, 'DCIM'))) wantHashes.set(relative(join(media, 'DCIM'), p), await sha(p));
    for (const p of got) {
      const rel = relative(target, p).replace(/^DCIM\//, '');
      assert.equal(await sha(p), wantHashes.get(rel), rel);
    }
    const m = /streamed (\S+): (\d+) of (\d+) bytes/.exec(r.out());
    assert.ok(m && m[2] === m[3], r.out());
    assert.equal(await sha(join(target, 'streamed-copy')), await sha(join(media, m[1]!)));
  });
});

test('examples/my-backup.mjs: one folder per month, verified copies, a rerun copies nothing', { timeout: 120_000 }, async () => {
  await withEmulator({ dcimCount: 8, trust: 'auto' }, async (emu, dir) => {
    const dest = join(dir, 'by-month');
    const first = run('my-backup.mjs', [dest], emu, dir);
    assert.equal(await first.exit, 0, first.err());
    const n = emu.devices[0]!.manifest!.files.length;
    assert.match(first.out(), new RegExp(`complete: ${n} copied, 0 already there, 0 failed`));
    const placed = await filesUnder(dest);
    assert.equal(placed.length, n);
    for (const p of placed) assert.match(relative(dest, p), /^(\d{4}-\d{2}|undated)\/[^/]+$/);
    const byName = new Map<string, string>();
    for (const p of await filesUnder(join(emu.devices[0]!.mediaDir, 'DCIM'))) byName.set(p.slice(p.lastIndexOf('/') + 1), await sha(p));
    for (const p of placed) assert.equal(await sha(p), byName.get(p.slice(p.lastIndexOf('/') + 1)), p);
    const again = run('my-backup.mjs', [dest], emu, dir);
    assert.equal(await again.exit, 0, again.err());
    assert.match(again.out(), new RegExp(`complete: 0 copied, ${n} already there, 0 failed`));
  });
});

test('examples/layers.mjs: usbmuxd, a stream to lockdownd, two requests', { timeout: 60_000 }, async () => {
  await withEmulator({ dcimCount: 1, iosVersion: '17.5' }, async (emu, dir) => {
    const r = run('layers.mjs', [], emu, dir);
    assert.equal(await r.exit, 0, r.err());
    assert.equal(r.out(), `${emu.devices[0]!.udid}: com.apple.mobile.lockdown\nProductVersion: 17.5\n`);
  });
});

test('examples/emulator.test.mjs: a tool\'s own node:test file passes against the emulator', { timeout: 120_000 }, async () => {
  await withEmulator({ dcimCount: 1 }, async (emu, dir) => {
    const r = run('emulator.test.mjs', [], emu, dir, ['--test', '--test-reporter=tap']);
    assert.equal(await r.exit, 0, r.out() + r.err());
    assert.match(r.out(), /^# pass 2$/m);
    assert.match(r.out(), /^# fail 0$/m);
  });
});
