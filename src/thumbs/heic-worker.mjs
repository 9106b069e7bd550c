// Worker thread of src/thumbs/decode.ts: decodes HEIC/HEIF images with heic-decode (libheif compiled to WASM)
// off the main thread, so a 0.8 s full decode never stalls the server. Plain JavaScript: workers do not get
// the tsx loader. Message in: { id, buf: Uint8Array }; out: { id, width, height, data: Uint8ClampedArray RGBA }
// (transferred) or { id, error }.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

const decode = createRequire(import.meta.url)('heic-decode');
// libheif-js reports a file it cannot parse with console.log ("Could not parse HEIF file …") before the decode
// rejects; a worker's console goes to the parent's stdout, where it would corrupt `--json` output. The error
// reaches the caller through the rejection, so these prints are dropped.
globalThis.console.log = () => undefined;
globalThis.console.info = () => undefined;

parentPort.on('message', async ({ id, buf }) => {
  try {
    const { width, height, data } = await decode({ buffer: buf });
    parentPort.postMessage({ id, width, height, data }, [data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
