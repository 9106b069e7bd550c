/**
 * The emulator: a usbmuxd-compatible socket with one or more virtual iPhones behind it, which the real
 * libimobiledevice tools (USBMUXD_SOCKET_ADDRESS=UNIX:…), ifuse and our own client accept.
 *
 * `startEmulator()` creates a private temp folder (socket, pair records in usbmuxd's layout, each device's media and
 * crash folders), generates each device's camera roll (or serves an existing folder), starts a {@link UsbmuxServer}
 * over a {@link RecordStoreBackend} and attaches the devices with the properties of a real USB iPhone. `close()`
 * stops everything and removes the temp folder (never a folder the caller passed in).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../core/errors.ts';
import { DirectoryRecordStore } from '../usbmux/record-store.ts';
import { UsbmuxServer } from '../usbmux/server.ts';
import { RecordStoreBackend } from '../usbmux/store-backend.ts';
import { UsbmuxError } from '../usbmux/errors.ts';
import type { PlistDict } from '../plist/types.ts';
import { seedCrashReports, type CrashEntry } from './crash-reports.ts';
import { generateDcim, type DcimManifest, type DcimOptions } from './dcim-generator.ts';
import { setupHostileMedia } from './hostile.ts';
import { writeThumbnailStore } from './thumbnail-store.ts';
import type { AfcdTiming } from './afcd-model.ts';
import type { LinkParams, LinkProfile } from './link.ts';
import type { TrustPolicy } from './lockdown-device.ts';
import { VirtualIPhone, type VirtualIPhoneOptions } from './virtual-iphone.ts';
import { generateLibrary, type LibraryManifest, type LibraryOptions } from './library-generator.ts';

/** One device of the emulator. */
export interface EmulatedDeviceOptions {
  udid?: string;
  name?: string;
  /** ProductVersion (≥ 10, default "17.5"). */
  iosVersion?: string;
  /** Assets to generate into DCIM (default 20); ignored with `mediaDir`. */
  dcimCount?: number;
  /** Generator options besides count (seed, scale, dates, mix…). Default scale 1 (realistic sizes). */
  dcim?: Omit<DcimOptions, 'count'>;
  /**
   * Generate a whole photo library (./library-generator.ts: CPLAssets, edits, albums, cloud-only assets, Live pairs
   * by content identifier, PhotoData/Photos.sqlite + -wal) instead of a bare camera roll; ignored with `mediaDir`.
   */
  library?: LibraryOptions | boolean;
  /** Serve this existing folder as the AFC root instead of generating one (it must contain DCIM/). Never deleted. */
  mediaDir?: string;
  /** Same as `mediaDir` (the name the CLI flag `--dcim-dir` uses): the folder that contains DCIM/. */
  dcimDir?: string;
  trust?: TrustPolicy;
  trustDelayMs?: number;
  locked?: boolean;
  link?: LinkProfile | LinkParams;
  /** afcd service times (default: those of the link profile; see ./afcd-model.ts). */
  afcd?: AfcdTiming;
  /** Hostile names and symlinks in the media folder (./hostile.ts). */
  hostile?: boolean;
  /** Service handlers replacing or adding built-in ones by name (VirtualIPhoneOptions.services). */
  services?: VirtualIPhoneOptions['services'];
  /** Seed of the crash report tree (default 1). */
  crashSeed?: number;
  /** Also write the device's thumbnail store (PhotoData/Thumbnails/V2/…/5005.JPG, real JPEGs) for the generated roll. */
  thumbnails?: boolean;
}

/** Options of {@link startEmulator}: either `devices` or the single-device options at the top level. */
export interface EmulatorOptions extends EmulatedDeviceOptions {
  /** `UNIX:/path`, a bare absolute path, or `host:port` (port 0 = any). Default: a socket in the emulator's temp dir. */
  socket?: string;
  devices?: EmulatedDeviceOptions[];
}

/** A device as the emulator runs it. */
export interface EmulatedDevice {
  /** Current usbmux DeviceID (changes on re-attach, like a real re-enumeration). */
  deviceId: number;
  readonly udid: string;
  readonly iphone: VirtualIPhone;
  readonly mediaDir: string;
  readonly crashDir: string;
  /** What was generated (undefined when an existing folder is served). */
  readonly manifest: DcimManifest | undefined;
  /** The generated library (with `library`): assets, albums, cloud-only paths, edits, Live pairs. */
  readonly library: LibraryManifest | undefined;
  readonly crashReports: CrashEntry[];
  readonly attached: boolean;
}

