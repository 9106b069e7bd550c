/**
 * Replays of captures/: the real tools' recordings are sent to a fresh emulator (replay plays the client, every live
 * reply must match), our client's recordings are served to our client (replay plays the device, every live request
 * must match). Mutated recordings must fail with ERR_CAPTURE_REPLAY_MISMATCH naming the first differing field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCapture } from '../../../src/capture/decode.ts';
import { ReplayMismatchError, ReplayServer, buildReplayScript, replayAgainst, type ReplayConnection } from '../../../src/capture/replay.ts';
import { CAPTURE_EMULATOR, CAPTURE_UDID, JOBS } from '../../../scripts/make-captures.ts';
import { startEmulator, type Emulator } from '../../../src/virtual-iphone/emulator.ts';
import { openDevice, openLockdownSession } from '../../../src/connect.ts';
import { parsePairRecord, type PairRecord } from '../../../src/pairing/pair-record.ts';

const dir = fileURLToPath(new URL('../../../captures/', import.meta.url));

function script(file: string): ReplayConnection[] {
  return buildReplayScript(decodeCapture(readFileSync(join(dir, file))));
}

async function emulator(paired: boolean): Promise<{ emu: Emulator; credentials?: PairRecord }> {
  const emu = await startEmulator({ ...CAPTURE_EMULATOR, dcim: { ...CAPTURE_EMULATOR.dcim } });
  if (!paired) return { emu };
  const dev = await openDevice({ socket: emu.address, env: {} }, { timeoutMs: 10_000 });
  const { lockdown } = await openLockdownSession(dev, { autoPair: true, timeoutMs: 10_000 });
  await lockdown.stopSession();
  lockdown.close();
  return { emu, credentials: parsePairRecord((await emu.records.read(CAPTURE_UDID))!) };
}

/** Replaces text inside the raw bytes of the first step matching `pick` (same length keeps the framing valid). */
function mutate(s: ReplayConnection[], pick: (raw: string, dir: string) => boolean, from: string, to: string): void {
  assert.equal(from.length, to.length);
  for (const c of s) {
    for (const st of c.steps) {
      const text = st.raw.toString('latin1');
      if (pick(text, st.dir) && text.includes(from)) {
        st.raw = Buffer.from(text.replace(from, to), 'latin1');
        return;
      }
    }
  }
  assert.fail(`nothing to mutate: ${from}`);
}

for (const [file, paired] of [['tools-idevicepair-pair.pcapng', false], ['tools-ideviceinfo.pcapng', true], ['tools-ifuse-dcim.pcapng', true]] as const) {
  test(`replay: the real tool's ${file} against our emulator matches reply by reply`, async () => {
    const { emu, credentials } = await emulator(paired);
    try {
      const r = await replayAgainst(script(file), emu.address, { ...(credentials ? { credentials } : {}), stepTimeoutMs: 10_000 });
      assert.deepEqual(r.tlsSkipped, []);
      assert.ok(r.steps >= 16, String(r.steps));
    } finally {
      await emu.close();
    }
  });
}

test('replay: a mutated lockdown reply in the ideviceinfo recording fails with the field path', async () => {
  const s = script('tools-ideviceinfo.pcapng');
  mutate(s, (t, d) => d === 's2c' && t.includes('<string>ProductVersion</string>') && t.includes('<string>17.5</string>') && !t.includes('ActivationState'), '<string>17.5</string>', '<string>17.4</string>');
  const { emu, credentials } = await emulator(true);
  try {
    await assert.rejects(replayAgainst(s, emu.address, { credentials: credentials!, stepTimeoutMs: 10_000 }), (e: unknown) => {
      assert.ok(e instanceof ReplayMismatchError);
      assert.equal(e.code, 'ERR_CAPTURE_REPLAY_MISMATCH');
      assert.equal(e.layer, 'lockdown');
      assert.equal(e.diff.path, 'lockdown.Value');
      assert.equal(e.diff.expected, '"17.4"');
      assert.equal(e.diff.actual, '"17.5"');
      return true;
    });
  } finally {
    await emu.close();
  }
});

test('replay: a flipped byte of recorded file data (ifuse) fails with the AFC data offset', async () => {
  const s = script('tools-ifuse-dcim.pcapng');
  const conn = s.find((c) => c.steps.some((st) => st.layer === 'afc'))!;
  const data = conn.steps.find((st) => st.layer === 'afc' && st.dir === 's2c' && st.raw.length > 4000 && st.raw.readBigUInt64LE(32) === 2n)!;
  data.raw = Buffer.from(data.raw);
  data.raw[40 + 1234] ^= 0xff;
  const { emu, credentials } = await emulator(true);
  try {
    await assert.rejects(replayAgainst(s, emu.address, { credentials: credentials!, stepTimeoutMs: 10_000 }), (e: unknown) => {
      assert.ok(e instanceof ReplayMismatchError);
      assert.equal(e.code, 'ERR_CAPTURE_REPLAY_MISMATCH');
      assert.equal(e.diff.path, 'afc.data[1234]');
      return true;
    });
  } finally {
    await emu.close();
  }
});

async function serve(file: string, s: ReplayConnection[], run: (address: string) => Promise<void>): Promise<ReplayServer> {
  const tmp = mkdtempSync(join(tmpdir(), 'iosdevice-replay-'));
  const server = new ReplayServer(s, { stepTimeoutMs: 10_000 });
  try {
    const address = await server.listen(join(tmp, 'usbmuxd'));
    await run(address);
    return server;
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };

for (const job of JOBS.find((g) => g.group === 'ours')!.jobs) {
  test(`replay: our client against its own recording ${job.file} (device side served from the capture)`, async () => {
    const s = script(job.file);
    const server = await serve(job.file, s, (address) => job.run(address, env, undefined as never));
    assert.deepEqual(server.mismatches, []);
    assert.deepEqual([...server.completed].sort(), s.map((c) => c.stream).sort());
  });
}

test('replay: our client deviating from a mutated recording is caught (first differing field)', async () => {
  const s = script('ours-info.pcapng');
  mutate(s, (t, d) => d === 'c2s' && t.includes('<string>GetValue</string>') && t.includes('ProductVersion'), 'ProductVersion', 'ProductVersioX');
  const job = JOBS.find((g) => g.group === 'ours')!.jobs.find((j) => j.file === 'ours-info.pcapng')!;
  let clientError: unknown;
  const server = await serve('ours-info.pcapng', s, async (address) => {
    await job.run(address, env, undefined as never).catch((e: unknown) => (clientError = e));
  });
  assert.ok(clientError, 'the client saw its connection closed');
  assert.equal(server.mismatches.length, 1);
  const m = server.mismatches[0]!;
  assert.equal(m.code, 'ERR_CAPTURE_REPLAY_MISMATCH');
  assert.equal(m.layer, 'lockdown');
  assert.deepEqual(m.diff, { path: 'lockdown.Key', expected: '"ProductVersioX"', actual: '"ProductVersion"' });
});

test('replay server: listen never deletes a regular file at the socket path', async () => {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'iosdevice-replay-'));
  try {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'keep');
    const server = new ReplayServer([]);
    await assert.rejects(server.listen(f), { code: 'ERR_INVALID_ARG' });
    assert.equal(readFileSync(f, 'utf8'), 'keep');
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
