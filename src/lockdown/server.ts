import { randomUUID, X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { IDeviceError } from '../core/errors.ts';
import type { PlistDict, PlistValue } from '../plist/types.ts';
import { isPlistDict } from '../plist/types.ts';
import { LockdownError } from './errors.ts';
import { LOCKDOWN_SERVICE_TYPE, LockdownRequest } from './protocol.ts';
import { tlsServerOptions } from '../pairing/tls.ts';
import { LockdownTransport } from './transport.ts';

/** Per-connection state the device sees. */
export interface LockdownContext {
  /** Increasing per serveLockdown call. */
  readonly connectionId: number;
  /** True while a TLS session is up on this connection. */
  readonly sessionActive: boolean;
  /** HostID of the active session. */
  readonly hostId: string | undefined;
  /** Label of the last request (the client tool's name). */
  readonly label: string | undefined;
}

/** What the device presents for a TLS session. */
export interface SessionIdentity {
  /** The DeviceCertificate the host registered at Pair (PEM). */
  certificate: Buffer | string;
  /** The device's private key. */
  privateKey: Buffer | string;
  /** Client certificates the device accepts (PEM): the host's RootCertificate and HostCertificate. */
  trustedCertificates: (Buffer | string)[];
}

/**
 * The device behind a lockdownd: values, trust/pairing state and services. Methods throw
 * {@link LockdownError} (its `error` string becomes the reply's `Error`); anything else is answered
 * with `Error: "InternalError"`.
 */
export interface LockdownDevice {
  queryType?(): string;
  getValue(domain: string | undefined, key: string | undefined, ctx: LockdownContext): PlistValue | Promise<PlistValue>;
  setValue(domain: string | undefined, key: string, value: PlistValue, ctx: LockdownContext): void | Promise<void>;
  removeValue(domain: string | undefined, key: string, ctx: LockdownContext): void | Promise<void>;
  /** Pair: `record` is the request's PairRecord; resolves with extra reply keys (EscrowBag). */
  pair(record: PlistDict, options: PlistDict | undefined, ctx: LockdownContext): Promise<PlistDict>;
  validatePair(record: PlistDict, ctx: LockdownContext): Promise<void>;
  unpair(record: PlistDict, ctx: LockdownContext): Promise<void>;
  /** StartSession: throws InvalidHostID for hosts the device does not trust. */
  startSession(hostId: string, systemBuid: string | undefined, ctx: LockdownContext): Promise<SessionIdentity>;
  startService(name: string, ctx: LockdownContext, opts: { escrowBag?: Buffer }): Promise<{ port: number; enableServiceSSL: boolean }>;
  /** Optional NSS key log file for the device's TLS sessions. */
  readonly keylogFile?: string;
}

/** A served lockdown connection. */
export interface LockdownServerConnection {
  /** Resolves when the connection has closed (with the error that closed it, if any). */
  readonly closed: Promise<IDeviceError | undefined>;
  close(): void;
}

let nextConnectionId = 1;

/**
 * Serves lockdownd on `stream` for `device`: QueryType, Get/Set/RemoveValue with domains, Pair /
 * ValidatePair / Unpair, StartSession with a real TLS upgrade (device certificate + key, client
 * certificate checked against the host's root/host certificate), StopSession back to plaintext,
 * StartService, Goodbye. Replies echo `Request`; unknown requests get `Error: "InvalidRequest"`;
 * unparsable bytes close the connection (never throw).
 */
export function serveLockdown(stream: Duplex, device: LockdownDevice): LockdownServerConnection {
  const ctx = {
    connectionId: nextConnectionId++,
    sessionActive: false,
    hostId: undefined as string | undefined,
    label: undefined as string | undefined,
  };
  let sessionId: string | undefined;
  let resolveClosed!: (e: IDeviceError | undefined) => void;
  const closed = new Promise<IDeviceError | undefined>((r) => (resolveClosed = r));

  const transport: LockdownTransport = new LockdownTransport(stream, {
    frame: (msg) => handle(msg),
    close: (err) => resolveClosed(err),
  });

  const reply = (req: string, body: PlistDict): void => {
    try {
      transport.send({ Request: req, ...body });
    } catch {
      // closed underneath us: nothing to answer
    }
  };

  async function handle(msg: PlistDict): Promise<void> {
    const req = msg.Request;
    if (typeof msg.Label === 'string') ctx.label = msg.Label;
    if (typeof req !== 'string') {
      transport.send({ Error: 'MissingRequest' });
      return;
    }
    try {
      await dispatch(req, msg);
    } catch (err) {
      reply(req, { Error: err instanceof LockdownError ? err.error : 'InternalError' });
    }
  }

  async function dispatch(req: string, msg: PlistDict): Promise<void> {
    const domain = typeof msg.Domain === 'string' ? msg.Domain : undefined;
    const key = typeof msg.Key === 'string' ? msg.Key : undefined;
    const echo: PlistDict = {};
    if (domain !== undefined) echo.Domain = domain;
    if (key !== undefined) echo.Key = key;
    switch (req) {
      case LockdownRequest.QueryType:
        return reply(req, { Type: device.queryType?.() ?? LOCKDOWN_SERVICE_TYPE });
      case LockdownRequest.GetValue: {
        try {
          const value = await device.getValue(domain, key, ctx);
          return reply(req, { ...echo, Value: value });
        } catch (err) {
          if (err instanceof LockdownError) return reply(req, { ...echo, Error: err.error });
          throw err;
        }
      }
      case LockdownRequest.SetValue:
        if (key === undefined) throw fail('MissingKey', req);
        if (!('Value' in msg)) throw fail('MissingValue', req);
        await device.setValue(domain, key, msg.Value!, ctx);
        return reply(req, echo);
      case LockdownRequest.RemoveValue:
        if (key === undefined) throw fail('MissingKey', req);
        await device.removeValue(domain, key, ctx);
        return reply(req, echo);
      case LockdownRequest.Pair:
      case LockdownRequest.ValidatePair:
      case LockdownRequest.Unpair: {
        const record = msg.PairRecord;
        if (!isPlistDict(record)) throw fail('MissingPairRecord', req);
        if (req === LockdownRequest.Pair) {
          const options = isPlistDict(msg.PairingOptions) ? msg.PairingOptions : undefined;
          return reply(req, await device.pair(record, options, ctx));
        }
        if (req === LockdownRequest.ValidatePair) await device.validatePair(record, ctx);
        else await device.unpair(record, ctx);
        return reply(req, {});
      }
      case LockdownRequest.StartSession:
        return startSession(req, msg);
      case LockdownRequest.StopSession: {
        if (!ctx.sessionActive) throw fail('SessionInactive', req);
        if (typeof msg.SessionID !== 'string') throw fail('MissingSessionID', req);
        if (msg.SessionID !== sessionId) throw fail('InvalidSessionID', req);
        reply(req, {});
        ctx.sessionActive = false;
        ctx.hostId = undefined;
        sessionId = undefined;
        transport.expectDowngrade();
        return;
      }
      case LockdownRequest.StartService: {
        const name = msg.Service;
        if (typeof name !== 'string') throw fail('MissingService', req);
        if (!ctx.sessionActive) throw fail('SessionInactive', req);
        const escrowBag = Buffer.isBuffer(msg.EscrowBag) ? msg.EscrowBag : undefined;
        const svc = await device.startService(name, ctx, { escrowBag });
        const out: PlistDict = { Service: name, Port: svc.port };
        if (svc.enableServiceSSL) out.EnableServiceSSL = true;
        else out.EnableServiceSSL = false;
        return reply(req, out);
      }
      case LockdownRequest.Goodbye:
        reply(req, {});
        stream.end(() => transport.close());
        return;
      default:
        throw fail('InvalidRequest', req);
    }
  }

  async function startSession(req: string, msg: PlistDict): Promise<void> {
    if (ctx.sessionActive) throw fail('SessionActive', req);
    if (typeof msg.HostID !== 'string') throw fail('MissingHostID', req);
    const buid = typeof msg.SystemBUID === 'string' ? msg.SystemBUID : undefined;
    const identity = await device.startSession(msg.HostID, buid, ctx);
    const id = randomUUID().toUpperCase();
    reply(req, { SessionID: id, EnableSessionSSL: true });
    sessionId = id;
    ctx.hostId = msg.HostID;
    ctx.sessionActive = true;
    let sock;
    try {
      // Accept what real hosts send: SHA-1 signed certificates (idevicepair 1.3.0), TLS 1.0 for old tools.
      sock = await transport.upgradeServer(
        tlsServerOptions(identity.certificate, identity.privateKey, true),
        device.keylogFile,
      );
    } catch {
      return; // the transport closed the connection
    }
    const peer = sock.getPeerX509Certificate();
    if (!peer || !isTrustedClient(peer, identity.trustedCertificates)) transport.close();
  }

  return { closed, close: () => transport.close() };
}

function fail(error: string, request: string): LockdownError {
  return new LockdownError(error, request);
}

/** The client certificate must be one the host registered (root or host), or be issued by one of them. */
function isTrustedClient(peer: X509Certificate, trusted: (Buffer | string)[]): boolean {
  for (const pem of trusted) {
    let t: X509Certificate;
    try {
      t = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (t.raw.equals(peer.raw)) return true;
    try {
      if (peer.checkIssued(t) && peer.verify(t.publicKey)) return true;
    } catch {
      // not issued by this one
    }
  }
  return false;
}
