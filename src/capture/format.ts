/** Text and JSON Lines renderings of decoded capture events (for `iosdevice decode`). */
import { createHash } from 'node:crypto';
import type { PlistValue } from '../plist/types.ts';
import type { CaptureEvent, StreamSummary } from './events.ts';
import { versionName } from './tls-records.ts';

/** Plist → JSON-safe value: data as `{ data: <bytes>, sha256 }` (PEM text kept short), bigint as a number or string, dates ISO. */
export function plistToJson(v: PlistValue): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const b = Buffer.from(v as Uint8Array);
    return { data: b.length, sha256: createHash('sha256').update(b).digest('hex').slice(0, 16) };
  }
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plistToJson);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, PlistValue>)) o[k] = plistToJson(x);
    return o;
  }
  return v;
}

/** One-line plist summary: `{Key: value, …}` with data shown as `<N bytes>` and long values cut. */
export function plistSummary(v: PlistValue, depth = 0): string {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `<${(v as Uint8Array).length} bytes>`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return depth > 1 ? `[${v.length} items]` : `[${v.slice(0, 6).map((x) => plistSummary(x, depth + 1)).join(', ')}${v.length > 6 ? `, … ${v.length} items` : ''}]`;
  if (v !== null && typeof v === 'object') {
    const e = Object.entries(v as Record<string, PlistValue>);
    if (depth > 1) return `{${e.length} keys}`;
    return `{${e.slice(0, 12).map(([k, x]) => `${k}: ${plistSummary(x, depth + 1)}`).join(', ')}${e.length > 12 ? `, … ${e.length} keys` : ''}}`;
  }
  return String(v);
}

/** Human-readable line of one event. */
export function eventLine(e: CaptureEvent): string {
  const head = `[${String(e.stream).padStart(3)}] ${e.frame !== undefined ? `#${String(e.frame).padEnd(5)}` : '      '} ${e.dir} ${String(e.offset).padStart(6)}`;
  switch (e.layer) {
    case 'usbmux': {
      const v = e.version === 1 ? 'v1' : `v${e.version}`;
      let s = `usbmux   ${v} tag ${e.tag} ${e.messageType ?? ''}`;
      if (e.result !== undefined) s += ` ${e.result}`;
      if (e.port !== undefined) s += ` (port ${e.port})`;
      if (e.plist) {
        const rest = { ...e.plist };
        delete rest.MessageType;
        if (e.result !== undefined) delete rest.Number;
        if (Object.keys(rest).length) s += ` ${plistSummary(rest)}`;
      }
      return `${head} ${s}`;
    }
    case 'lockdown': {
      const req = typeof e.plist.Request === 'string' ? e.plist.Request : '';
      return `${head} lockdown${e.tls ? '*' : ' '} ${req ? `${req} ` : ''}${plistSummary(e.plist)}`;
    }
    case 'tls': {
      const extra = e.boundary ? ` (TLS begins${e.version !== undefined ? `: ${versionName(e.version)}` : ''}${e.cipherSuite ? ` ${e.cipherSuite}` : ''})` : '';
      const dec = e.decrypted === true ? ' [decrypted]' : e.decrypted === false ? ' [not decrypted]' : '';
      return `${head} tls      ${e.what.join(', ')}${dec}${extra}`;
    }
    case 'afc': {
      let s = `afc      #${e.packetNum} ${e.opName}`;
      if (e.inReplyTo) s += ` (to ${e.inReplyTo})`;
      if (e.paths?.length) s += ` ${e.paths.map((p) => JSON.stringify(p)).join(' ')}`;
      if (e.args?.length) s += ` [${e.args.join(', ')}]`;
      if (e.statusName !== undefined) s += ` ${e.statusName}`;
      else if (e.status !== undefined) s += ` ${e.status}`;
      if (e.names) s += ` ${e.names.length} names`;
      if (e.info) s += ` ${plistSummary(e.info as unknown as PlistValue)}`;
      if (e.dataLength) s += ` +${e.dataLength} bytes`;
      return `${head} ${s}`;
    }
    case 'data':
      return `${head} data     ${e.length} bytes ${e.preview}`;
    case 'note':
      return `${head} --       ${e.note}`;
  }
}

/** JSON Lines object of one event (bigints as strings/numbers, plist data summarised). */
export function eventJson(e: CaptureEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'raw') continue;
    if (k === 'plist') o.plist = plistToJson(v as PlistValue);
    else if (k === 'timestampNs') o.timestampNs = (v as bigint).toString();
    else o[k] = v;
  }
  return o;
}

/** Header line of a stream. */
export function streamLine(s: StreamSummary): string {
  const parts = [`stream ${s.stream}`, `${s.client} → ${s.server}`, `${s.c2sBytes}/${s.s2cBytes} bytes`];
  if (s.request) parts.push(s.request);
  if (s.port !== undefined) parts.push(`port ${s.port}`);
  if (s.protocol) parts.push(s.protocol);
  return `== ${parts.join(', ')}`;
}
