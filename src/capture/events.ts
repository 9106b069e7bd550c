/** The decoded view of a capture: one event per protocol message, in stream order. */
import type { PlistDict } from '../plist/types.ts';

export type Dir = 'c2s' | 's2c';

interface Base {
  /** Wireshark-style TCP stream index. */
  stream: number;
  dir: Dir;
  /** Byte offset of the message in the direction's reassembled stream. */
  offset: number;
  length: number;
  /** Frame number (1-based) holding the first byte, and its time. */
  frame?: number;
  timestampNs?: bigint;
  /** The message's bytes (usbmux frame, lockdown body, whole AFC packet) for replay; never printed. */
  raw?: Buffer;
}

export interface UsbmuxEvent extends Base {
  layer: 'usbmux';
  version: number;
  message: number;
  tag: number;
  /** Plist MessageType, or a name for binary messages (Connect, Listen, Result, …). */
  messageType?: string;
  plist?: PlistDict;
  /** Result number. */
  result?: number;
  /** Connect: the device port in host order. */
  port?: number;
  deviceId?: number;
}

export interface LockdownEvent extends Base {
  layer: 'lockdown';
  /** True when the frame was decrypted from inside TLS. */
  tls: boolean;
  format: 'xml' | 'binary';
  plist: PlistDict;
}

export interface TlsEvent extends Base {
  layer: 'tls';
  contentType: number;
  recordVersion: number;
  /** Handshake message names (plaintext hellos, or decrypted handshake), alert names, 'application data'. */
  what: string[];
  /** undefined: not encrypted; true: decrypted; false: could not decrypt. */
  decrypted?: boolean;
  /** First record of a TLS session on this stream (the boundary after StartSession). */
  boundary?: boolean;
  version?: number;
  cipherSuite?: string;
}

export interface AfcEvent extends Base {
  layer: 'afc';
  packetNum: number;
  operation: number;
  opName: string;
  /** Paths from the header payload (requests). */
  paths?: string[];
  /** u64 arguments from the header payload (requests; handle, size, mode…). */
  args?: number[];
  /** Bytes in the data area. */
  dataLength: number;
  /** STATUS value / open handle / tell position. */
  status?: number;
  statusName?: string;
  /** DATA reply decoded by the request it answers: names (ReadDir) or key/values (GetFileInfo, GetDeviceInfo). */
  names?: string[];
  info?: Record<string, string>;
  /** Operation of the request a reply answers. */
  inReplyTo?: string;
}

export interface DataEvent extends Base {
  layer: 'data';
  /** Raw bytes of an unrecognised protocol (first bytes only in summaries). */
  preview: string;
}

export interface NoteEvent extends Base {
  layer: 'note';
  note: string;
  /** Stable kind: 'connect' (switch to device traffic), 'tls-keys', 'truncated', 'error', 'gap'. */
  kind: string;
  port?: number;
  protocol?: string;
  code?: string;
}

export type CaptureEvent = UsbmuxEvent | LockdownEvent | TlsEvent | AfcEvent | DataEvent | NoteEvent;

/** Per-stream summary. */
export interface StreamSummary {
  stream: number;
  client: string;
  server: string;
  c2sBytes: number;
  s2cBytes: number;
  /** First usbmux request MessageType (Connect, Listen, ReadBUID, …). */
  request?: string;
  /** Device port after a Connect. */
  port?: number;
  /** What ran over the device connection: lockdown, afc, tls, plist, data. */
  protocol?: string;
  /** Offsets where the device traffic starts (after the Connect Result). */
  c2sTail?: number;
  s2cTail?: number;
  /** Offsets of the first TLS record per direction. */
  c2sTls?: number;
  s2cTls?: number;
  events: CaptureEvent[];
}
