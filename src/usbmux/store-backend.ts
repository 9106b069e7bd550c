/**
 * A ready-made {@link UsbmuxBackend}: pair records and the BUID from a {@link DirectoryRecordStore},
 * devices attached/detached by the owner, `connect` delegated to a function (e.g. the virtual iPhone's
 * service router or the direct-USB mux). Without a connect function every Connect is refused (Result 3).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '../core/errors.ts';
import type { UsbmuxDeviceRecord } from './device.ts';
import { UsbmuxError } from './errors.ts';
import { ResultCode } from './protocol.ts';
import type { DirectoryRecordStore } from './record-store.ts';
import type { UsbmuxBackend } from './server.ts';

/** Opens a stream to a device port (host order); reject with UsbmuxError(2|3) to choose the Result. */
export type ConnectHandler = (deviceId: number, port: number) => Promise<Duplex>;

export class RecordStoreBackend extends EventEmitter implements UsbmuxBackend {
  readonly store: DirectoryRecordStore;
  readonly #devices = new Map<number, UsbmuxDeviceRecord>();
  readonly #connect: ConnectHandler | undefined;

  constructor(opts: { store: DirectoryRecordStore; connect?: ConnectHandler }) {
    super();
    this.store = opts.store;
    this.#connect = opts.connect;
  }

  /**
   * Publishes a device (emits 'attached').
   * @throws InvalidArgumentError (ERR_INVALID_ARG) for DeviceID < 1 (libusbmuxd stops scanning at 0) or a duplicate ID.
   */
  attach(record: UsbmuxDeviceRecord): void {
    if (!Number.isInteger(record.deviceId) || record.deviceId < 1) throw new InvalidArgumentError(`DeviceID must be ≥ 1, got ${record.deviceId}`);
    if (this.#devices.has(record.deviceId)) throw new InvalidArgumentError(`DeviceID ${record.deviceId} is already attached`);
    this.#devices.set(record.deviceId, record);
    this.emit('attached', record);
  }

  /** Removes a device (emits 'detached'); false when it was not attached. */
  detach(deviceId: number): boolean {
    if (!this.#devices.delete(deviceId)) return false;
    this.emit('detached', deviceId);
    return true;
  }

  listDevices(): UsbmuxDeviceRecord[] {
    return [...this.#devices.values()];
  }

  async connect(deviceId: number, port: number): Promise<Duplex> {
    if (!this.#devices.has(deviceId)) throw new UsbmuxError(ResultCode.BadDevice, 'Connect');
    if (!this.#connect) throw new UsbmuxError(ResultCode.ConnRefused, 'Connect');
    return this.#connect(deviceId, port);
  }

  readBuid(): Promise<string> {
    return this.store.systemBuid();
  }

  readPairRecord(udid: string): Promise<Buffer | undefined> {
    return this.store.read(udid);
  }

  savePairRecord(udid: string, data: Buffer): Promise<void> {
    return this.store.save(udid, data);
  }

  deletePairRecord(udid: string): Promise<boolean> {
    return this.store.delete(udid);
  }
}
