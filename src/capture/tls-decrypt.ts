/**
 * Decryption of recorded TLS records with key-log secrets (node:crypto only):
 * - TLS 1.2 AES-GCM (RFC 5288): key_block = PRF(master_secret, "key expansion", server_random ‖ client_random)
 *   → client key, server key, client salt (4), server salt (4); nonce = salt ‖ explicit 8 bytes from the record;
 *   AAD = seq(8) ‖ type ‖ version ‖ plaintext length. PRF = P_SHA256 or P_SHA384 by suite.
 * - TLS 1.3 AES-GCM / ChaCha20-Poly1305 (RFC 8446 §7): key/iv = HKDF-Expand-Label(secret, "key"/"iv", "", n) from the
 *   handshake and application traffic secrets; nonce = iv XOR seq; AAD = the record header; the inner plaintext ends
 *   with the real content type followed by zero padding. The handshake secret is used until the Finished message.
 */
import { createDecipheriv, createHmac } from 'node:crypto';
import type { ConnectionSecrets } from './keylog.ts';
import { ContentType, handshakeTypes, type HelloInfo, type TlsRecord } from './tls-records.ts';

interface Suite {
  name: string;
  cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  keyLen: number;
  hash: 'sha256' | 'sha384';
  tls13: boolean;
}

/** Suites this decryptor handles. */
export const SUITES: Readonly<Record<number, Suite>> = {
  0x1301: { name: 'TLS_AES_128_GCM_SHA256', cipher: 'aes-128-gcm', keyLen: 16, hash: 'sha256', tls13: true },
  0x1302: { name: 'TLS_AES_256_GCM_SHA384', cipher: 'aes-256-gcm', keyLen: 32, hash: 'sha384', tls13: true },
  0x1303: { name: 'TLS_CHACHA20_POLY1305_SHA256', cipher: 'chacha20-poly1305', keyLen: 32, hash: 'sha256', tls13: true },
  0x009c: { name: 'TLS_RSA_WITH_AES_128_GCM_SHA256', cipher: 'aes-128-gcm', keyLen: 16, hash: 'sha256', tls13: false },
  0x009d: { name: 'TLS_RSA_WITH_AES_256_GCM_SHA384', cipher: 'aes-256-gcm', keyLen: 32, hash: 'sha384', tls13: false },
  0xc02b: { name: 'ECDHE-ECDSA-AES128-GCM-SHA256', cipher: 'aes-128-gcm', keyLen: 16, hash: 'sha256', tls13: false },
  0xc02c: { name: 'ECDHE-ECDSA-AES256-GCM-SHA384', cipher: 'aes-256-gcm', keyLen: 32, hash: 'sha384', tls13: false },
  0xc02f: { name: 'ECDHE-RSA-AES128-GCM-SHA256', cipher: 'aes-128-gcm', keyLen: 16, hash: 'sha256', tls13: false },
  0xc030: { name: 'ECDHE-RSA-AES256-GCM-SHA384', cipher: 'aes-256-gcm', keyLen: 32, hash: 'sha384', tls13: false },
};

/** Name of a cipher suite. */
export function suiteName(s: number): string {
  return SUITES[s]?.name ?? `0x${s.toString(16).padStart(4, '0')}`;
}

/** TLS 1.2 PRF: P_hash(secret, label ‖ seed) truncated to `len`. */
export function tls12Prf(hash: string, secret: Buffer, label: string, seed: Buffer, len: number): Buffer {
  const ls = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let a = ls;
  let n = 0;
  while (n < len) {
    a = createHmac(hash, secret).update(a).digest();
    const p = createHmac(hash, secret).update(a).update(ls).digest();
    out.push(p);
    n += p.length;
  }
  return Buffer.concat(out).subarray(0, len);
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: string, prk: Buffer, info: Buffer, len: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1, n = 0; n < len; i++) {
    t = createHmac(hash, prk).update(t).update(info).update(Buffer.from([i])).digest();
    out.push(t);
    n += t.length;
  }
  return Buffer.concat(out).subarray(0, len);
}

