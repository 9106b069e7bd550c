/**
 * Replaying recorded sessions, in either role:
 * - {@link ReplayServer} plays the device side (a usbmuxd socket): each live client connection is matched to a
 *   recorded one, every live request is compared with the recorded request, then the recorded reply is sent
 *   (usbmux tags and AFC packet numbers renumbered to the live ones). At the TLS boundary it terminates TLS with a
 *   certificate of its own and continues with the decrypted recorded frames. Our client is tested against it.
 * - {@link replayAgainst} plays the client side against a live device (the emulator): recorded requests are sent in
 *   the recorded global order, every live reply is compared with the recorded reply; ports from StartService replies
 *   are mapped to the live ones, StartSession carries the given credentials, TLS uses them as the client certificate.
 * The first deviation is a {@link ReplayMismatchError} (ERR_CAPTURE_REPLAY_MISMATCH) naming the field.
 */
import { EventEmitter } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { duplexPair } from '../core/duplex-pair.ts';
import { encodeXmlPlist } from '../plist/index.ts';
import { isPlistDict } from '../plist/types.ts';
import { encodeHeader } from '../usbmux/protocol.ts';
import { decodePortNumber, encodePortNumber } from '../usbmux/port.ts';
import { parseMuxAddress } from '../usbmux/address.ts';
import { listenOn } from '../usbmux/listen-socket.ts';
import { generatePairingCertificates } from '../pairing/certificates.ts';
import type { PairRecord } from '../pairing/pair-record.ts';
import { tlsClientOptions, tlsServerOptions } from '../pairing/tls.ts';
import { TimeoutError } from '../core/errors.ts';
import type { Diff } from './compare.ts';
import {
  ByteReader, ReplayMismatchError, diffMessage, lockdownPlist, readMessage, usbmuxPlist,
  type ReplayConnection, type ReplayStep,
} from './replay-script.ts';

export { buildReplayScript, ReplayMismatchError, type ReplayConnection, type ReplayStep } from './replay-script.ts';

const DEFAULT_STEP_TIMEOUT = 10_000;

