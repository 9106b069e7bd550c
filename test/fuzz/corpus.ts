/**
 * Seed corpora for the fuzzer, built at run time (nothing is written anywhere): the project's own recordings in
 * captures/ and, when present, the real third-party captures in ../shared/captures/third-party (read in place, never
 * copied into the repository; skipped cleanly when absent). Each capture is decoded with the project's own decoders
 * and cut into per-layer seeds: usbmux streams per direction, lockdown frame streams, AFC streams, AFC bodies,
 * plist bodies (XML and binary, plus re-encodings of every decoded plist), pair records, PEMs and DER, per-stream
 * sub-captures, synthetic USB-mux packets carrying real payloads, and media files for the date readers.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCapture, decodeStream, looksLikeUsbmux } from '../../src/capture/decode.ts';
import { PcapngWriter, readPcapng } from '../../src/capture/pcapng.ts';
import { parseTcpFrame, reassemble } from '../../src/capture/tcp.ts';
import { encodeBinaryPlist, encodeXmlPlist, type PlistDict, type PlistValue } from '../../src/plist/index.ts';
import { encodeLockdownFrame } from '../../src/lockdown/codec.ts';
import { AFC_MAGIC } from '../../src/afc/protocol.ts';
import { AfcDecoder } from '../../src/afc/codec.ts';
import { encodeMuxPacket } from '../../src/usb/packet.ts';
import { MuxProtocol, encodeControlPayload, encodeVersionPayload } from '../../src/usb/header.ts';
import { TcpFlags } from '../../src/usb/tcp.ts';
import { parsePairRecord } from '../../src/pairing/pair-record.ts';
import { pemToDer, publicKeyToPkcs1Pem } from '../../src/pairing/pem.ts';
import { generatePairingCertificates, generateRsaKeyPair } from '../../src/pairing/certificates.ts';
import { heicParts, jpegParts, movParts, pngParts, type FilePart } from '../../src/virtual-iphone/media/formats.ts';
import { makeHeic, makeJpeg, makeMovie, makeTiff } from '../unit/photos/media.ts';
import { thirdPartyDir } from '../support/captures.ts';

/** Seeds per layer. */
export interface Corpus {
  captures: Buffer[];
  usbmuxC2S: Buffer[];
  usbmuxS2C: Buffer[];
  lockdown: Buffer[];
  afc: Buffer[];
  afcBodies: Buffer[];
  plistXml: Buffer[];
  plistBinary: Buffer[];
  pairRecords: Buffer[];
  pems: Buffer[];
  ders: Buffer[];
  usbMux: Buffer[];
  media: Buffer[];
  /** Where the seeds came from (for the report). */
  sources: { ownCaptures: number; thirdParty: string };
}

const SEED_CAP = 64 * 1024;
const root = fileURLToPath(new URL('../..', import.meta.url));

class Bag {
  readonly #seen = new Set<string>();
  readonly items: Buffer[] = [];
  constructor(readonly cap = SEED_CAP, readonly max = 400) {}
  add(b: Buffer | undefined): void {
    if (!b || b.length === 0 || this.items.length >= this.max) return;
    const x = b.length > this.cap ? b.subarray(0, this.cap) : b;
    const k = `${x.length}:${x.subarray(0, 64).toString('hex')}:${x.subarray(-64).toString('hex')}`;
    if (this.#seen.has(k)) return;
    this.#seen.add(k);
    this.items.push(Buffer.from(x));
  }
}

function materialise(parts: readonly FilePart[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(Math.min(p, 4096), 0x5a) : p)));
}

/** Per-connection sub-captures of a pcapng file (first `maxPackets` packets of each TCP connection). */
function subCaptures(file: Buffer, maxPackets = 48, maxStreams = 64): Buffer[] {
  const pc = readPcapng(file);
  const groups = new Map<string, { lt: number; pk: typeof pc.packets }>();
  for (const p of pc.packets) {
    const lt = pc.interfaces[p.interfaceId]?.linkType ?? 101;
    let seg;
    try {
      seg = parseTcpFrame(lt, p.data);
    } catch {
      continue;
    }
    if (!seg) continue;
    const a = `${seg.src}:${seg.srcPort}`;
    const b = `${seg.dst}:${seg.dstPort}`;
    const key = `${lt}|${a < b ? a + b : b + a}`;
    let g = groups.get(key);
    if (!g) {
      if (groups.size >= maxStreams) continue;
      groups.set(key, (g = { lt, pk: [] }));
    }
    if (g.pk.length < maxPackets) g.pk.push(p);
  }
  const out: Buffer[] = [];
  for (const g of groups.values()) {
    const w = new PcapngWriter({ linkType: g.lt, resolution: 'ns' });
    out.push(Buffer.concat([w.header(), ...g.pk.map((p) => w.packet(p.timestampNs ?? 0n, p.data)), ...pc.secrets.map((s) => w.keylog(s.data))]));
  }
  return out;
}

