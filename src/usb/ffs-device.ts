/**
 * The device end over Linux FunctionFS (Linux gadget stack, e.g. dummy_hcd in a test VM): a configfs gadget shaped like
 * a real iPhone (VID 0x05AC, two configurations: 1 = PTP, 2 = PTP + usbmux FF/FE/02 as interface 1), whose usbmux
 * function runs {@link DeviceMux} and hands accepted streams to a connector such as `VirtualIPhone.connect(port)`.
 *
 * FunctionFS files block, so reads and writes go through libuv's threadpool: start the process with
 * UV_THREADPOOL_SIZE=16 (each function's ep0 reader and the OUT reader hold a thread). Every ENABLE (configuration 2
 * selected by the host) starts a fresh mux session; DISABLE/UNBIND (configuration change, unplug) ends it, so open
 * streams fail with ERR_USB_DETACHED as on a real unplug. IN transfers that are a multiple of 512 bytes get a ZLP.
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdirSync, existsSync, mkdirSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DeviceMux, lookupFromConnector } from './device-mux.ts';
import type { DeviceMuxOptions } from './device-mux.ts';
import { DetachedError, UsbError } from './errors.ts';
import { decodeFfsEvents, ffsDescriptors, ffsEndpointFiles, ffsStrings, FfsEvent, FFS_EVENT_SIZE } from './ffs-descriptors.ts';
import type { FfsFunctionKind } from './ffs-descriptors.ts';
import type { BulkTransport } from './transport.ts';

const readAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));
const writeAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((resolve, reject) => fs.write(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));

/** Device-side transport over the usbmux function's endpoint files, for one ENABLE…DISABLE session. */
class FfsSessionTransport implements BulkTransport {
  readonly maxPacketSize = 512;
  #dataCb: ((b: Buffer) => void) | undefined;
  #closeCbs: ((e?: Error) => void)[] = [];
  #ended = false;

  constructor(
    readonly inFd: number,
    readonly outFd: number,
  ) {}