/** A running emulator. */
export interface Emulator {
  /** USBMUXD_SOCKET_ADDRESS value (`UNIX:/path` or `host:port`). */
  readonly address: string;
  readonly devices: EmulatedDevice[];
  /** The emulator's private temp folder. */
  readonly dir: string;
  /** usbmuxd-layout pair record store (SystemConfiguration.plist + <UDID>.plist). */
  readonly records: DirectoryRecordStore;
  /** Plugs a detached device back in with a new DeviceID (emits usbmux Attached). */
  attach(udid?: string): EmulatedDevice;
  /** Unplugs a device: its streams error out, listeners get Detached. */
  detach(udid?: string): EmulatedDevice;
  /**
   * Stops the usbmuxd socket server as a daemon restart does: every client (Listen, device connections) is
   * closed and the address stops answering; the devices stay plugged in. Idempotent.
   */
  stopSocket(): Promise<void>;
  /** Serves the same address again after {@link stopSocket} (the devices attached are listed to new clients). */
  startSocket(): Promise<void>;
  /** Stops the socket and every device, and removes the temp folder. Idempotent. */
  close(): Promise<void>;
  /** `await using emu = await startEmulator()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** ConnectionSpeed of USB 2.0 high speed, bits per second. */
const USB2_SPEED = 480_000_000;
/** ProductID of recent iPhones (0x12a8). */
const IPHONE_PRODUCT_ID = 4776;

class Device implements EmulatedDevice {
  deviceId = 0;
  attached = false;
  constructor(
    readonly iphone: VirtualIPhone,
    readonly mediaDir: string,
    readonly crashDir: string,
    readonly manifest: DcimManifest | undefined,
    readonly crashReports: CrashEntry[],
    readonly location: number,
    readonly library: LibraryManifest | undefined,
  ) {}
  get udid(): string {
    return this.iphone.udid;
  }
  properties(): PlistDict {
    return {
      ConnectionSpeed: USB2_SPEED,
      ConnectionType: 'USB',
      DeviceID: this.deviceId,
      LocationID: this.location,
      ProductID: IPHONE_PRODUCT_ID,
      SerialNumber: this.udid,
    };
  }
}

/** Temp folders of emulators not closed yet: removed when the process exits without close() (e.g. process.exit()). */
const liveDirs = new Set<string>();
let exitHook = false;
function trackDir(dir: string): void {
  liveDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    // 'exit' handlers must be synchronous
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

function listenAddress(socket: string | undefined, dir: string): string {
  if (socket === undefined) return `UNIX:${join(dir, 'usbmuxd.sock')}`;
  if (socket.startsWith('/')) return `UNIX:${socket}`;
  return socket;
}

async function prepareDevice(o: EmulatedDeviceOptions, root: string, index: number): Promise<Device> {
  const devDir = join(root, `device-${index + 1}`);
  let mediaDir: string;
  let manifest: DcimManifest | undefined;
  let library: LibraryManifest | undefined;
  const given = o.mediaDir ?? o.dcimDir;
  if (o.mediaDir !== undefined && o.dcimDir !== undefined && resolve(o.mediaDir) !== resolve(o.dcimDir)) {
    throw new InvalidArgumentError('mediaDir and dcimDir name different folders');
  }
  if (given !== undefined) {
    mediaDir = resolve(given);
    const st = await stat(join(mediaDir, 'DCIM')).catch(() => undefined);
    if (!st?.isDirectory()) throw new InvalidArgumentError(`${mediaDir} has no DCIM folder (pass the folder that contains DCIM/)`);
    if (o.hostile) throw new InvalidArgumentError('hostile mode needs a generated media folder, not an existing one');
  } else {
    mediaDir = join(devDir, 'media');
    await mkdir(join(mediaDir, 'DCIM'), { recursive: true });
    for (const d of ['Downloads', 'Books', 'PhotoData']) await mkdir(join(mediaDir, d), { recursive: true });
    const dcim = { seed: index + 1, ...o.dcim, count: o.dcimCount ?? 20 };
    if (o.library) {
      library = await generateLibrary(mediaDir, dcim, o.library === true ? {} : o.library);
      manifest = { seed: library.seed, files: library.files, totalBytes: library.totalBytes };
    } else manifest = await generateDcim(mediaDir, dcim);
    if (o.thumbnails) await writeThumbnailStore(mediaDir, manifest.files);
  }
  const crashDir = join(devDir, 'crash');
  await mkdir(crashDir, { recursive: true });
  const crashReports = await seedCrashReports(crashDir, o.crashSeed ?? 1);
  const afcHooks = o.hostile ? await setupHostileMedia(mediaDir) : undefined;
  const iphone = new VirtualIPhone({
    mediaDir,
    crashDir,
    ...(o.udid !== undefined ? { udid: o.udid } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.iosVersion !== undefined ? { iosVersion: o.iosVersion } : {}),
    ...(o.trust !== undefined ? { trust: o.trust } : {}),
    ...(o.trustDelayMs !== undefined ? { trustDelayMs: o.trustDelayMs } : {}),
    ...(o.locked !== undefined ? { locked: o.locked } : {}),
    ...(o.link !== undefined ? { link: o.link } : {}),
    ...(o.afcd !== undefined ? { afcd: o.afcd } : {}),
    ...(afcHooks ? { afcHooks } : {}),
    ...(o.services ? { services: o.services } : {}),
  });
  // usbmuxd's LocationID is bus << 16 | address: bus 1, addresses 2, 3, …
  return new Device(iphone, mediaDir, crashDir, manifest, crashReports, (1 << 16) | (index + 2), library);
}

/**
 * Starts the emulator. Resolves once the socket accepts connections.
 * @throws InvalidArgumentError (ERR_INVALID_ARG) for bad options (iOS < 10, duplicate UDIDs, media folder without DCIM,
 *   a socket path already served by a live daemon); ERR_USBMUX_LISTEN_FAILED when the address cannot be bound (EADDRINUSE…).
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const dir = await mkdtemp(join(tmpdir(), 'iosdevice-emu-'));
  trackDir(dir);
  let server: UsbmuxServer | undefined;
  const devices: Device[] = [];
  try {
    const specs = opts.devices ?? [opts];
    for (const [i, spec] of specs.entries()) devices.push(await prepareDevice(spec, dir, i));
    const udids = new Set(devices.map((d) => d.udid.replace(/-/g, '').toUpperCase()));
    if (udids.size !== devices.length) throw new InvalidArgumentError('two devices have the same UDID');

    const records = new DirectoryRecordStore(join(dir, 'lockdown'));
    const backend = new RecordStoreBackend({
      store: records,
      connect: (deviceId, port) => {
        const d = devices.find((x) => x.attached && x.deviceId === deviceId);
        if (!d) return Promise.reject(new UsbmuxError(2, 'Connect'));
        return d.iphone.connect(port);
      },
    });
    let nextId = 1;
    const plug = (d: Device): void => {
      d.deviceId = nextId++;
      d.attached = true;
      d.iphone.reattach();
      backend.attach({ deviceId: d.deviceId, properties: d.properties() });
    };
    for (const d of devices) {
      d.iphone.on('detached', () => {
        if (!d.attached) return;
        d.attached = false;
        backend.detach(d.deviceId);
      });
      plug(d);
    }
    const serve = async (at: string): Promise<{ srv: UsbmuxServer; bound: string }> => {
      const srv = new UsbmuxServer(backend);
      srv.on('clientError', () => {}); // a bad client is dropped; the emulator keeps serving
      server = srv;
      return { srv, bound: await srv.listen(at) };
    };
    const first = await serve(listenAddress(opts.socket, dir));
    const address = first.bound;
    let srv: UsbmuxServer | undefined = first.srv;
    const pick = (udid?: string): Device => {
      if (udid === undefined) {
        if (devices.length !== 1) throw new InvalidArgumentError('several devices: name the UDID');
        return devices[0]!;
      }
      const key = udid.replace(/-/g, '').toUpperCase();
      const d = devices.find((x) => x.udid.replace(/-/g, '').toUpperCase() === key);
      if (!d) throw new InvalidArgumentError(`no emulated device ${udid}`);
      return d;
    };
    let closed = false;
    const emu: Emulator = {
      address,
      devices,
      dir,
      records,
      attach(udid?: string): EmulatedDevice {
        const d = pick(udid);
        if (!d.attached) plug(d);
        return d;
      },
      detach(udid?: string): EmulatedDevice {
        const d = pick(udid);
        d.iphone.detach(); // → 'detached' → backend.detach → usbmux Detached
        return d;
      },
      async stopSocket(): Promise<void> {
        const s = srv;
        srv = undefined;
        await s?.close();
      },
      async startSocket(): Promise<void> {
        if (closed) throw new InvalidArgumentError('the emulator is closed');
        if (srv) return;
        srv = (await serve(address)).srv;
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        for (const d of devices) d.iphone.close();
        await srv?.close();
        srv = undefined;
        await rm(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
      },
      [Symbol.asyncDispose](): Promise<void> {
        return emu.close();
      },
    };
    return emu;
  } catch (e) {
    for (const d of devices) d.iphone.close();
    await server?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw e;
  }
}

/** Short description of a device for logs and the CLI. */
export function describeDevice(d: EmulatedDevice): string {
  const v = d.iphone.lockdown;
  return `${d.udid} (DeviceID ${d.deviceId}, ${d.manifest ? `${d.manifest.files.length} files generated` : `serving ${basename(d.mediaDir)}`}, trust ${v.trust})`;
}
