/**
 * NSS key log files (SSLKEYLOGFILE format, https://udn.realityripple.com/docs/Mozilla/Projects/NSS/Key_Log_Format):
 * `LABEL <client_random hex> <secret hex>` per line; `#` comments. Pure.
 */

/** Secrets of one TLS connection, by label (CLIENT_RANDOM, CLIENT_TRAFFIC_SECRET_0, …). */
export type ConnectionSecrets = Map<string, Buffer>;

/** Client random (hex, lower case) → that connection's secrets. */
export type KeyLog = Map<string, ConnectionSecrets>;

/** Longest accepted line (bytes): the longest secret is 48 bytes (96 hex digits). */
const MAX_LINE = 1024;

/** Parses key log text; malformed lines are skipped (key logs are appended to by several processes). */
export function parseKeyLog(text: string | Buffer, into: KeyLog = new Map()): KeyLog {
  const s = Buffer.isBuffer(text) ? text.toString('latin1') : text;
  for (const raw of s.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.length > MAX_LINE) continue;
    const [label, cr, secret] = line.split(/\s+/);
    if (!label || !cr || !secret || !/^[0-9a-fA-F]{64}$/.test(cr) || !/^(?:[0-9a-fA-F]{2}){16,64}$/.test(secret)) continue;
    const key = cr.toLowerCase();
    let m = into.get(key);
    if (!m) into.set(key, (m = new Map()));
    m.set(label, Buffer.from(secret, 'hex'));
  }
  return into;
}
