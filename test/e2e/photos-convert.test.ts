/**
 * End to end: `iosdevice photos backup DEST --convert-heic jpeg` (the real CLI, a child process) against the
 * virtual iPhone serving a folder of real HEICs (made by heif-enc): the JPEG is written beside the HEIC with the
 * HEIC's DateTimeOriginal, --json output stays one JSON object per line (the HEIC decoder prints nothing), a
 * rerun converts nothing, and --heic-original without --convert-heic is a usage error (exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/virtual-iphone/emulator.ts';
import { buildExifTiff } from '../../src/virtual-iphone/media/exif-tiff.ts';
import { encodeJpeg } from '../../src/virtual-iphone/media/jpeg-encode.ts';
import { renderScene } from '../../src/virtual-iphone/media/scenes.ts';
import { skipUnlessTools } from '../support/peers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'iosdevice.mjs');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

test('e2e: photos backup --convert-heic jpeg writes IMG_0001.JPG beside IMG_0001.HEIC with its EXIF date; --json stays clean; the rerun converts nothing', { skip: skipUnlessTools('heif-enc', 'exiftool') }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'photos-convert-e2e-'));
  const media = join(tmp, 'media');
  mkdirSync(join(media, 'DCIM', '100APPLE'), { recursive: true });
  const jpg = join(tmp, 'in.jpg');
  writeFileSync(jpg, encodeJpeg(renderScene(5, 320, 240), 320, 240, { quality: 85, exifTiff: buildExifTiff({ captureDate: new Date(Date.UTC(2021, 4, 9, 8, 7, 6)), width: 320, height: 240 }) }));
  execFileSync('heif-enc', ['-q', '60', '-o', join(media, 'DCIM', '100APPLE', 'IMG_0001.HEIC'), jpg], { stdio: 'ignore', timeout: 30_000 });
  const emu = await startEmulator({ socket: `UNIX:${join(tmp, 'mux.sock')}`, mediaDir: media, trust: 'auto', trustDelayMs: 100 });
  try {
    const dest = join(tmp, 'dest');
    const usage = await cli(['photos', 'backup', dest, '--socket', emu.address, '--heic-original', 'drop']);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--heic-original goes with --convert-heic jpeg/);
    const r = await cli(['photos', 'backup', dest, '--socket', emu.address, '--json', '--convert-heic', 'jpeg']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-800));
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; converted?: { written: number; upToDate: number } });
    const s = lines.find((l) => l.type === 'summary')!;
    assert.equal(s.converted!.written, 1);
    assert.ok(lines.some((l) => l.type === 'converted'));
    const out = join(dest, 'Virtual iPhone', '100APPLE');
    assert.ok(existsSync(join(out, 'IMG_0001.HEIC')) && existsSync(join(out, 'IMG_0001.JPG')));
    const tags = JSON.parse(execFileSync('exiftool', ['-j', '-DateTimeOriginal', '-FileType', join(out, 'IMG_0001.JPG')], { encoding: 'utf8' })) as Record<string, unknown>[];
    assert.deepEqual([tags[0]!['FileType'], tags[0]!['DateTimeOriginal']], ['JPEG', '2021:05:09 08:07:06']);
    const again = await cli(['photos', 'backup', dest, '--socket', emu.address, '--convert-heic', 'jpeg']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /--convert-heic jpeg: 0 JPEG\(s\) written, 1 already there/);
  } finally {
    await emu.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
