/**
 * usbmuxd socket addresses, in the `USBMUXD_SOCKET_ADDRESS` syntax of libusbmuxd ≥ 2.0.2:
 * `UNIX:/path/to/sock` (unix socket; the prefix is mandatory), `host:port` and `[v6addr]:port` (TCP,
 * split at the last `:`). libusbmuxd silently ignores anything else; we reject it with ERR_INVALID_ARG
 * so that a bare `/path` in the environment does not quietly fall back to the default daemon (the
 * libimobiledevice tools would not see it). An address given explicitly (`--socket`, the `socket` option)
 * may also be a bare absolute path, as the emulator's and the daemon's listen addresses may.
 */
import { InvalidArgumentError } from '../core/errors.ts';

/** A parsed usbmuxd address. */
export type MuxAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Default unix socket on Linux and macOS. */
export const DEFAULT_UNIX_PATH = '/var/run/usbmuxd';
/** Default TCP address on Windows (Apple Mobile Device Service). */
export const DEFAULT_TCP = { host: '127.0.0.1', port: 27015 } as const;

/**
 * Parses one address string.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for a bare path, a missing/zero/out-of-range port, an
 *   empty host or path, or `UNIX:` on Windows.
 */
export function parseMuxAddress(text: string, platform: NodeJS.Platform = process.platform): MuxAddress {
  const s = text.trim();
  if (/^unix:/i.test(s)) {
    if (!s.startsWith('UNIX:')) throw new InvalidArgumentError(`usbmuxd address "${text}": the prefix must be upper-case "UNIX:"`);
    const path = s.slice(5);
    if (path === '') throw new InvalidArgumentError(`usbmuxd address "${text}": empty socket path after UNIX:`);
    if (platform === 'win32') throw new InvalidArgumentError(`usbmuxd address "${text}": unix sockets are not supported on Windows`);
    return { kind: 'unix', path };
  }
  if (s.startsWith('/') || s.startsWith('.') || s.startsWith('~')) {
    throw new InvalidArgumentError(`usbmuxd address "${text}" looks like a path: write UNIX:${s} for a unix socket`);
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new InvalidArgumentError(`usbmuxd address "${text}": expected UNIX:/path, host:port or [v6addr]:port`);
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) throw new InvalidArgumentError(`usbmuxd address "${text}": unbalanced [ in IPv6 address`);
    host = host.slice(1, -1);
  }
  if (host === '') throw new InvalidArgumentError(`usbmuxd address "${text}": empty host`);
  if (!/^\d{1,5}$/.test(portText)) throw new InvalidArgumentError(`usbmuxd address "${text}": port must be a number 1–65535`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new InvalidArgumentError(`usbmuxd address "${text}": port must be 1–65535`);
  return { kind: 'tcp', host, port };
}

/** The platform default: TCP 127.0.0.1:27015 on Windows, else the unix socket /var/run/usbmuxd. */
export function defaultMuxAddress(platform: NodeJS.Platform = process.platform): MuxAddress {
  return platform === 'win32' ? { kind: 'tcp', ...DEFAULT_TCP } : { kind: 'unix', path: DEFAULT_UNIX_PATH };
}

/**
 * The address to use: `explicit` (e.g. `--socket`) > `USBMUXD_SOCKET_ADDRESS` > the platform default.
 * `explicit` may be a bare absolute path (a unix socket) besides the USBMUXD_SOCKET_ADDRESS syntax; the
 * environment value may not (see the module comment). An empty environment value counts as unset.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) when the chosen string is malformed (see {@link parseMuxAddress}).
 */
export function resolveUsbmuxAddress(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): MuxAddress {
  if (explicit !== undefined && explicit !== '') {
    const t = explicit.trim();
    if (t.startsWith('/') && platform !== 'win32') return { kind: 'unix', path: t };
    return parseMuxAddress(explicit, platform);
  }
  const fromEnv = env.USBMUXD_SOCKET_ADDRESS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseMuxAddress(fromEnv, platform);
  return defaultMuxAddress(platform);
}

/** Formats an address back into the `USBMUXD_SOCKET_ADDRESS` syntax (what child tools need). */
export function formatMuxAddress(a: MuxAddress): string {
  if (a.kind === 'unix') return `UNIX:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Options for `net.connect()` / `server.listen()`. */
export function netOptions(a: MuxAddress): { path: string } | { host: string; port: number } {
  return a.kind === 'unix' ? { path: a.path } : { host: a.host, port: a.port };
}
