/**
 * Recording a {@link DeviceProvider}'s device connections in-process (any transport: usbmuxd, our own USB mux).
 * Each `connect(port)` becomes one synthetic TCP stream that starts with a usbmux Connect request and `Result 0`
 * (marked synthetic by ProgName "iosdevice-recorder") followed by the device bytes, so `iosdevice decode`, replay
 * and the Wireshark dissector treat it like a recording taken on a usbmuxd socket.
 */
import type { Duplex } from 'node:stream';
import type { CallOpts } from '../core/abort.ts';
import type { DeviceProvider } from '../provider.ts';
import { clientIdentity, encodeConnectRequest } from '../usbmux/codec.ts';
import { encodeResult } from '../usbmux/server-codec.ts';
import { recordDuplex, type CaptureRecorder } from './recorder.ts';

/** ProgName of the synthetic Connect requests. */
export const RECORDER_PROG_NAME = 'iosdevice-recorder';

/**
 * Wraps `dev` so every device connection it opens is recorded on `recorder` (both directions, byte-exactly).
 * The returned provider is used in place of `dev` (connectLockdown, connectAfc, …).
 */
export function recordProvider(dev: DeviceProvider, recorder: CaptureRecorder): DeviceProvider {
  let tag = 0;
  const wrapped: DeviceProvider = Object.create(dev) as DeviceProvider;
  Object.defineProperty(wrapped, 'connect', {
    value: async (port: number, o?: CallOpts): Promise<Duplex> => {
      const stream = await dev.connect(port, o);
      const conn = recorder.connection();
      tag++;
      conn.c2s(Buffer.concat(encodeConnectRequest(tag, dev.deviceId ?? 1, port, clientIdentity(RECORDER_PROG_NAME))));
      conn.s2c(Buffer.concat(encodeResult('plist', tag, 0)));
      return recordDuplex(stream, conn);
    },
  });
  return wrapped;
}
