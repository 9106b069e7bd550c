/**
 * `iosdevice/capture`: the protocol debugger's parts. Record usbmuxd traffic as pcapng ({@link startRecordingProxy},
 * {@link CaptureRecorder}, {@link recordProvider} for in-process connections), read pcapng ({@link readPcapng}),
 * decode a capture into usbmux / lockdown (TLS decrypted with the embedded key log) / AFC events
 * ({@link decodeCapture}, printed with {@link eventLine} / {@link eventJson}), and replay a recording
 * ({@link ReplayServer}, {@link replayAgainst}).
 */
export { CaptureError, type CaptureErrorCode } from './errors.ts';
export { LinkType, MAX_BLOCK, PcapngWriter, readPcapng, type PcapInterface, type PcapngFile, type PcapPacket, type PcapSecret, type ReadOptions, type TimeResolution, type WriterOptions } from './pcapng.ts';
export { decodeCapture, type DecodeCaptureOptions, type DecodedCapture } from './decode.ts';
export type { AfcEvent, CaptureEvent, DataEvent, Dir, LockdownEvent, NoteEvent, StreamSummary, TlsEvent, UsbmuxEvent } from './events.ts';
export { eventJson, eventLine, plistToJson, streamLine } from './format.ts';
export { parseKeyLog, type ConnectionSecrets, type KeyLog } from './keylog.ts';
export { CaptureRecorder, RecordedConnection, type RecorderOptions } from './recorder.ts';
export { startRecordingProxy, type ProxyOptions, type RecordingProxy } from './proxy.ts';
export { recordProvider } from './record-provider.ts';
export { buildReplayScript, replayAgainst, ReplayMismatchError, ReplayServer, type ReplayClientOptions, type ReplayClientResult, type ReplayConnection, type ReplayServerOptions, type ReplayStep } from './replay.ts';
export type { StepLayer } from './replay-script.ts';
export type { Diff } from './compare.ts';
