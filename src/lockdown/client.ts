import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { withCallOpts, type CallOpts } from '../core/abort.ts';
import { ClosedError, IDeviceError, InvalidArgumentError, ProtocolError } from '../core/errors.ts';
import type { PlistDict, PlistValue } from '../plist/types.ts';
import { isPlistDict } from '../plist/types.ts';
import { DeviceCertificateMismatchError, LockdownError, lockdownErrorFor } from './errors.ts';
import { DEFAULT_LABEL, LockdownRequest } from './protocol.ts';
import { tlsClientOptions } from '../pairing/tls.ts';
import { LockdownTransport } from './transport.ts';

/** What StartSession needs from a pair record (structurally a subset of pairing's PairRecord; PEMs as Buffers). */
export interface SessionCredentials {
  HostID: string;
  SystemBUID: string;
  HostCertificate: Buffer;
  HostPrivateKey: Buffer;
  RootCertificate?: Buffer;
  RootPrivateKey?: Buffer;
  DeviceCertificate?: Buffer;
}

export interface StartSessionOptions extends CallOpts {
  /** Append TLS secrets to this file (NSS key log format); default: $SSLKEYLOGFILE when set. */
  keylog?: string;
  /** Force the legacy TLS profile (TLS 1.0, @SECLEVEL=0) used for ProductVersion < 10; default: from a ProductVersion already read. */
  legacyTls?: boolean;
  /** Present RootCertificate/RootPrivateKey instead of the host pair (libimobiledevice does). */
  useRootCertificate?: boolean;
  /**
   * Require the device to present exactly the record's DeviceCertificate (real devices do; nobody checks by
   * default). A mismatch closes the connection with ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH.
   */
  pinDeviceCertificate?: boolean;
}

interface Waiter {
  resolve(msg: PlistDict): void;
  reject(err: Error): void;
}

/**
 * A lockdownd client over one Duplex (usbmux connection to port 62078, or any stream). Requests run
 * one at a time in order; a request that times out or is aborted closes the connection (its late
 * reply would desynchronise the stream). The TLS session is switched on and off in place.
 */
export class LockdownClient {
  readonly label: string;
  readonly #transport: LockdownTransport;
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closedWith: IDeviceError | undefined;
  #closed = false;
  #sessionId: string | undefined;
  #productVersion: string | undefined;
  #env: NodeJS.ProcessEnv;

