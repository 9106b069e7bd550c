/**
 * Child process of the raw-ceiling row: reads everything from a unix socket into a local file and prints
 * { baselineRssBytes, bytes, seconds, cpuSeconds, peakRssBytes, heapUsedBytes, arrayBuffersBytes }.
 *   Args: --socket PATH --out FILE
 */
import { createWriteStream } from 'node:fs';
import * as net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { MemorySampler, peakRssBytes, selfUsage } from '../self-usage.ts';

const i = process.argv.indexOf('--socket');
const o = process.argv.indexOf('--out');
const sock = net.connect(process.argv[i + 1]!);
await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
const baselineRssBytes = peakRssBytes();
const mem = new MemorySampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let bytes = 0;
sock.on('data', (c: Buffer) => (bytes += c.length));
await pipeline(sock, createWriteStream(process.argv[o + 1]!));
const seconds = (performance.now() - t0) / 1000;
const u = selfUsage(cpu0);
const peaks = mem.stop();
console.log(JSON.stringify({ baselineRssBytes, bytes, seconds, cpuSeconds: u.cpuSeconds, peakRssBytes: u.peakRssBytes, ...peaks }));
