/**
 * The `photos ui` web server: HTTP on 127.0.0.1 at a random port, every request checked by auth.ts (token in the
 * path, Host, Origin), the page's static files from ./static/ (plain HTML, CSS and JavaScript, no framework, nothing
 * fetched from elsewhere) and the JSON API of api.ts. Strict headers: the page may load only from itself (CSP), may
 * not be framed, and sends no Referer (the token is in the URL).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { promises as fsp } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { json, UiApp, type UiAppOptions } from './api.ts';
import { UiError } from './errors.ts';
import { checkRequest, newToken } from './auth.ts';

/** The page's files: src/ui/static/, found from both src/ui/ and dist/ui/ (each two levels below the package). */
export const STATIC_DIR = fileURLToPath(new URL('../../src/ui/static/', import.meta.url));

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
};

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Options of {@link startUiServer}. */
export interface UiServerOptions extends Omit<UiAppOptions, 'thumbsDir'> {
  /** Thumbnail cache folder (default: the user cache folder's thumbs/). */
  thumbsDir: string;
  /** Port (default 0: a random free one). */
  port?: number;
  /** Token (default: a fresh random one). */
  token?: string;
}

/** A running server. */
export interface UiServer {
  /** The page's address, token included: http://127.0.0.1:<port>/<token>/ */
  readonly url: string;
  readonly port: number;
  readonly app: UiApp;
  /** Stops serving (cancels a running import and waits for it). */
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1. */
export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const token = o.token ?? newToken();
  const app = new UiApp(o);
  let port = 0;
  const server: Server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof UiError) json(res, e.status, { error: { code: e.code, message: e.message } });
      else json(res, 500, { error: { code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) } });
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const a = checkRequest(req, token, port);
    if (!a.ok) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(`403 Forbidden: ${a.reason}\n`);
      return;
    }
    if (a.path === '') {
      res.writeHead(308, { Location: `/${token}/` });
      res.end();
      return;
    }
    if (a.path.startsWith('/api/')) return app.handle(req, res, a.path.slice(4), a.search);
    const s = STATIC[a.path];
    if (!s || (req.method !== 'GET' && req.method !== 'HEAD')) throw new UiError(404, 'ERR_UI_NOT_FOUND', 'not found');
    const b = await fsp.readFile(join(STATIC_DIR, s.file));
    res.writeHead(200, { 'Content-Type': s.type, 'Content-Length': b.length, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : b);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/${token}/`,
    port,
    app,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await app.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