  constructor(stream: Duplex, opts?: { label?: string; maxFrame?: number; env?: NodeJS.ProcessEnv }) {
    this.label = opts?.label ?? DEFAULT_LABEL;
    this.#env = opts?.env ?? process.env;
    this.#transport = new LockdownTransport(
      stream,
      {
        frame: (msg) => this.#onFrame(msg),
        close: (err) => this.#onClose(err),
      },
      { maxFrame: opts?.maxFrame },
    );
  }

  /** The SessionID while a session is active. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** The TLS socket while a session is active (e.g. to read the device certificate). */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.#transport.tlsSocket;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** ProductVersion if it was read on this connection (used to pick the TLS profile). */
  get productVersion(): string | undefined {
    return this.#productVersion;
  }

  /**
   * Sends a request and returns the reply. Adds Label and ProtocolVersion "2" (as Apple's clients do).
   * @throws LockdownError (subclass by error string) when the reply has `Error`, ProtocolError ERR_PROTOCOL for a
   *   reply that does not echo Request, ClosedError ERR_CLOSED, TimeoutError ERR_TIMEOUT, AbortError ERR_ABORTED.
   */
  request(req: PlistDict, o?: CallOpts): Promise<PlistDict> {
    const name = req.Request;
    if (typeof name !== 'string') return Promise.reject(new InvalidArgumentError('lockdown request needs a string Request'));
    const full: PlistDict = { Label: this.label, ProtocolVersion: '2', ...req };
    const work = this.#queue.then(() => this.#roundTrip(full));
    this.#queue = work.catch(() => undefined);
    return withCallOpts(`lockdown ${name}`, work, o, () => this.close()).then((reply) => {
      if (typeof reply.Error === 'string') throw lockdownErrorFor(reply.Error, name);
      if (reply.Result === 'Failure') throw new LockdownError('Failure', name);
      // Some firmware answers Unpair with Request: ValidatePair; only the Error matters there.
      if (reply.Request !== name && name !== LockdownRequest.Unpair) {
        throw new ProtocolError('lockdown', `reply to ${name} echoes Request ${JSON.stringify(reply.Request)}`);
      }
      return reply;
    });
  }

  /** QueryType → "com.apple.mobile.lockdown" on a normal device. Throws as {@link request}. */
  async queryType(o?: CallOpts): Promise<string> {
    const r = await this.request({ Request: LockdownRequest.QueryType }, o);
    if (typeof r.Type !== 'string') throw new ProtocolError('lockdown', 'QueryType reply without Type');
    return r.Type;
  }

  /**
   * GetValue: one key, or (no key) the dict of all readable values of the domain.
   * @throws ValueError ERR_LOCKDOWN_MISSING_VALUE / ERR_LOCKDOWN_GET_PROHIBITED, and as {@link request}.
   */
  async getValue(key?: string, domain?: string, o?: CallOpts): Promise<PlistValue> {
    const req: PlistDict = { Request: LockdownRequest.GetValue };
    if (domain !== undefined) req.Domain = domain;
    if (key !== undefined) req.Key = key;
    const r = await this.request(req, o);
    if (!('Value' in r)) throw lockdownErrorFor('MissingValue', LockdownRequest.GetValue);
    const v = r.Value!;
    if (domain === undefined) {
      if (key === 'ProductVersion' && typeof v === 'string') this.#productVersion = v;
      if (key === undefined && isPlistDict(v) && typeof v.ProductVersion === 'string') this.#productVersion = v.ProductVersion;
    }
    return v;
  }

  /** SetValue. Throws ValueError ERR_LOCKDOWN_SET_PROHIBITED etc., and as {@link request}. */
  async setValue(key: string, value: PlistValue, domain?: string, o?: CallOpts): Promise<void> {
    const req: PlistDict = { Request: LockdownRequest.SetValue, Key: key, Value: value };
    if (domain !== undefined) req.Domain = domain;
    await this.request(req, o);
  }

  /** RemoveValue. Throws ValueError ERR_LOCKDOWN_REMOVE_PROHIBITED etc., and as {@link request}. */
  async removeValue(key: string, domain?: string, o?: CallOpts): Promise<void> {
    const req: PlistDict = { Request: LockdownRequest.RemoveValue, Key: key };
    if (domain !== undefined) req.Domain = domain;
    await this.request(req, o);
  }

  /**
   * StartSession, then TLS on this same stream (client certificate HostCertificate, PEMs in memory).
   * TLS 1.2+ by default; legacy profile (TLS 1.0, @SECLEVEL=0) when asked or when ProductVersion < 10
   * (both from pairing's tlsClientOptions).
   * @throws InvalidHostIdError ERR_LOCKDOWN_INVALID_HOST_ID (re-pair), SessionError ERR_LOCKDOWN_SESSION_ACTIVE,
   *   ProtocolError ERR_PROTOCOL (TLS handshake failed), and as {@link request}.
   */
  async startSession(record: SessionCredentials, opts?: StartSessionOptions): Promise<{ sessionId: string }> {
    if (this.#sessionId !== undefined) throw lockdownErrorFor('SessionActive', LockdownRequest.StartSession);
    const r = await this.request({ Request: LockdownRequest.StartSession, HostID: record.HostID, SystemBUID: record.SystemBUID }, opts);
    if (typeof r.SessionID !== 'string') throw new ProtocolError('lockdown', 'StartSession reply without SessionID');
    this.#sessionId = r.SessionID;
    if (r.EnableSessionSSL === true) {
      const legacy = opts?.legacyTls ?? (this.#productVersion !== undefined && majorVersion(this.#productVersion) < 10);
      const root =
        opts?.useRootCertificate === true && record.RootCertificate && record.RootPrivateKey
          ? { HostCertificate: record.RootCertificate, HostPrivateKey: record.RootPrivateKey }
          : undefined;
      // One TLS profile for the whole project (pairing/tls.ts): TLS 1.2+, or TLS 1.0 + @SECLEVEL=0 for iOS < 10.
      const tlsOpts = tlsClientOptions(root ?? record, { legacy });
      const keylog = opts?.keylog ?? this.#env.SSLKEYLOGFILE;
      const sock = await withCallOpts('lockdown TLS handshake', this.#transport.upgradeClient(tlsOpts, keylog || undefined), opts, () => this.close());
      if (opts?.pinDeviceCertificate) {
        const expected = record.DeviceCertificate ? new X509Certificate(record.DeviceCertificate).raw : undefined;
        const got = sock.getPeerX509Certificate()?.raw;
        if (!expected || !got || !expected.equals(got)) {
          this.close();
          throw new DeviceCertificateMismatchError();
        }
      }
    }
    return { sessionId: r.SessionID };
  }

  /** StopSession (answered inside TLS), then close_notify: the stream is plaintext again. Throws as {@link request}. */
  async stopSession(o?: CallOpts): Promise<void> {
    const id = this.#sessionId;
    if (id === undefined) return;
    await this.request({ Request: LockdownRequest.StopSession, SessionID: id }, o);
    this.#sessionId = undefined;
    await this.#transport.downgrade();
  }

  /**
   * StartService → the port to open with a new connection, and whether that connection needs TLS.
   * @throws ServiceError ERR_LOCKDOWN_INVALID_SERVICE etc., ERR_PROTOCOL for a reply without a valid Port, and as {@link request}.
   */
  async startService(name: string, opts?: { escrowBag?: Buffer } & CallOpts): Promise<{ port: number; enableServiceSSL: boolean }> {
    const req: PlistDict = { Request: LockdownRequest.StartService, Service: name };
    if (opts?.escrowBag) req.EscrowBag = opts.escrowBag;
    const r = await this.request(req, opts);
    const port = r.Port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ProtocolError('lockdown', `StartService reply has no valid Port (${String(port)})`);
    }
    return { port, enableServiceSSL: r.EnableServiceSSL === true };
  }

  /** Goodbye (the device closes afterwards). Throws as {@link request}. */
  async goodbye(o?: CallOpts): Promise<void> {
    await this.request({ Request: LockdownRequest.Goodbye }, o);
  }

  /** Closes the connection; pending and later requests fail with ERR_CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#transport.close();
  }

  /** `using lockdown = await connectLockdown(dev)` closes the connection at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #roundTrip(req: PlistDict): Promise<PlistDict> {
    if (this.#closed) throw this.#closedWith ?? new ClosedError(`lockdown ${String(req.Request)}`);
    return new Promise<PlistDict>((resolve, reject) => {
      this.#waiter = { resolve, reject };
      try {
        this.#transport.send(req);
      } catch (err) {
        this.#waiter = undefined;
        reject(err as Error);
      }
    });
  }

  #onFrame(msg: PlistDict): void {
    const w = this.#waiter;
    if (!w) throw new ProtocolError('lockdown', `unsolicited frame (Request ${JSON.stringify(msg.Request)})`);
    this.#waiter = undefined;
    w.resolve(msg);
  }

  #onClose(err?: IDeviceError): void {
    this.#closed = true;
    this.#sessionId = undefined;
    this.#closedWith = err ? new ClosedError('lockdown', { cause: err }) : undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err ?? new ClosedError('lockdown'));
  }
}

function majorVersion(v: string): number {
  const n = Number.parseInt(v.split('.')[0] ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}