  async write(buf: Buffer): Promise<void> {
    if (this.#ended) throw new DetachedError('ffs write');
    try {
      await writeAsync(this.inFd, buf);
    } catch (e) {
      const err = new DetachedError('ffs write', { cause: e });
      this.end(err);
      throw err;
    }
  }

  onData(cb: (chunk: Buffer) => void): void {
    this.#dataCb = cb;
  }

  onClose(cb: (err?: Error) => void): void {
    this.#closeCbs.push(cb);
  }

  /** An OUT transfer read by the function's reader. */
  deliver(chunk: Buffer): void {
    if (!this.#ended) this.#dataCb?.(chunk);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Ends the session (DISABLE, UNBIND, I/O error). */
  end(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const cb of this.#closeCbs) cb(err);
  }

  async close(): Promise<void> {
    this.end(new DetachedError('ffs session'));
  }
}

/** One FunctionFS instance (a mounted `functionfs` directory). */
class FfsFunction {
  #ep0 = -1;
  #inFd = -1;
  #outFd = -1;
  #stopped = false;
  #session: FfsSessionTransport | undefined;
  #reading = false;
  #wake: (() => void) | undefined;

  constructor(
    readonly dir: string,
    readonly kind: FfsFunctionKind,
    readonly onSession: (t: FfsSessionTransport) => void,
    readonly log: (msg: string) => void,
  ) {}

  /** Writes descriptors and strings (one write() each), opens the endpoint files and starts the ep0 event loop. */
  start(): void {
    this.#ep0 = fs.openSync(join(this.dir, 'ep0'), 'r+');
    fs.writeSync(this.#ep0, ffsDescriptors(this.kind));
    fs.writeSync(this.#ep0, ffsStrings(this.kind));
    if (this.kind === 'usbmux') {
      const eps = ffsEndpointFiles('usbmux');
      this.#inFd = fs.openSync(join(this.dir, eps.in), 'r+');
      this.#outFd = fs.openSync(join(this.dir, eps.out), 'r+');
    }
    void this.#eventLoop();
  }

  async #eventLoop(): Promise<void> {
    const buf = Buffer.alloc(FFS_EVENT_SIZE * 4);
    while (!this.#stopped) {
      let n: number;
      try {
        n = await readAsync(this.#ep0, buf);
      } catch (e) {
        if (!this.#stopped) this.log(`${this.kind}: ep0 read failed: ${(e as Error).message}`);
        return;
      }
      for (const ev of decodeFfsEvents(buf.subarray(0, n))) {
        this.log(`${this.kind}@${this.dir}: event ${ev.type}`);
        if (ev.type === FfsEvent.Setup) {
          // nothing vendor-specific is served: stall (I/O in the wrong direction on ep0 halts it)
          const stall = ev.bmRequestType & 0x80 ? readAsync(this.#ep0, Buffer.alloc(0)) : writeAsync(this.#ep0, Buffer.alloc(0));
          await stall.catch(() => undefined);
        } else if (ev.type === FfsEvent.Enable && this.kind === 'usbmux') {
          this.#session?.end(new DetachedError('usb configuration changed'));
          this.#session = new FfsSessionTransport(this.#inFd, this.#outFd);
          this.onSession(this.#session);
          this.#startReader();
        } else if ((ev.type === FfsEvent.Disable || ev.type === FfsEvent.Unbind) && this.#session) {
          this.#session.end(new DetachedError('usb function disabled'));
          this.#session = undefined;
        }
      }
    }
  }

  /**
   * One OUT reader for the function's lifetime (never one per session): a read still pending from a session that was
   * just disabled would otherwise swallow the first packet (VERSION) of the next one.
   */
  #startReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    if (this.#reading) return;
    this.#reading = true;
    void (async () => {
      while (!this.#stopped) {
        const session = this.#session;
        if (!session || session.ended) {
          await new Promise<void>((r) => (this.#wake = r));
          continue;
        }
        const buf = Buffer.allocUnsafe(65536);
        let n: number;
        try {
          n = await readAsync(this.#outFd, buf);
        } catch (e) {
          // ESHUTDOWN while disabled: the DISABLE event ends the session; wait for the next ENABLE
          if (this.#session === session && !session.ended) session.end(new DetachedError('ffs read', { cause: e }));
          continue;
        }
        if (n > 0) this.#session?.deliver(n < 16384 ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n));
      }
      this.#reading = false;
    })();
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.#session?.end(new DetachedError('ffs stopped'));
    for (const fd of [this.#inFd, this.#outFd, this.#ep0]) if (fd >= 0) fs.closeSync(fd);
    this.#inFd = this.#outFd = this.#ep0 = -1;
  }
}

export interface IPhoneGadgetOptions {
  /** USB serial = undashed UDID (24 or 40 hex digits). */
  serial: string;
  /** idProduct (default 0x12a8, recent iPhones). */
  productId?: number;
  /** configfs gadget name (default "iphone"). */
  name?: string;
  /** UDC to bind (default: the first in /sys/class/udc). */
  udc?: string;
  /** Where the functionfs instances are mounted (default /dev/ffs-<name>-<fn>). */
  mountRoot?: string;
  /** Connector serving accepted streams, e.g. `(port) => iphone.connect(port)`. */
  connect: (port: number) => Promise<Duplex>;
  /** DeviceMux options (windows, max version). */
  mux?: Omit<DeviceMuxOptions, 'services'>;
}

/**
 * A configfs gadget presenting an iPhone on a UDC, served from this process. Needs root, configfs mounted at
 * /sys/kernel/config, and the libcomposite + usb_f_fs modules. Emits 'session' (DeviceMux) on each ENABLE and
 * 'log' (string).
 * @throws ERR_USB_UNAVAILABLE when configfs or a UDC is missing.
 */
export class IPhoneGadget extends EventEmitter {
  readonly dir: string;
  readonly udc: string;
  #functions: FfsFunction[] = [];
  #mounts: string[] = [];
  #mux: DeviceMux | undefined;

  private constructor(dir: string, udc: string) {
    super();
    this.dir = dir;
    this.udc = udc;
  }

  /** The mux of the current session (undefined while unplugged or unconfigured). */
  get mux(): DeviceMux | undefined {
    return this.#mux;
  }

  static create(opts: IPhoneGadgetOptions): IPhoneGadget {
    const name = opts.name ?? 'iphone';
    const root = '/sys/kernel/config/usb_gadget';
    if (!existsSync(root)) throw new UsbError('ERR_USB_UNAVAILABLE', 'configfs usb_gadget not available (load libcomposite, mount configfs)');
    const udcs = existsSync('/sys/class/udc') ? readdirSync('/sys/class/udc') : [];
    const udc = opts.udc ?? udcs[0];
    if (!udc) throw new UsbError('ERR_USB_UNAVAILABLE', 'no USB device controller (load dummy_hcd)');
    const g = new IPhoneGadget(join(root, name), udc);
    const w = (rel: string, v: string): void => writeFileSync(join(g.dir, rel), v);
    mkdirSync(g.dir);
    w('idVendor', '0x05ac');
    w('idProduct', `0x${(opts.productId ?? 0x12a8).toString(16)}`);
    w('bcdDevice', '0x1402');
    w('bcdUSB', '0x0200');
    mkdirSync(join(g.dir, 'strings/0x409'));
    w('strings/0x409/manufacturer', 'Apple Inc.');
    w('strings/0x409/product', 'iPhone');
    w('strings/0x409/serialnumber', opts.serial.replace(/-/g, ''));
    for (const [c, label] of [['c.1', 'PTP'], ['c.2', 'PTP + Apple Mobile Device']] as const) {
      mkdirSync(join(g.dir, 'configs', c, 'strings/0x409'), { recursive: true });
      w(`configs/${c}/strings/0x409/configuration`, label);
    }
    const mountRoot = opts.mountRoot ?? '/dev';
    const fns: [string, FfsFunctionKind, string][] = [
      ['ptp1', 'ptp', 'c.1'],
      ['ptp2', 'ptp', 'c.2'],
      ['usbmux', 'usbmux', 'c.2'],
    ];
    const lookup = lookupFromConnector(opts.connect);
    for (const [inst, kind, config] of fns) {
      mkdirSync(join(g.dir, 'functions', `ffs.${inst}`));
      symlinkSync(join(g.dir, 'functions', `ffs.${inst}`), join(g.dir, 'configs', config, `ffs.${inst}`));
      const mnt = join(mountRoot, `ffs-${name}-${inst}`);
      mkdirSync(mnt, { recursive: true });
      execFileSync('mount', ['-t', 'functionfs', inst, mnt]);
      g.#mounts.push(mnt);
      const fn = new FfsFunction(mnt, kind, (t) => {
        const mux = new DeviceMux(t, { ...opts.mux, services: lookup });
        g.#mux = mux;
        mux.on('close', () => {
          if (g.#mux === mux) g.#mux = undefined;
        });
        g.emit('session', mux);
      }, (m) => g.emit('log', m));
      g.#functions.push(fn);
    }
    for (const fn of g.#functions) fn.start();
    return g;
  }

  /** Binds the gadget to its UDC: the host sees the device arrive. */
  plug(): void {
    writeFileSync(join(this.dir, 'UDC'), this.udc);
  }

  /** Unbinds from the UDC: the host sees an unplug; the current mux session ends (streams get ERR_USB_DETACHED). */
  unplug(): void {
    writeFileSync(join(this.dir, 'UDC'), '\n');
  }

  /** Unplugs, stops the functions and removes the gadget from configfs. */
  async destroy(): Promise<void> {
    try {
      this.unplug();
    } catch {
      /* already unbound */
    }
    for (const fn of this.#functions) fn.stop();
    for (const m of this.#mounts) {
      try {
        execFileSync('umount', [m]);
      } catch {
        /* busy or gone */
      }
    }
    const rm = (p: string): void => {
      try {
        if (existsSync(p)) {
          const st = fs.lstatSync(p);
          if (st.isSymbolicLink()) unlinkSync(p);
          else rmdirSync(p);
        }
      } catch {
        /* configfs refuses while in use */
      }
    };
    for (const c of ['c.1', 'c.2']) {
      for (const f of existsSync(join(this.dir, 'configs', c)) ? readdirSync(join(this.dir, 'configs', c)) : []) {
        if (f.startsWith('ffs.')) rm(join(this.dir, 'configs', c, f));
      }
      rm(join(this.dir, 'configs', c, 'strings/0x409'));
      rm(join(this.dir, 'configs', c));
    }
    for (const f of ['ptp1', 'ptp2', 'usbmux']) rm(join(this.dir, 'functions', `ffs.${f}`));
    rm(join(this.dir, 'strings/0x409'));
    rm(this.dir);
  }
}
