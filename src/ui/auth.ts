/**
 * Who may drive the `photos ui` server: only the page it printed and opened. Every request must
 *
 * - carry the random token as the first path segment (`/<token>/…`; relative URLs in the page keep it), compared in
 *   constant time (both sides hashed first, so neither the length nor a prefix leaks through timing);
 * - name this server in its Host header (`127.0.0.1:<port>` or `localhost:<port>`): a DNS-rebinding page whose
 *   host name resolves to 127.0.0.1 sends its own name and is refused;
 * - when it has an Origin header, come from the page's own origin (`http://<Host>`); requests that change
 *   anything (anything but GET/HEAD) must send one. A browser also says `Sec-Fetch-Site: cross-site` for a request
 *   another site started: refused too.
 *
 * Everything refused is answered 403 without saying which check failed to the caller beyond a short reason.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A fresh token: 32 random bytes, base64url (43 characters, safe in a URL path). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `given` is the token. Constant time in the content of both strings. */
export function tokenMatches(given: string, token: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(token, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** What {@link checkRequest} decided. */
export type AuthResult =
  | { ok: true; /** The path after the token ('/…'; '' for the bare token, which the server redirects to '/<token>/'). */ path: string; search: URLSearchParams }
  | { ok: false; status: 403; reason: string };

/** The Host header values this server answers to. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** Checks token, Host and Origin of one request to the server listening on `port`. */
export function checkRequest(req: Pick<IncomingMessage, 'headers' | 'method' | 'url'>, token: string, port: number): AuthResult {
  const host = req.headers.host;
  if (host === undefined || !allowedHosts(port).includes(host.toLowerCase())) return { ok: false, status: 403, reason: 'foreign Host header' };
  const origin = req.headers.origin;
  const method = (req.method ?? 'GET').toUpperCase();
  if (origin !== undefined) {
    if (origin !== `http://${host.toLowerCase()}`) return { ok: false, status: 403, reason: 'foreign Origin header' };
  } else if (method !== 'GET' && method !== 'HEAD') {
    return { ok: false, status: 403, reason: 'missing Origin header' };
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return { ok: false, status: 403, reason: 'cross-site request' };
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${host}`);
  } catch {
    return { ok: false, status: 403, reason: 'bad URL' };
  }
  const m = /^\/([^/]*)(\/.*)?$/.exec(url.pathname);
  if (!m || !tokenMatches(m[1] ?? '', token)) return { ok: false, status: 403, reason: 'missing or wrong token' };
  return { ok: true, path: m[2] ?? '', search: url.searchParams };
}