function collectPlists(v: PlistValue, into: PlistDict[], depth = 0): void {
  if (depth > 4 || v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Date) return;
  if (Array.isArray(v)) for (const x of v) collectPlists(x, into, depth + 1);
  else if (!(typeof v === 'bigint')) {
    into.push(v as PlistDict);
    for (const x of Object.values(v as PlistDict)) collectPlists(x, into, depth + 1);
  }
}

/** An AFC stream cut at packet boundaries into windows of at most `max` bytes (a packet longer than that alone). */
function afcWindows(b: Buffer, max = 8192): Buffer[] {
  const ends: number[] = [];
  const d = new AfcDecoder({ maxData: 64 * 1024 * 1024 });
  d.push(b);
  let at = 0;
  try {
    for (let e = d.next(); e; e = d.next()) if (e.kind === 'end') ends.push((at += e.header.entireLength));
  } catch {
    // a damaged stream: windows up to the damage
  }
  const out: Buffer[] = [];
  let start = 0;
  let prev = 0;
  for (const end of ends) {
    if (end - start > max && prev > start) {
      out.push(b.subarray(start, prev));
      start = prev;
    }
    prev = end;
  }
  if (prev > start) out.push(b.subarray(start, prev));
  if (prev < b.length) out.push(b.subarray(prev, prev + max));
  return out;
}

const cached = new Map<boolean, Corpus>();

