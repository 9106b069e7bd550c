/**
 * TLS options for lockdown sessions and services (protocol.md §5). PEMs stay in memory: never a temp file.
 *
 * - Client: certificate = HostCertificate + HostPrivateKey (what Apple's own hosts present); the device is not
 *   verified (it presents DeviceCertificate, signed by our root, with an empty subject). TLS ≥ 1.2 for iOS ≥ 10.
 * - Legacy (iOS < 10): libimobiledevice caps at TLS 1.0; OpenSSL 3 then needs `@SECLEVEL=0`, and iOS 5-era
 *   devices need legacy renegotiation.
 * - Server (virtual iPhone): DeviceCertificate + the device key, asking for (but not verifying) a client certificate.
 */
import { appendFileSync } from 'node:fs';
import { constants } from 'node:crypto';
import type { ConnectionOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { PairRecord } from './pair-record.ts';

/** Options for {@link tlsClientOptions}. */
export interface TlsProfileOptions {
  /** iOS < 10 profile: TLS 1.0 only, `DEFAULT:@SECLEVEL=0`, legacy renegotiation allowed. */
  legacy?: boolean;
}

function legacyOptions(): Pick<TlsOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'secureOptions'> {
  return {
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
    secureOptions: constants.SSL_OP_LEGACY_SERVER_CONNECT,
  };
}

/**
 * Options for `tls.connect({ socket, ...tlsClientOptions(record) })`.
 * The caller adds `socket` (the lockdown or service stream).
 */
export function tlsClientOptions(record: Pick<PairRecord, 'HostCertificate' | 'HostPrivateKey'>, opts: TlsProfileOptions = {}): ConnectionOptions {
  const base: ConnectionOptions = {
    cert: record.HostCertificate,
    key: record.HostPrivateKey,
    rejectUnauthorized: false,
    // The device certificate has no subject: skip host-name checks entirely.
    checkServerIdentity: () => undefined,
  };
  return opts.legacy ? { ...base, ...legacyOptions() } : { ...base, minVersion: 'TLSv1.2' };
}

/**
 * Options for `new tls.TLSSocket(stream, { isServer: true, ...tlsServerOptions(...) })` or `tls.createServer`,
 * as the virtual iPhone uses them: present the device certificate, request the host's certificate, accept
 * whatever it sends (iOS accepts the root or the host certificate; verification is up to the caller).
 * With `legacy`, TLS 1.0–1.3 and `@SECLEVEL=0`, so SHA-1 certificates and old clients are accepted.
 */
export function tlsServerOptions(deviceCertPem: Buffer | string, deviceKeyPem: Buffer | string, legacy = false): TlsOptions {
  const base: TlsOptions = { cert: deviceCertPem, key: deviceKeyPem, requestCert: true, rejectUnauthorized: false };
  return legacy ? { ...base, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } : base;
}

/** Handle returned by {@link attachKeylog}. */
export interface KeylogHandle {
  /** The file lines go to, or undefined when key logging is off. */
  readonly file: string | undefined;
  /** Stops listening. */
  detach(): void;
  /** Resolves when every line received so far has been written (lines are written synchronously: at once). */
  flushed(): Promise<void>;
}

/**
 * The one key-log writer (lockdown sessions, service TLS, the virtual iPhone's lockdownd, tests).
 * Appends the socket's TLS secrets in NSS key-log format (Wireshark-readable) to `path`, or to
 * `$SSLKEYLOGFILE` when no path is given; does nothing when neither is set. The file is created with
 * mode 0600. Each line is appended synchronously inside the socket's `keylog` event, i.e. before the
 * handshake completes and before any record protected by that secret is sent: a capture (or a test)
 * that reads the file right after the traffic always finds the keys. Write failures go to `onError`
 * (default: ignored: key logging is a debugging aid and must not break the session). Throws nothing.
 */
export function attachKeylog(socket: TLSSocket, path?: string, onError?: (err: unknown) => void, env: NodeJS.ProcessEnv = process.env): KeylogHandle {
  const file = path ?? (env.SSLKEYLOGFILE || undefined);
  const onKeylog = (line: Buffer): void => {
    try {
      appendFileSync(file!, line, { mode: 0o600 });
    } catch (e) {
      onError?.(e);
    }
  };
  if (file) socket.on('keylog', onKeylog);
  return {
    file,
    detach: () => {
      socket.off('keylog', onKeylog);
    },
    flushed: () => Promise.resolve(),
  };
}
