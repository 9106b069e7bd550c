/**
 * The contract between `UsbmuxServer` (server.ts) (and its per-client sessions) and what it serves: the backend
 * (the virtual iPhone, the direct-USB transport, a test fake), plus the server's options.
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { UsbmuxDeviceRecord } from './device.ts';

/**
 * What the server serves. Emits 'attached'(UsbmuxDeviceRecord), 'detached'(deviceId), 'paired'(deviceId).
 * The server itself sends `Paired` to listeners after a successful SavePairRecord that names an
 * attached DeviceID (as usbmuxd does); emit 'paired' only for pairings made elsewhere.
 */
export interface UsbmuxBackend extends EventEmitter {
  /** Devices present now (DeviceID ≥ 1; `properties` as in protocol.md §1). */
  listDevices(): UsbmuxDeviceRecord[];
  /** Opens a stream to `port` (host order). Reject with UsbmuxResultError(2) for no such device, (3) for refused. */
  connect(deviceId: number, port: number): Promise<Duplex>;
  readBuid(): Promise<string>;
  /** The record bytes (XML), or undefined when none. */
  readPairRecord(udid: string): Promise<Buffer | undefined>;
  /** Reject with UsbmuxResultError(22) for unparsable data. */
  savePairRecord(udid: string, data: Buffer, deviceId?: number): Promise<void>;
  /** False when there was no record. */
  deletePairRecord(udid: string): Promise<boolean>;
}

/** Options of `UsbmuxServer` (server.ts). */
export interface UsbmuxServerOptions {
  /** Largest accepted request, bytes (default 16 MiB, as the decoder). */
  maxMessage?: number;
  /**
   * Behave like a pre-plist (v0-only) daemon: header version 1 gets Result 6 (BADVERSION), plist messages
   * under version 0 Result 1. For testing clients' binary fallback (libusbmuxd, ours).
   */
  binaryOnly?: boolean;
}