/** Builds (once per process) the seed corpora. `thirdParty: false` leaves the shared captures out. */
export function loadCorpus(opts: { thirdParty?: boolean } = {}): Corpus {
  const withThirdParty = opts.thirdParty !== false;
  const hit = cached.get(withThirdParty);
  if (hit) return hit;
  const caps = new Bag(256 * 1024, 200);
  const c2s = new Bag();
  const s2c = new Bag();
  const lockdown = new Bag();
  const afc = new Bag();
  const afcBodies = new Bag();
  const xml = new Bag();
  const bin = new Bag();
  const pairs = new Bag();
  const pems = new Bag();
  const ders = new Bag();
  const mux = new Bag();
  const media = new Bag(256 * 1024);
  const dicts: PlistDict[] = [];

  const own = readdirSync(join(root, 'captures')).filter((f) => f.endsWith('.pcapng')).map((f) => readFileSync(join(root, 'captures', f)));
  const files: Buffer[] = [...own];
  const tp = withThirdParty ? thirdPartyDir() : undefined;
  const rawBins: Buffer[] = [];
  if (tp) {
    const midi = join(tp, 'usbmuxd_debug', 'midi.pcapng');
    if (existsSync(midi)) files.push(readFileSync(midi));
    for (const dir of ['appium-ios-device', 'SteveTrewick-USBmuxd', join('usbmuxd_debug', 'derived', 'streams')]) {
      const d = join(tp, dir);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) if (f.endsWith('.bin') && statSync(join(d, f)).size <= SEED_CAP) rawBins.push(readFileSync(join(d, f)));
    }
    for (const f of ['usbmuxd_debug/derived/pair_record_from_readpairrecord.plist']) if (existsSync(join(tp, f))) pairs.add(readFileSync(join(tp, f)));
    for (const f of ['device_cetificate.pem', 'host_cetificate.pem', 'host_private_key.pem']) {
      const p = join(tp, 'usbmuxd_debug', f);
      if (existsSync(p)) pems.add(readFileSync(p));
    }
  }

  for (const f of files) {
    if (f.length <= 256 * 1024) caps.add(f);
    for (const s of subCaptures(f)) caps.add(s);
    const d = decodeCapture(f);
    for (const s of d.streams) {
      for (const e of s.events) {
        if (e.layer === 'usbmux' && e.raw) {
          (e.dir === 'c2s' ? c2s : s2c).add(e.raw);
          if (e.message === 8) {
            const body = e.raw.subarray(16);
            (body.subarray(0, 6).toString('latin1') === 'bplist' ? bin : xml).add(body);
          }
          if (e.plist) collectPlists(e.plist, dicts);
          const prd = e.plist?.PairRecordData;
          if (Buffer.isBuffer(prd)) pairs.add(prd);
        } else if (e.layer === 'lockdown') {
          if (e.raw) (e.format === 'binary' ? bin : xml).add(e.raw);
          collectPlists(e.plist, dicts);
          lockdown.add(Buffer.concat(encodeLockdownFrame(e.plist)));
        } else if (e.layer === 'afc' && e.raw) {
          if (e.dir === 's2c' && (e.names || e.info)) afcBodies.add(e.raw.subarray(Number(e.raw.readBigUInt64LE(16))));
        }
      }
    }
  }
  // Raw streams: each direction of each usbmux connection, cut where the device traffic starts and where TLS starts.
  for (const f of files) {
    const pc = readPcapng(f);
    for (const st of reassemble(pc.packets, (i) => pc.interfaces[i]?.linkType ?? 101)) {
      if (!looksLikeUsbmux(st.c2s.data)) continue;
      const sum = decodeStream(st);
      c2s.add(st.c2s.data.subarray(0, sum.c2sTail ?? st.c2s.data.length));
      s2c.add(st.s2c.data.subarray(0, sum.s2cTail ?? st.s2c.data.length));
      if (sum.c2sTail === undefined || sum.s2cTail === undefined) continue;
      const dev = [st.c2s.data.subarray(sum.c2sTail, sum.c2sTls), st.s2c.data.subarray(sum.s2cTail, sum.s2cTls)];
      if (sum.protocol === 'afc') for (const b of dev) for (const w of afcWindows(b)) afc.add(w);
      else if (sum.protocol === 'lockdown' || sum.protocol === 'plist' || sum.protocol === 'tls') for (const b of dev) lockdown.add(b);
    }
  }
  for (const b of rawBins) {
    if (b.length >= 8 && b.subarray(0, 8).equals(AFC_MAGIC)) for (const w of afcWindows(b)) afc.add(w);
    else if (looksLikeUsbmux(b)) {
      c2s.add(b);
      s2c.add(b);
    } else if (b.length >= 5 && b.readUInt32BE(0) > 0 && b.readUInt32BE(0) <= b.length) lockdown.add(b);
    else {
      c2s.add(b);
      s2c.add(b);
    }
  }
  // Every decoded plist, re-encoded both ways: realistic structures for the plist decoders.
  for (const v of dicts.slice(0, 300)) {
    try {
      xml.add(encodeXmlPlist(v));
      bin.add(encodeBinaryPlist(v));
    } catch {
      // a value our encoders refuse (e.g. an odd integer) is just not a seed
    }
  }
  for (const p of pairs.items) {
    try {
      const r = parsePairRecord(p);
      for (const pem of [r.DeviceCertificate, r.HostCertificate, r.RootCertificate, r.HostPrivateKey, r.RootPrivateKey]) pems.add(pem);
    } catch {
      // not every PairRecordData parses (tests of our own refusal paths): still a seed
    }
  }
  // One fresh set from our own generator (private keys stay in memory).
  const dev = publicKeyToPkcs1Pem(generateRsaKeyPair().publicKey);
  const gen = generatePairingCertificates(dev);
  for (const v of Object.values(gen)) if (Buffer.isBuffer(v) || typeof v === 'string') pems.add(Buffer.from(v));
  pems.add(dev);
  for (const p of pems.items) {
    try {
      ders.add(pemToDer(p));
    } catch {
      // armour we cannot read: still a PEM seed
    }
  }
  // Synthetic USB-mux packets (our own transport has no third-party captures) carrying real payloads.
  const payloads = [...lockdown.items, ...afc.items].map((b) => b.subarray(0, 2000));
  let seq = 1;
  for (const version of [1, 2] as const) {
    mux.add(encodeMuxPacket(version, { protocol: MuxProtocol.Version }, undefined, encodeVersionPayload(2, 0)));
    mux.add(encodeMuxPacket(version, { protocol: MuxProtocol.Control }, undefined, encodeControlPayload(7, 'hello from the device')));
    for (const p of payloads.slice(0, 40)) {
      mux.add(encodeMuxPacket(version, { protocol: MuxProtocol.Tcp, txSeq: seq, rxSeq: seq - 1 }, { sport: 49152 + seq, dport: 62078, seq: seq * 1000, ack: seq * 7, flags: TcpFlags.ACK, window: 512 }, p));
      seq++;
    }
    mux.add(encodeMuxPacket(version, { protocol: MuxProtocol.Tcp }, { sport: 1, dport: 62078, seq: 0, ack: 0, flags: TcpFlags.SYN, window: 512 }, undefined));
  }
  // Media for the date readers.
  const when = new Date(Date.UTC(2022, 6, 4, 12, 30, 0));
  for (const date of ['2021:12:24 20:00:00', '2023:02:31 10:00:00', '0000:00:00 00:00:00', '                   ']) {
    media.add(makeJpeg(date, 64));
    media.add(makeHeic(date, 64));
    media.add(makeTiff(date));
  }
  media.add(materialise(jpegParts(2000, { captureDate: when })));
  media.add(materialise(pngParts(2000, { captureDate: when }, (n) => Buffer.alloc(n, 1))));
  media.add(materialise(heicParts(2000, { captureDate: when })));
  media.add(materialise(movParts(2000, when)));
  media.add(materialise(movParts(2000, when, { contentId: '6F1C2D3E-4A5B-4C6D-8E9F-0A1B2C3D4E5F', noFtyp: true })));
  media.add(makeMovie(2_082_844_800 + when.getTime() / 1000, '2022-07-04T14:30:00+0200'));
  media.add(makeMovie(2 ** 40));
  const corpus: Corpus = {
    captures: caps.items, usbmuxC2S: c2s.items, usbmuxS2C: s2c.items, lockdown: lockdown.items, afc: afc.items,
    afcBodies: afcBodies.items, plistXml: xml.items, plistBinary: bin.items, pairRecords: pairs.items, pems: pems.items,
    ders: ders.items, usbMux: mux.items, media: media.items,
    sources: { ownCaptures: own.length, thirdParty: tp ?? 'absent' },
  };
  cached.set(withThirdParty, corpus);
  return corpus;
}
