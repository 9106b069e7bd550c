/**
 * decode on damaged input: truncated captures at every block boundary region, random byte corruption of a real
 * recording (only typed errors or notes, never RangeError/TypeError), and the CLI's text and JSON Lines output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeCapture } from '../../../src/capture/decode.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import decodeCommand from '../../../src/cli/commands/decode.ts';

const file = fileURLToPath(new URL('../../../captures/tools-ifuse-dcim.pcapng', import.meta.url));
const cap = readFileSync(file);

test('decode: truncated recordings decode what is complete and report the cut', () => {
  const full = decodeCapture(cap);
  const fullEvents = full.streams.reduce((n, s) => n + s.events.length, 0);
  const boundaries = new Set<number>();
  for (let o = 0; o < cap.length; o += cap.readUInt32LE(o + 4)) boundaries.add(o);
  for (let cut = 200; cut < cap.length; cut += 997) {
    const d = decodeCapture(cap.subarray(0, cut));
    assert.equal(d.truncated, !boundaries.has(cut), `cut at ${cut}`);
    const n = d.streams.reduce((k, s) => k + s.events.length, 0);
    assert.ok(n <= fullEvents + d.streams.length * 2);
  }
});

test('decode: random corruption gives notes or typed errors, never a crash', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(cap.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }), (edits) => {
      const b = Buffer.from(cap);
      for (const [i, v] of edits) b[i] = v;
      try {
        decodeCapture(b);
      } catch (e) {
        assert.ok(e instanceof IDeviceError, String(e));
        assert.match(e.code, /^ERR_CAPTURE_/);
      }
    }),
    { numRuns: 150 },
  );
});

async function runCli(args: string[]): Promise<string> {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const code = await decodeCommand.run(args, { stdout, stderr: new PassThrough(), env: {}, signal: new AbortController().signal });
  assert.equal(code, 0);
  return text;
}

test('decode CLI: text lines per message and JSON Lines with --json', async () => {
  const text = await runCli([file]);
  assert.match(text, /^== stream 0, 127\.0\.0\.1:\d+ → 127\.0\.0\.1:27015/m);
  assert.match(text, /usbmux +v1 tag \d+ Connect \(port 62078\)/);
  assert.match(text, /lockdown\* StartService/);
  assert.match(text, /afc +#\d+ FileRefOpen "\/DCIM\/100APPLE\/IMG_0001\.JPG"/);
  assert.match(text, /TLS begins: TLS 1\.3 TLS_AES_256_GCM_SHA384/);
  const lines = (await runCli([file, '--json'])).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.at(-1)!.layer, 'summary');
  assert.ok(lines.some((l) => l.layer === 'afc' && l.opName === 'ReadDir'));
  assert.ok(lines.some((l) => l.layer === 'lockdown' && l.tls === true && (l.plist as Record<string, unknown>).Request === 'StartService'));
  assert.ok(lines.every((l) => !('raw' in l)));
  const one = (await runCli([file, '--json', '--stream', '0'])).trim().split('\n').map((l) => JSON.parse(l) as { stream?: number; layer: string });
  assert.ok(one.filter((l) => l.layer !== 'summary').every((l) => l.stream === 0));
  await assert.rejects(runCli([]), { code: 'ERR_INVALID_ARG' });
  await assert.rejects(runCli([file, '--port', 'x']), { code: 'ERR_INVALID_ARG' });
});

test('decode CLI: an unreadable capture or key log is a typed ERR_INVALID_ARG, not a raw fs error', async () => {
  await assert.rejects(runCli(['/nonexistent/iosdevice/none.pcapng']), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
  await assert.rejects(runCli([file, '--keylog', '/nonexistent/iosdevice/keys']), (e: unknown) => e instanceof IDeviceError && e.code === 'ERR_INVALID_ARG');
});

test('decode CLI: device options do not apply to a file and are refused', async () => {
  await assert.rejects(runCli([file, '--socket', 'UNIX:/tmp/x']), { code: 'ERR_INVALID_ARG' });
  await assert.rejects(runCli([file, '--usb']), { code: 'ERR_INVALID_ARG' });
});
