/**
 * Child process of the AFC benchmark: pulls a remote file or tree with our AfcClient and prints one JSON line
 * { baselineRssBytes, bytes, files, seconds, cpuSeconds, peakRssBytes, heapUsedBytes, arrayBuffersBytes, bytesCopied }.
 *   --afc-socket PATH      AFC directly on a unix socket (serveAfc)
 *   --usbmuxd ADDRESS      through the emulator: usbmuxd → lockdown → StartService(com.apple.afc)
 *   --remote PATH --local DIR [--concurrency N] [--chunk BYTES] [--in-flight N] [--window N]
 * Options not given keep the library's defaults (what `iosdevice afc pull` uses).
 */
import { AfcClient } from '../../src/afc/client.ts';
import { connectRecycled } from '../../src/afc/index.ts';
import { MemorySampler, peakRssBytes, selfUsage } from '../self-usage.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));

async function connect(): Promise<AfcClient> {
  const window = num('--window');
  const afcOpts = window !== undefined ? { maxInFlight: window } : {};
  const sockPath = arg('--afc-socket');
  if (sockPath) {
    const s = connectRecycled({ path: sockPath }); // as a library user would: reads into reused memory
    await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
    return new AfcClient(s, afcOpts);
  }
  const mux = arg('--usbmuxd');
  if (!mux) throw new Error('need --afc-socket or --usbmuxd');
  const { openDevice, connectAfc } = await import('../../src/connect.ts');
  const dev = await openDevice({ socket: mux }, { timeoutMs: 10_000 });
  return connectAfc(dev, { timeoutMs: 10_000, afc: afcOpts });
}

const client = await connect();
const remote = arg('--remote')!;
const local = arg('--local')!;
const baselineRssBytes = peakRssBytes();
const mem = new MemorySampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const [concurrency, chunkSize, maxInFlight] = [num('--concurrency'), num('--chunk'), num('--in-flight')];
const r = await client.pull(remote, local, {
  ...(concurrency !== undefined ? { concurrency } : {}),
  ...(chunkSize !== undefined ? { chunkSize } : {}),
  ...(maxInFlight !== undefined ? { maxInFlight } : {}),
});
const seconds = (performance.now() - t0) / 1000;
const u = selfUsage(cpu0);
const peaks = mem.stop();
client.close();
console.log(JSON.stringify({ baselineRssBytes, bytes: r.bytes, files: r.files, seconds, cpuSeconds: u.cpuSeconds, peakRssBytes: u.peakRssBytes, ...peaks, bytesCopied: client.bytesCopied }));