function lockdownFrame(body: Buffer): Buffer[] {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return [h, body];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

/** The live side of one connection: a reader and a writer that can be switched to TLS. */
class Channel {
  reader = new ByteReader();
  #sock: Duplex;
  #tlsOuter: Duplex | undefined;
  #tls: tls.TLSSocket | undefined;
  constructor(sock: Duplex) {
    this.#sock = sock;
    sock.on('data', (d: Buffer) => (this.#tlsOuter ? this.#tlsOuter.write(d) : this.reader.push(d)));
    sock.on('end', () => (this.#tlsOuter ? this.#tlsOuter.end() : this.reader.end()));
    sock.on('error', () => this.reader.end());
    sock.on('close', () => this.reader.end());
  }
  write(parts: Buffer[]): void {
    const w = this.#tls ?? this.#sock;
    if (w.destroyed) return;
    for (const p of parts) w.write(p);
  }
  /** Moves the connection into TLS (bytes already buffered go to TLS first). */
  async startTls(server: boolean, opts: tls.TlsOptions | tls.ConnectionOptions, timeoutMs: number): Promise<void> {
    const [inner, outer] = duplexPair();
    this.#tlsOuter = outer;
    outer.on('data', (d: Buffer) => this.#sock.write(d));
    outer.on('error', () => {});
    const pending = this.reader.drain();
    if (pending.length) outer.write(pending);
    const reader = new ByteReader();
    this.reader = reader;
    const sock = server
      ? new tls.TLSSocket(inner, { ...(opts as tls.TLSSocketOptions), isServer: true })
      : tls.connect({ ...(opts as tls.ConnectionOptions), socket: inner });
    this.#tls = sock;
    sock.on('data', (d: Buffer) => reader.push(d));
    sock.on('end', () => reader.end());
    sock.on('close', () => reader.end());
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new TimeoutError('replay TLS handshake', timeoutMs)), timeoutMs);
      sock.once(server ? 'secure' : 'secureConnect', () => (clearTimeout(t), resolve()));
      sock.once('error', (e) => (clearTimeout(t), reject(e)));
    });
    sock.on('error', () => reader.end());
  }
  close(): void {
    this.#tls?.end();
    this.#sock.end();
    setImmediate(() => this.#sock.destroy());
  }
}

function mismatch(step: ReplayStep, diff: Diff): ReplayMismatchError {
  return new ReplayMismatchError(step.stream, step.seq, step.layer, diff);
}

function failureDiff(e: unknown, what: string): Diff {
  const code = (e as { code?: string }).code ?? 'ERROR';
  return { path: what, expected: 'a message', actual: `${code}: ${(e as Error).message}` };
}

/** A self-made device identity for terminating TLS (the recorded device key is not in the capture). */
function replayTlsIdentity(): { key: string; cert: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const certs = generatePairingCertificates(pub);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certs.DeviceCertificate };
}

/** Options of {@link ReplayServer}. */
export interface ReplayServerOptions {
  stepTimeoutMs?: number;
}

/**
 * The device side of a recording, served to live clients. Events: 'mismatch'(ReplayMismatchError),
 * 'done'(stream) when a recorded connection was replayed to its end.
 */
export class ReplayServer extends EventEmitter {
  readonly mismatches: ReplayMismatchError[] = [];
  readonly completed: number[] = [];
  readonly #script: ReplayConnection[];
  readonly #used = new Set<number>();
  readonly #timeout: number;
  #identity: { key: string; cert: Buffer } | undefined;
  #server: Server | undefined;
  #path: string | undefined;
  readonly #socks = new Set<Socket>();

  constructor(script: ReplayConnection[], opts: ReplayServerOptions = {}) {
    super();
    this.#script = script;
    this.#timeout = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT;
  }

  /**
   * Listens on a unix socket path (a stale socket there is replaced); resolves with `UNIX:<path>`.
   * @throws InvalidArgumentError (ERR_INVALID_ARG) when the path holds anything but a dead socket (never deleted);
   *   the node:net listen error otherwise.
   */
  async listen(path: string): Promise<string> {
    const server = createServer((s) => {
      this.#socks.add(s);
      s.on('close', () => this.#socks.delete(s));
      this.handle(s);
    });
    await listenOn(server, { kind: 'unix', path });
    this.#server = server;
    this.#path = path;
    return `UNIX:${path}`;
  }

  /** Serves one live client connection. */
  handle(sock: Duplex): void {
    void this.#serve(new Channel(sock)).catch(() => undefined);
  }

  #fail(e: ReplayMismatchError, ch: Channel): void {
    this.mismatches.push(e);
    this.emit('mismatch', e);
    ch.close();
  }

  async #serve(ch: Channel): Promise<void> {
    let first: Buffer;
    try {
      first = await readMessage(ch.reader, 'usbmux', this.#timeout);
    } catch {
      ch.close();
      return;
    }
    const mt = usbmuxPlist(first)?.MessageType;
    let conn = this.#script.find((c) => !this.#used.has(c.stream) && c.request === mt);
    conn ??= this.#script.find((c) => !this.#used.has(c.stream));
    if (!conn) {
      const e = new ReplayMismatchError(-1, -1, 'usbmux', { path: 'connection', expected: '(no more recorded connections)', actual: String(mt) });
      this.#fail(e, ch);
      return;
    }
    this.#used.add(conn.stream);
    ch.reader.unshift(first);
    const steps = conn.steps;
    // The c2s step each reply waits for: AFC replies wait for the request with their packet number, others for the
    // last request before them.
    const trigger = steps.map((s, i) => {
      if (s.dir === 'c2s') return -1;
      if (s.layer === 'afc') {
        const pn = s.raw.readBigUInt64LE(24);
        for (let j = i - 1; j >= 0; j--) if (steps[j]!.dir === 'c2s' && steps[j]!.layer === 'afc' && steps[j]!.raw.readBigUInt64LE(24) === pn) return j;
      }
      for (let j = i - 1; j >= 0; j--) if (steps[j]!.dir === 'c2s') return j;
      return -1;
    });
    const sent = new Set<number>();
    let liveTag = 0;
    const afcNums = new Map<bigint, bigint>();
    const sendReady = (upTo: number): void => {
      for (const [i, s] of steps.entries()) {
        if (s.dir !== 's2c' || sent.has(i) || trigger[i]! > upTo) continue;
        if (trigger[i]! < 0 && upTo >= 0 && i > 0) continue;
        sent.add(i);
        if (s.layer === 'usbmux') {
          const b = Buffer.from(s.raw);
          if (b.readUInt32LE(12) !== 0) b.writeUInt32LE(liveTag, 12);
          ch.write([b]);
        } else if (s.layer === 'lockdown') ch.write(lockdownFrame(s.raw));
        else if (s.layer === 'afc') {
          const b = Buffer.from(s.raw);
          const pn = b.readBigUInt64LE(24);
          b.writeBigUInt64LE(afcNums.get(pn) ?? pn, 24);
          ch.write([b]);
        }
      }
    };
    sendReady(-1);
    for (const [i, s] of steps.entries()) {
      if (s.dir !== 'c2s') continue;
      if (s.layer === 'tls-start') {
        try {
          this.#identity ??= replayTlsIdentity();
          // like the virtual lockdownd: accept any client profile (TLS 1.0, SHA-1 certificates from libimobiledevice 1.3.0)
          await ch.startTls(true, tlsServerOptions(this.#identity.cert, this.#identity.key, true), this.#timeout);
        } catch (e) {
          this.#fail(mismatch(s, failureDiff(e, 'tls.handshake')), ch);
          return;
        }
        sendReady(i);
        continue;
      }
      let live: Buffer;
      try {
        live = await readMessage(ch.reader, s.layer, this.#timeout);
      } catch (e) {
        this.#fail(mismatch(s, failureDiff(e, `${s.layer} request`)), ch);
        return;
      }
      const diff = diffMessage(s, live);
      if (diff) {
        this.#fail(mismatch(s, diff), ch);
        return;
      }
      if (s.layer === 'usbmux') liveTag = live.readUInt32LE(12);
      if (s.layer === 'afc') afcNums.set(s.raw.readBigUInt64LE(24), live.readBigUInt64LE(24));
      sendReady(i);
    }
    sendReady(steps.length);
    this.completed.push(conn.stream);
    this.emit('done', conn.stream);
    if (conn.undecryptable) ch.close();
  }

  /** Stops listening and closes live connections. */
  async close(): Promise<void> {
    for (const s of this.#socks) s.destroy();
    if (this.#server) await new Promise<void>((r) => this.#server!.close(() => r()));
    if (this.#path && existsSync(this.#path)) unlinkSync(this.#path);
  }
}

/** Options of {@link replayAgainst}. */
export interface ReplayClientOptions {
  /** Pair record used for StartSession (HostID, SystemBUID) and as the TLS client certificate. Without it the replay of a connection stops at its TLS boundary. */
  credentials?: Pick<PairRecord, 'HostID' | 'SystemBUID' | 'HostCertificate' | 'HostPrivateKey'>;
  stepTimeoutMs?: number;
  /** Only these recorded streams (default all). */
  streams?: number[];
}

/** Result of {@link replayAgainst}. */
export interface ReplayClientResult {
  /** Steps compared or sent. */
  steps: number;
  /** Streams whose TLS part was skipped (no credentials or not decrypted). */
  tlsSkipped: number[];
}

/**
 * Sends the recorded client side to a live usbmuxd (the emulator) and compares every reply.
 * @throws ReplayMismatchError ERR_CAPTURE_REPLAY_MISMATCH at the first deviation.
 */
export async function replayAgainst(script: ReplayConnection[], address: string, opts: ReplayClientOptions = {}): Promise<ReplayClientResult> {
  const timeout = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT;
  const addr = parseMuxAddress(address);
  const conns = script.filter((c) => !opts.streams || opts.streams.includes(c.stream));
  const steps = conns.flatMap((c) => c.steps).sort((a, b) => a.seq - b.seq);
  const channels = new Map<number, Channel>();
  const skipped = new Set<number>();
  const ports = new Map<number, number>();
  const layerOf = new Map<number, ReplayStep['layer']>();
  let devicePublicKey: Buffer | undefined;
  const sessions = new Map<number, string>(); // stream → live SessionID
  let count = 0;
  try {
    for (const s of steps) {
      if (skipped.has(s.stream)) continue;
      let ch = channels.get(s.stream);
      if (!ch) {
        const sock = addr.kind === 'unix' ? netConnect(addr.path) : netConnect(addr.port, addr.host);
        sock.on('error', () => {});
        ch = new Channel(sock);
        channels.set(s.stream, ch);
      }
      count++;
      if (s.dir === 'c2s') {
        if (s.layer === 'tls-start') {
          if (!opts.credentials) {
            skipped.add(s.stream);
            ch.close();
            continue;
          }
          try {
            await ch.startTls(false, tlsClientOptions(opts.credentials), timeout);
          } catch (e) {
            throw mismatch(s, failureDiff(e, 'tls.handshake'));
          }
          continue;
        }
        if (s.layer === 'usbmux') {
          const d = usbmuxPlist(s.raw);
          const port = d && d.MessageType === 'Connect' ? num(d.PortNumber) : undefined;
          if (d && port !== undefined && ports.has(decodePortNumber(port))) {
            const body = encodeXmlPlist({ ...d, PortNumber: encodePortNumber(ports.get(decodePortNumber(port))!) });
            ch.write([encodeHeader(body.length, 1, 8, s.raw.readUInt32LE(12)), body]);
          } else ch.write([s.raw]);
        } else if (s.layer === 'lockdown') {
          const d = lockdownPlist(s.raw);
          if (d && d.Request === 'StartSession' && opts.credentials) {
            ch.write(lockdownFrame(encodeXmlPlist({ ...d, HostID: opts.credentials.HostID, SystemBUID: opts.credentials.SystemBUID })));
          } else if (d && d.Request === 'Pair' && isPlistDict(d.PairRecord) && devicePublicKey) {
            // The recorded certificates are bound to the recorded device's key: issue the same set for the live key.
            const c = generatePairingCertificates(devicePublicKey);
            const rec = { ...d.PairRecord, DeviceCertificate: c.DeviceCertificate, HostCertificate: c.HostCertificate, RootCertificate: c.RootCertificate };
            ch.write(lockdownFrame(encodeXmlPlist({ ...d, PairRecord: rec })));
          } else if (d && typeof d.SessionID === 'string' && sessions.has(s.stream)) {
            ch.write(lockdownFrame(encodeXmlPlist({ ...d, SessionID: sessions.get(s.stream)! })));
          } else ch.write(lockdownFrame(s.raw));
        } else ch.write([s.raw]);
        layerOf.set(s.stream, s.layer);
        continue;
      }
      let live: Buffer;
      try {
        live = await readMessage(ch.reader, s.layer, timeout);
      } catch (e) {
        throw mismatch(s, failureDiff(e, `${s.layer} reply`));
      }
      const diff = diffMessage(s, live);
      if (diff) throw mismatch(s, diff);
      if (s.layer === 'usbmux' && live.readUInt32LE(12) !== s.raw.readUInt32LE(12)) {
        throw mismatch(s, { path: 'usbmux.tag', expected: String(s.raw.readUInt32LE(12)), actual: String(live.readUInt32LE(12)) });
      }
      if (s.layer === 'afc' && live.readBigUInt64LE(24) !== s.raw.readBigUInt64LE(24)) {
        throw mismatch(s, { path: 'afc.packet_num', expected: String(s.raw.readBigUInt64LE(24)), actual: String(live.readBigUInt64LE(24)) });
      }
      if (s.layer === 'lockdown') {
        const rec = lockdownPlist(s.raw);
        const got = lockdownPlist(live);
        const rp = num(rec?.Port);
        const lp = num(got?.Port);
        if (rec?.Request === 'StartService' && rp !== undefined && lp !== undefined) ports.set(rp, lp);
        if (got?.Key === 'DevicePublicKey' && Buffer.isBuffer(got.Value)) devicePublicKey = got.Value;
        if (typeof got?.SessionID === 'string') sessions.set(s.stream, got.SessionID);
      }
    }
  } finally {
    for (const ch of channels.values()) ch.close();
  }
  return { steps: count, tlsSkipped: [...skipped] };
}