/** HKDF-Expand-Label (RFC 8446 §7.1) with an empty context unless given. */
export function hkdfExpandLabel(hash: string, secret: Buffer, label: string, context: Buffer, len: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.alloc(2 + 1 + full.length + 1 + context.length);
  info.writeUInt16BE(len, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = context.length;
  context.copy(info, 4 + full.length);
  return hkdfExpand(hash, secret, info, len);
}

interface Keys {
  key: Buffer;
  iv: Buffer; // TLS 1.2: 4-byte salt; TLS 1.3: 12-byte iv
}

/** One decrypted record. */
export interface DecryptedRecord {
  /** Real content type (TLS 1.3: from the inner plaintext). */
  type: number;
  data: Buffer;
}

/** Why a direction cannot be decrypted. */
export type NoKeysReason = 'no-keylog' | 'no-secrets-for-client-random' | 'unsupported-suite' | 'no-hello';

/**
 * Decrypts one direction of a TLS connection, record by record, in order. Create with {@link createDecryptors}.
 * `decrypt` returns undefined for records that are not encrypted (ClientHello, CCS before the switch) and throws
 * nothing: an authentication failure returns `{ type: -1 }` (wrong keys or a corrupted capture).
 */
export class DirectionDecryptor {
  #seq = 0n;
  #active = false;
  #keys: Keys | undefined;
  readonly #suite: Suite;
  readonly #appKeys: Keys | undefined;

  constructor(suite: Suite, first: Keys | undefined, app: Keys | undefined, activeFromStart: boolean) {
    this.#suite = suite;
    this.#keys = first;
    this.#appKeys = app;
    this.#active = activeFromStart;
  }

  decrypt(rec: TlsRecord): DecryptedRecord | undefined {
    const s = this.#suite;
    if (rec.type === ContentType.ChangeCipherSpec) {
      if (!s.tls13) {
        this.#active = true; // TLS 1.2: everything after CCS is encrypted
        this.#seq = 0n;
      }
      return undefined;
    }
    if (!this.#active) return undefined;
    if (s.tls13 && rec.type !== ContentType.ApplicationData) return undefined; // plaintext alert before keys
    if (!this.#keys) return { type: -1, data: Buffer.alloc(0) };
    const out = s.tls13 ? this.#open13(rec) : this.#open12(rec);
    this.#seq++;
    if (!out) return { type: -1, data: Buffer.alloc(0) };
    if (s.tls13 && out.type === ContentType.Handshake && this.#keys !== this.#appKeys && handshakeTypes(out.data).includes(20)) {
      this.#keys = this.#appKeys; // Finished sent: application traffic keys from the next record
      this.#seq = 0n;
    }
    return out;
  }

  #tag(): number {
    return 16;
  }

  #open12(rec: TlsRecord): DecryptedRecord | undefined {
    const k = this.#keys!;
    const f = rec.fragment;
    if (f.length < 8 + this.#tag()) return undefined;
    const nonce = Buffer.concat([k.iv, f.subarray(0, 8)]);
    const ct = f.subarray(8, f.length - 16);
    const aad = Buffer.alloc(13);
    aad.writeBigUInt64BE(this.#seq, 0);
    aad[8] = rec.type;
    aad.writeUInt16BE(rec.version, 9);
    aad.writeUInt16BE(ct.length, 11);
    const data = this.#aead(k.key, nonce, aad, ct, f.subarray(f.length - 16));
    return data ? { type: rec.type, data } : undefined;
  }

  #open13(rec: TlsRecord): DecryptedRecord | undefined {
    const k = this.#keys!;
    const f = rec.fragment;
    if (f.length < 17) return undefined;
    const nonce = Buffer.from(k.iv);
    const seqBuf = Buffer.alloc(8);
    seqBuf.writeBigUInt64BE(this.#seq, 0);
    for (let i = 0; i < 8; i++) nonce[4 + i]! ^= seqBuf[i]!;
    const aad = Buffer.alloc(5);
    aad[0] = rec.type;
    aad.writeUInt16BE(rec.version, 1);
    aad.writeUInt16BE(f.length, 3);
    const inner = this.#aead(k.key, nonce, aad, f.subarray(0, f.length - 16), f.subarray(f.length - 16));
    if (!inner) return undefined;
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) return undefined;
    return { type: inner[end - 1]!, data: inner.subarray(0, end - 1) };
  }

  #aead(key: Buffer, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer | undefined {
    try {
      const d = createDecipheriv(this.#suite.cipher, key, nonce, { authTagLength: 16 } as never) as ReturnType<typeof createDecipheriv> & {
        setAAD(b: Buffer, o?: unknown): void;
        setAuthTag(b: Buffer): void;
      };
      d.setAAD(aad, { plaintextLength: ct.length });
      d.setAuthTag(tag);
      return Buffer.concat([d.update(ct), d.final()]);
    } catch {
      return undefined;
    }
  }
}

/**
 * Builds the two decryptors of a connection from its hellos and key-log secrets, or says why it cannot.
 */
export function createDecryptors(
  client: HelloInfo | undefined,
  server: HelloInfo | undefined,
  secrets: ConnectionSecrets | undefined,
): { c2s: DirectionDecryptor; s2c: DirectionDecryptor; suite: string; version: number } | { reason: NoKeysReason } {
  if (!client || !server) return { reason: 'no-hello' };
  const suite = SUITES[server.cipherSuite];
  if (!suite) return { reason: 'unsupported-suite' };
  if (!secrets) return { reason: 'no-secrets-for-client-random' };
  const ivLen = suite.tls13 ? 12 : 4;
  if (suite.tls13) {
    const mk = (label: string): Keys | undefined => {
      const sec = secrets.get(label);
      return sec
        ? { key: hkdfExpandLabel(suite.hash, sec, 'key', Buffer.alloc(0), suite.keyLen), iv: hkdfExpandLabel(suite.hash, sec, 'iv', Buffer.alloc(0), ivLen) }
        : undefined;
    };
    const ch = mk('CLIENT_HANDSHAKE_TRAFFIC_SECRET');
    const sh = mk('SERVER_HANDSHAKE_TRAFFIC_SECRET');
    const ca = mk('CLIENT_TRAFFIC_SECRET_0');
    const sa = mk('SERVER_TRAFFIC_SECRET_0');
    if (!ca && !sa && !ch && !sh) return { reason: 'no-secrets-for-client-random' };
    return {
      c2s: new DirectionDecryptor(suite, ch ?? ca, ca, true),
      s2c: new DirectionDecryptor(suite, sh ?? sa, sa, true),
      suite: suite.name,
      version: server.version,
    };
  }
  const master = secrets.get('CLIENT_RANDOM');
  if (!master) return { reason: 'no-secrets-for-client-random' };
  const kb = tls12Prf(suite.hash, master, 'key expansion', Buffer.concat([server.random, client.random]), 2 * suite.keyLen + 2 * ivLen);
  const ck = { key: kb.subarray(0, suite.keyLen), iv: kb.subarray(2 * suite.keyLen, 2 * suite.keyLen + ivLen) };
  const sk = { key: kb.subarray(suite.keyLen, 2 * suite.keyLen), iv: kb.subarray(2 * suite.keyLen + ivLen, 2 * suite.keyLen + 2 * ivLen) };
  return { c2s: new DirectionDecryptor(suite, ck, ck, false), s2c: new DirectionDecryptor(suite, sk, sk, false), suite: suite.name, version: server.version };
}
