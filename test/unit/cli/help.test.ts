/** `iosdevice --help` lists every command from cli/command-summaries.ts, which must match the command files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { COMMAND_SUMMARIES } from '../../../src/cli/command-summaries.ts';
import type { Command } from '../../../src/cli/command.ts';
import { main } from '../../../src/cli/main.ts';

const dir = fileURLToPath(new URL('../../../src/cli/commands/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3)).sort();

test('the summary table names exactly the command files, with each module\'s own name and summary', async () => {
  assert.deepEqual(Object.keys(COMMAND_SUMMARIES).sort(), files);
  for (const n of files) {
    const c = ((await import(pathToFileURL(join(dir, `${n}.ts`)).href)) as { default: Command }).default;
    assert.equal(c.name, n);
    assert.equal(COMMAND_SUMMARIES[n], c.summary, `${n}: summary differs from src/cli/commands/${n}.ts`);
  }
});

test('--help prints one line per command and exits 0', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  assert.equal(await main(['--help'], { stdout: out, stderr: new PassThrough() }), 0);
  for (const n of files) assert.match(text, new RegExp(`^  ${n} +${COMMAND_SUMMARIES[n]!.replace(/[().*+?[\]\\^$|]/g, '\\$&')}$`, 'm'));
});
