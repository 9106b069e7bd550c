/**
 * Server (daemon) side of the usbmuxd protocol, pure: decodes client requests, encodes results,
 * replies and device events in either protocol (v0 binary structs or v1 XML plists).
 *
 * usbmuxd semantics kept here: it dispatches on the header's message type, so a plist body under
 * header version 0 is a plist request (answered in v1); a header version other than 0/1 is answered
 * with Result 6 (BADVERSION) in the client's current protocol.
 */
import { ProtocolError } from '../core/errors.ts';
import type { PlistDict } from '../plist/types.ts';
import { encodePlistMessage, parsePlistBody } from './codec.ts';
import { encodeDeviceAddPayload, type UsbmuxDeviceRecord } from './device.ts';
import { UsbmuxMessageDecoder, type FrameDecoderOptions, type UsbmuxFrame } from './frame.ts';
import { MessageType, ProtocolVersion, encodeHeader } from './protocol.ts';

/** Which encoding replies to a client use. */
export type ReplyProtocol = 'binary' | 'plist';

/** A decoded client request. */
export type UsbmuxRequest = { tag: number; version: number } & (
  /** A plist request; `messageType` is its string MessageType. */
  | { kind: 'plist'; messageType: string; plist: PlistDict }
  /** Binary v0 CONNECT (port already in host order). */
  | { kind: 'connect'; deviceId: number; port: number }
  /** Binary v0 LISTEN. */
  | { kind: 'listen' }
  /** Header version other than 0/1: answer Result 6. */
  | { kind: 'badVersion' }
  /** A binary message type the daemon does not handle: answer Result 1. */
  | { kind: 'unknown'; message: number }
);

/**
 * Decodes one client frame.
 * @throws ProtocolError (ERR_PROTOCOL) for garbage: an unparsable plist body, a plist without a string
 *   MessageType, a binary CONNECT with the wrong size (usbmuxd drops such clients).
 */
export function decodeRequest(frame: UsbmuxFrame): UsbmuxRequest {
  const { header: h, payload, offset } = frame;
  const base = { tag: h.tag, version: h.version };
  if (h.version !== ProtocolVersion.Binary && h.version !== ProtocolVersion.Plist) return { ...base, kind: 'badVersion' };
  switch (h.message) {
    case MessageType.Plist: {
      const d = parsePlistBody(payload, offset);
      if (typeof d.MessageType !== 'string') throw new ProtocolError('usbmux', 'plist request without a string MessageType', offset);
      return { ...base, kind: 'plist', messageType: d.MessageType, plist: d };
    }
    case MessageType.Connect:
      if (payload.length !== 8) throw new ProtocolError('usbmux', `binary CONNECT payload is ${payload.length} bytes, expected 8`, offset);
      return { ...base, kind: 'connect', deviceId: payload.readUInt32LE(0), port: payload.readUInt16BE(4) };
    case MessageType.Listen:
      return { ...base, kind: 'listen' };
    default:
      return { ...base, kind: 'unknown', message: h.message };
  }
}

/** Incremental request decoder (versions other than 0/1 are returned as `badVersion`, not thrown). */
export class UsbmuxRequestDecoder extends UsbmuxMessageDecoder<UsbmuxRequest> {
  constructor(opts: FrameDecoderOptions = {}) {
    super(decodeRequest, { ...opts, strictVersion: false });
  }
}

/** Encodes a plist message (v1 header, message 8, XML body): `[header, body]`. */
export { encodePlistMessage };

function binary(message: number, tag: number, payload: Buffer): Buffer[] {
  return [encodeHeader(payload.length, ProtocolVersion.Binary, message, tag), payload];
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

/** `Result` with `number`: v0 `RESULT` u32, or v1 `{MessageType: Result, Number}`. */
export function encodeResult(proto: ReplyProtocol, tag: number, number: number): Buffer[] {
  if (proto === 'binary') return binary(MessageType.Result, tag, u32(number));
  return encodePlistMessage(tag, { MessageType: 'Result', Number: number });
}

/** The `Attached` entry as it appears in DeviceList and in Listen events. */
export function attachedDict(r: UsbmuxDeviceRecord): PlistDict {
  return { DeviceID: r.deviceId, MessageType: 'Attached', Properties: r.properties };
}

/** A device-attached event (tag 0 for unsolicited events): v0 DEVICE_ADD (268 bytes) or v1 `Attached`. */
export function encodeAttached(proto: ReplyProtocol, tag: number, r: UsbmuxDeviceRecord): Buffer[] {
  if (proto === 'binary') return binary(MessageType.DeviceAdd, tag, encodeDeviceAddPayload(r));
  return encodePlistMessage(tag, attachedDict(r));
}

/** A device-detached event: v0 DEVICE_REMOVE or v1 `{MessageType: Detached, DeviceID}`. */
export function encodeDetached(proto: ReplyProtocol, tag: number, deviceId: number): Buffer[] {
  if (proto === 'binary') return binary(MessageType.DeviceRemove, tag, u32(deviceId));
  return encodePlistMessage(tag, { DeviceID: deviceId, MessageType: 'Detached' });
}

/** A device-paired event: v0 DEVICE_PAIRED or v1 `{MessageType: Paired, DeviceID}`. */
export function encodePaired(proto: ReplyProtocol, tag: number, deviceId: number): Buffer[] {
  if (proto === 'binary') return binary(MessageType.DevicePaired, tag, u32(deviceId));
  return encodePlistMessage(tag, { DeviceID: deviceId, MessageType: 'Paired' });
}

/** `{DeviceList: [...]}` reply (no MessageType, as usbmuxd and Apple send it). */
export function encodeDeviceList(tag: number, records: UsbmuxDeviceRecord[]): Buffer[] {
  return encodePlistMessage(tag, { DeviceList: records.map(attachedDict) });
}

/** `{BUID}` reply (no MessageType). */
export function encodeBuid(tag: number, buid: string): Buffer[] {
  return encodePlistMessage(tag, { BUID: buid });
}

/** `{PairRecordData}` reply (no MessageType). */
export function encodePairRecordData(tag: number, data: Buffer): Buffer[] {
  return encodePlistMessage(tag, { PairRecordData: data });
}

/** `{ListenerList}` reply (no MessageType). */
export function encodeListenerList(tag: number, listeners: PlistDict[]): Buffer[] {
  return encodePlistMessage(tag, { ListenerList: listeners });
}
