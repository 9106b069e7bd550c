// Copy the camera roll (/DCIM) to a folder, with a progress line; then stream one photo with its own progress.
// Run: node pull-dcim.mjs ./my-dcim
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connectAfc, openDevice } from 'iosdevice';

const target = process.argv[2] ?? './DCIM';
const afc = await connectAfc(await openDevice()); // pairs first if needed (tap Trust on the phone)
try {
  let files = 0;
  let bytes = 0;
  let first;
  for await (const { path, info } of afc.walk('/DCIM')) {
    if (info.type !== 'file') continue;
    files++;
    bytes += info.size;
    first ??= { path, size: info.size };
  }
  console.log(`/DCIM: ${files} files, ${(bytes / 1e6).toFixed(1)} MB`);

  let shown = 0;
  const result = await afc.pull('/DCIM', target, {
    onProgress: (p) => {
      if (Date.now() - shown < 200) return; // progress comes per chunk: redraw five times a second
      shown = Date.now();
      process.stdout.write(`\r${p.files}/${p.totalFiles} files, ${(p.bytes / 1e6).toFixed(1)} of ${(p.totalBytes / 1e6).toFixed(1)} MB`);
    },
  });
  console.log(`\ncopied ${result.files} files (${result.bytes} bytes) to ${target}`);

  if (first) {
    // one file as a stream (into your own Writable: a hash, an upload, a zip…)
    let done = 0;
    const source = afc.createReadStream(first.path);
    source.on('data', (chunk) => (done += chunk.length));
    await pipeline(source, createWriteStream(join(target, 'streamed-copy')));
    console.log(`streamed ${first.path}: ${done} of ${first.size} bytes`);
  }
} finally {
  afc.close();
}
