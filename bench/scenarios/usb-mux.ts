/**
 * Direct-USB mux throughput in-process: our host mux ↔ our device mux over the virtual endpoint pair, each direction
 * paced at the USB 2.0 high-speed bulk ceiling (13 × 512 B per 125 µs microframe = 53.2 MB/s), and unpaced (CPU bound).
 * Rows: device→host (what a photo pull does) and host→device through one mux stream, plus the link rate (the same
 * bytes as raw 48 KiB transfers through the same paced pair, no mux). Target: mux throughput / the paced rate (53.2 MB/s).
 */
import type { Duplex } from 'node:stream';
import { DeviceMux } from '../../src/usb/device-mux.ts';
import { HostMux } from '../../src/usb/host-mux.ts';
import { createVirtualUsbPair, USB2_BULK_BYTES_PER_SEC } from '../../src/usb/virtual-endpoints.ts';
import type { BenchContext, BenchMeasurement, BenchScenario, BenchTarget } from '../scenario.ts';

const PORT = 9100;
const CHUNK = Buffer.alloc(256 * 1024, 0xa5);

function sink(s: Duplex, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= total) resolve();
    });
    s.once('error', reject);
  });
}

function source(s: Duplex, total: number): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void s.once('drain', pump);
    }
  };
  pump();
}

async function muxRun(dir: 'd2h' | 'h2d', bytes: number, paced: boolean): Promise<{ seconds: number; cpu: number; rss: number }> {
  const pair = createVirtualUsbPair(paced ? { bytesPerSecond: USB2_BULK_BYTES_PER_SEC } : {});
  let done!: Promise<void>;
  new DeviceMux(pair.device, {
    services: (p) =>
      p === PORT
        ? (s) => {
            if (dir === 'd2h') source(s, bytes);
            else done = sink(s, bytes);
          }
        : undefined,
  });
  const mux = await HostMux.open(pair.host, { timeoutMs: 10_000 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const s = await mux.connect(PORT);
  if (dir === 'd2h') await sink(s, bytes);
  else {
    source(s, bytes);
    while (!done) await new Promise((r) => setImmediate(r));
    await done;
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const rss = process.memoryUsage().rss;
  await mux.close();
  return { seconds, cpu: (c.user + c.system) / 1e6, rss };
}

async function linkRate(bytes: number): Promise<number> {
  const pair = createVirtualUsbPair({ bytesPerSecond: USB2_BULK_BYTES_PER_SEC });
  const transfer = Buffer.alloc(49152 - 100, 1); // a full mux packet's worth, not a multiple of 512
  let got = 0;
  const all = new Promise<void>((resolve) =>
    pair.host.onData((c) => {
      got += c.length;
      if (got >= bytes) resolve();
    }),
  );
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += transfer.length) await pair.device.write(transfer);
  await all;
  const s = (performance.now() - t0) / 1000;
  pair.unplug();
  return s;
}

const scenario: BenchScenario = {
  name: 'usb-mux',
  description:
    'Direct-USB mux (host end + device end) over the in-process virtual endpoint pair: one stream, device→host and host→device, ' +
    'paced at the USB 2.0 bulk ceiling (53.2 MB/s per direction) and unpaced; link-rate = raw 48 KiB transfers through the same pacing.',
  async run(ctx: BenchContext) {
    const bytes = (ctx.quick ? 32 : 256) * 1024 * 1024;
    const rows: BenchMeasurement[] = [];
    const lr = await linkRate(bytes);
    const linkRow: BenchMeasurement = { case: 'raw-transfers', link: 'usb2-paced', client: 'link-rate', payloadBytes: bytes, seconds: lr, mbPerSec: bytes / lr / 1e6 };
    rows.push(linkRow);
    ctx.log(`link rate ${linkRow.mbPerSec!.toFixed(1)} MB/s`);
    const byCase = new Map<string, BenchMeasurement>();
    for (const paced of [true, false]) {
      for (const dir of ['d2h', 'h2d'] as const) {
        const r = await muxRun(dir, bytes, paced);
        const m: BenchMeasurement = {
          case: dir === 'd2h' ? 'mux-stream-device-to-host' : 'mux-stream-host-to-device',
          link: paced ? 'usb2-paced' : 'none',
          client: 'iosdevice',
          payloadBytes: bytes,
          seconds: r.seconds,
          mbPerSec: bytes / r.seconds / 1e6,
          cpuSecondsPerGB: r.cpu / (bytes / 1e9),
          peakRssMB: r.rss / 1e6,
          notes: 'host and device ends in one process: CPU covers both',
        };
        rows.push(m);
        byCase.set(`${m.case}/${m.link}`, m);
        ctx.log(`${m.case} ${m.link}: ${m.mbPerSec!.toFixed(1)} MB/s`);
      }
    }
    const paced = USB2_BULK_BYTES_PER_SEC / 1e6;
    const targets: BenchTarget[] = ['mux-stream-device-to-host', 'mux-stream-host-to-device'].map((c) => {
      const m = byCase.get(`${c}/usb2-paced`)!;
      const v = m.mbPerSec! / paced;
      return {
        name: `${c} / usb2 paced rate`,
        value: v,
        threshold: '>= 0.75',
        pass: v >= 0.75,
        detail: `${m.mbPerSec!.toFixed(1)} / ${paced.toFixed(1)} MB/s (mux + TCP headers, ACK packets sharing the link, window waits; raw transfers reach ${linkRow.mbPerSec!.toFixed(1)})`,
      };
    });
    return { measurements: rows, targets };
  },
};

export default scenario;
