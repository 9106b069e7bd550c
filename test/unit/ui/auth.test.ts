/** photos ui request checks (src/ui/auth.ts): token in the path, Host, Origin, Sec-Fetch-Site. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRequest, newToken, tokenMatches } from '../../../src/ui/auth.ts';

const token = newToken();
const port = 41234;
const req = (url: string, headers: Record<string, string> = {}, method = 'GET') => ({ url, method, headers: { host: `127.0.0.1:${port}`, ...headers } });

test('tokens: 43 base64url characters, fresh each time, compared exactly', () => {
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newToken(), token);
  assert.equal(tokenMatches(token, token), true);
  assert.equal(tokenMatches(token.slice(0, -1), token), false);
  assert.equal(tokenMatches(`${token}x`, token), false);
  assert.equal(tokenMatches('', token), false);
});

test('the token is the first path segment; the rest is the route', () => {
  assert.deepEqual(pick(checkRequest(req(`/${token}/api/state?x=1`), token, port)), { ok: true, path: '/api/state', x: '1' });
  assert.deepEqual(pick(checkRequest(req(`/${token}`), token, port)), { ok: true, path: '', x: null });
  for (const u of ['/', '/api/state', `/${token.slice(1)}/`, `/x/${token}/`, `/api/state?token=${token}`]) {
    const r = checkRequest(req(u), token, port);
    assert.equal(r.ok, false, u);
    assert.equal(!r.ok && r.status, 403);
  }
});

test('Host must be 127.0.0.1:port or localhost:port', () => {
  assert.equal(checkRequest(req(`/${token}/`, { host: `localhost:${port}` }), token, port).ok, true);
  for (const host of [`evil.example:${port}`, '127.0.0.1', `127.0.0.1:${port + 1}`, `[::1]:${port}`, `127.0.0.1.nip.io:${port}`]) {
    const r = checkRequest(req(`/${token}/`, { host }), token, port);
    assert.deepEqual(r, { ok: false, status: 403, reason: 'foreign Host header' }, host);
  }
  assert.equal(checkRequest({ url: `/${token}/`, method: 'GET', headers: {} }, token, port).ok, false);
});

test('Origin must be the page\'s own; changes need one; cross-site fetches are refused', () => {
  const own = `http://127.0.0.1:${port}`;
  assert.equal(checkRequest(req(`/${token}/api/import`, { origin: own }, 'POST'), token, port).ok, true);
  assert.deepEqual(checkRequest(req(`/${token}/api/import`, {}, 'POST'), token, port), { ok: false, status: 403, reason: 'missing Origin header' });
  for (const origin of ['http://evil.example', `http://localhost:${port}`, `https://127.0.0.1:${port}`, 'null']) {
    assert.deepEqual(checkRequest(req(`/${token}/api/import`, { origin }, 'POST'), token, port), { ok: false, status: 403, reason: 'foreign Origin header' }, origin);
    assert.equal(checkRequest(req(`/${token}/api/state`, { origin }), token, port).ok, false, origin);
  }
  assert.equal(checkRequest(req(`/${token}/api/state`, { 'sec-fetch-site': 'cross-site' }), token, port).ok, false);
  assert.equal(checkRequest(req(`/${token}/api/state`, { 'sec-fetch-site': 'same-origin' }), token, port).ok, true);
});

function pick(r: ReturnType<typeof checkRequest>): unknown {
  return r.ok ? { ok: true, path: r.path, x: r.search.get('x') } : r;
}
