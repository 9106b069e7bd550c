/**
 * External oracles for "real image bytes": the generated JPEGs (every padding edge case, 0xFF filler included) are
 * decoded by libjpeg-turbo through a tiny C program compiled for the test (skips without gcc/jpeglib.h); PNG chunks are
 * checked with Python's zlib (CRC-32, inflate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jpegParts, partsLength, pngParts } from '../../../src/virtual-iphone/media/formats.ts';
import { runTool } from '../../support/emulator.ts';
import { execFileSync } from 'node:child_process';

function hasGcc(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
const skip = !hasGcc() || !existsSync('/usr/include/jpeglib.h') ? 'gcc and libjpeg(-turbo) headers are needed for the decoder oracle' : false;

const DECODER = `
#include <stdio.h>
#include <setjmp.h>
#include <jpeglib.h>
struct err { struct jpeg_error_mgr pub; jmp_buf jb; };
static void on_err(j_common_ptr c) { char m[JMSG_LENGTH_MAX]; (*c->err->format_message)(c, m); fprintf(stderr, "%s\\n", m); longjmp(((struct err *)c->err)->jb, 1); }
static void on_msg(j_common_ptr c, int level) { if (level < 0) c->err->num_warnings++; }
int main(int argc, char **argv) {
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) { bad++; continue; }
    struct jpeg_decompress_struct d; struct err e;
    d.err = jpeg_std_error(&e.pub); e.pub.error_exit = on_err; e.pub.emit_message = on_msg;
    if (setjmp(e.jb)) { printf("%s FAIL\\n", argv[i]); jpeg_destroy_decompress(&d); fclose(f); bad++; continue; }
    jpeg_create_decompress(&d); jpeg_stdio_src(&d, f); jpeg_read_header(&d, TRUE); jpeg_start_decompress(&d);
    JSAMPARRAY row = (*d.mem->alloc_sarray)((j_common_ptr)&d, JPOOL_IMAGE, d.output_width * d.output_components, 1);
    long sum = 0;
    while (d.output_scanline < d.output_height) { jpeg_read_scanlines(&d, row, 1); for (unsigned k = 0; k < d.output_width * d.output_components; k++) sum += row[0][k]; }
    jpeg_finish_decompress(&d);
    printf("%s %ux%u warnings=%ld mean=%ld\\n", argv[i], d.output_width, d.output_height, e.pub.num_warnings, sum / (long)(d.output_width * d.output_height));
    jpeg_destroy_decompress(&d); fclose(f);
  }
  return bad ? 1 : 0;
}
`;

test('libjpeg-turbo decodes every generated JPEG size edge case as an 8×8 grey image without warnings', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jpeg-oracle-'));
  try {
    await writeFile(join(dir, 'dj.c'), DECODER);
    const cc = await runTool('', 'gcc', ['-O1', '-o', join(dir, 'dj'), join(dir, 'dj.c'), '-ljpeg'], { timeoutMs: 60_000 });
    assert.equal(cc.code, 0, cc.stderr);
    const min = partsLength(jpegParts(0, { captureDate: new Date(0) }));
    // below the minimum, exact minimum, 1-3 byte remainders (go into APP1), one COM segment boundary, many segments
    const sizes = [0, min, min + 1, min + 2, min + 3, min + 4, min + 5, min + 65537, min + 65538, min + 65541, min + 1_000_000];
    const files: string[] = [];
    for (const size of sizes) {
      const parts = jpegParts(size, { captureDate: new Date(Date.UTC(2022, 1, 3, 4, 5, 6)) });
      // worst-case filler: all 0xFF (marker bytes) inside the COM segments
      const buf = Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p, 0xff) : p)));
      assert.equal(buf.length, Math.max(size, min));
      const f = join(dir, `s${size}.jpg`);
      await writeFile(f, buf);
      files.push(f);
    }
    const r = await runTool('', join(dir, 'dj'), files, { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, files.length);
    for (const l of lines) assert.match(l, / 8x8 warnings=0 mean=128$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const PNG_CHECK = `
import sys, zlib, struct
bad = 0
for path in sys.argv[1:]:
    b = open(path, 'rb').read()
    assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n', path
    p, idat, types = 8, b'', []
    while p < len(b):
        n, = struct.unpack('>I', b[p:p+4]); t = b[p+4:p+8]; d = b[p+8:p+8+n]
        crc, = struct.unpack('>I', b[p+8+n:p+12+n])
        if zlib.crc32(t + d) & 0xffffffff != crc: bad += 1; print(path, 'CRC', t)
        types.append(t.decode('latin1'))
        if t == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', d[:10])
        if t == b'IDAT': idat += d
        p += 12 + n
    raw = zlib.decompress(idat)
    print(path, '%dx%d' % (w, h), len(raw), ','.join(types))
sys.exit(1 if bad else 0)
`;

test('Python zlib/CRC-32 (independent) validates every PNG chunk and inflates the image data', { skip: !existsSync('/usr/bin/python3') && 'python3 missing' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'png-oracle-'));
  try {
    await writeFile(join(dir, 'check.py'), PNG_CHECK);
    const files: string[] = [];
    for (const size of [0, 100, 300_000]) {
      const parts = pngParts(size, { captureDate: new Date(Date.UTC(2020, 0, 2)) }, (n) => Buffer.alloc(n, 0xab));
      const f = join(dir, `p${size}.png`);
      await writeFile(f, Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p) : p))));
      files.push(f);
    }
    const r = await runTool('', 'python3', [join(dir, 'check.py'), ...files], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const l of r.stdout.trim().split('\n')) assert.match(l, / 1x1 4 IHDR,eXIf,IDAT,(prVt,)?IEND$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
