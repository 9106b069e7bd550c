/**
 * The example service files in docs/service/ as users install them: the launchd agent parses (our plist codec and,
 * when present, Python's plistlib) and its ProgramArguments are a valid `iosdevice photos watch` command line; the
 * systemd user unit's ExecStart runs `iosdevice photos watch` with arguments the command accepts, stops with
 * SIGTERM and counts exit 143 as success, and passes `systemd-analyze verify` where systemd is installed; the README
 * and docs/service/README.md say how to install both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWatchArgs } from '../../../src/cli/photos-watch.ts';
import { parsePlist } from '../../../src/plist/index.ts';
import { isPlistDict } from '../../../src/plist/types.ts';
import { skipUnlessTools } from '../../support/peers.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const UNIT = join(ROOT, 'docs', 'service', 'iosdevice-photos-watch.service');
const PLIST = join(ROOT, 'docs', 'service', 'com.iosdevice.photos-watch.plist');

/** The unit's [Service] keys (last value wins, as systemd reads a key set twice … except ExecStart, which we never repeat). */
function unitKeys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not key=value: ${line}`);
    out.set(`${section}.${line.slice(0, eq)}`, line.slice(eq + 1));
  }
  return out;
}

test('systemd unit: ExecStart runs `iosdevice photos watch DEST` with arguments photos watch accepts; SIGTERM stop counts as success', () => {
  const keys = unitKeys(readFileSync(UNIT, 'utf8'));
  const exec = keys.get('Service.ExecStart');
  assert.ok(exec, 'ExecStart is set');
  const argv = exec.split(/\s+/);
  assert.equal(argv[0], '/usr/bin/env', 'an absolute path, as systemd requires');
  assert.deepEqual(argv.slice(1, 4), ['iosdevice', 'photos', 'watch']);
  const o = parseWatchArgs(argv.slice(4).map((a) => a.replace('%h', '/home/anna')), {});
  assert.equal(o.dest, '/home/anna/Pictures/iPhone');
  assert.equal(keys.get('Service.KillSignal'), 'SIGTERM');
  assert.match(keys.get('Service.SuccessExitStatus') ?? '', /\b143\b/);
  assert.equal(keys.get('Install.WantedBy'), 'default.target', 'a user unit started at login');
});

test('systemd unit: systemd-analyze verify accepts it', { skip: skipUnlessTools('systemd-analyze') }, () => {
  // system mode: a container has no user manager; the unit's syntax and directives are checked all the same
  const out = execFileSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  assert.equal(out.trim(), '');
});

test('launchd plist: parses (our codec); a user agent whose ProgramArguments are `iosdevice photos watch DEST`', () => {
  const v = parsePlist(readFileSync(PLIST));
  assert.ok(isPlistDict(v));
  assert.equal(v.Label, 'com.iosdevice.photos-watch');
  const args = v.ProgramArguments;
  assert.ok(Array.isArray(args) && args.every((a) => typeof a === 'string'));
  const argv = args as string[];
  assert.match(argv[0]!, /^\/.*\/iosdevice$/, 'an absolute path (launchd has no shell)');
  assert.deepEqual(argv.slice(1, 3), ['photos', 'watch']);
  assert.equal(parseWatchArgs(argv.slice(3), {}).dest, '/Users/YOU/Backups/iPhone');
  assert.equal(v.RunAtLoad, true);
  assert.ok(isPlistDict(v.KeepAlive) && v.KeepAlive.SuccessfulExit === false, 'restarted only when it fails');
  assert.equal(typeof v.StandardOutPath, 'string');
});

test('launchd plist: Python plistlib reads the same', { skip: skipUnlessTools('python3') }, () => {
  const out = execFileSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))["ProgramArguments"]))', PLIST], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['/usr/local/bin/iosdevice', 'photos', 'watch', '/Users/YOU/Backups/iPhone']);
});

test('README and docs/service/README.md say how to install both', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /docs\/service\/iosdevice-photos-watch\.service/);
  assert.match(readme, /docs\/service\/com\.iosdevice\.photos-watch\.plist/);
  const doc = readFileSync(join(ROOT, 'docs', 'service', 'README.md'), 'utf8');
  assert.match(doc, /systemctl --user enable --now iosdevice-photos-watch\.service/);
  assert.match(doc, /launchctl bootstrap gui\/\$\(id -u\) ~\/Library\/LaunchAgents\/com\.iosdevice\.photos-watch\.plist/);
});
