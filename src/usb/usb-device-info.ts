/**
 * Pure helpers for Apple USB devices (no I/O): which VID/PIDs are iPhones/iPads, how a USB serial becomes a UDID,
 * how the usbmux interface is found among configurations, usbmuxd's LocationID and ConnectionSpeed.
 */

export const APPLE_VID = 0x05ac;

/** True for the PIDs usbmuxd handles: 0x1290–0x12AF (iPhone, iPad, iPod, Apple TV), 0x8600 (T2), 0x1901–0x1905. */
export function isAppleMobilePid(pid: number): boolean {
  return (pid >= 0x1290 && pid <= 0x12af) || pid === 0x8600 || (pid >= 0x1901 && pid <= 0x1905);
}

/** ConnectionSpeed in bits/s from Linux sysfs's `speed` file (Mbit/s: "1.5", "12", "480", "5000", ...); 480 Mbit/s when unknown. */
export function speedBpsFromMbps(mbps: string | undefined): number {
  const v = Number.parseFloat(mbps ?? '');
  return Number.isFinite(v) && v > 0 ? Math.round(v * 1_000_000) : 480_000_000;
}

/** usbmuxd's LocationID: bus number << 16 | device address. */
export function locationId(bus: number, address: number): number {
  return ((bus & 0xffff) << 16) | (address & 0xffff);
}

export interface EndpointDesc {
  endpointNumber: number;
  direction: 'in' | 'out';
  type: string;
  packetSize: number;
}
export interface AltDesc {
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  endpoints: EndpointDesc[];
}
export interface InterfaceDesc {
  interfaceNumber: number;
  alternates: AltDesc[];
}
export interface ConfigDesc {
  configurationValue: number;
  interfaces: InterfaceDesc[];
}

export interface MuxInterfaceChoice {
  configurationValue: number;
  interfaceNumber: number;
  inEndpoint: number;
  outEndpoint: number;
  /** wMaxPacketSize of the OUT endpoint (ZLP rule). */
  outPacketSize: number;
}

/**
 * Finds the usbmux interface (class 0xFF, subclass 0xFE, protocol 2, exactly two bulk endpoints, one per direction):
 * configurations are tried from the highest value down, the first one holding it wins (usbmuxd's walk).
 * Endpoint numbers come from the descriptors, never hard-coded. Returns undefined when none has it (USB mode 5).
 */
export function findMuxInterface(configs: readonly ConfigDesc[]): MuxInterfaceChoice | undefined {
  const sorted = [...configs].sort((a, b) => b.configurationValue - a.configurationValue);
  for (const c of sorted) {
    for (const itf of c.interfaces) {
      for (const alt of itf.alternates) {
        if (alt.interfaceClass !== 0xff || alt.interfaceSubclass !== 0xfe || alt.interfaceProtocol !== 2) continue;
        if (alt.endpoints.length !== 2) continue;
        const inn = alt.endpoints.find((e) => e.direction === 'in' && e.type === 'bulk');
        const out = alt.endpoints.find((e) => e.direction === 'out' && e.type === 'bulk');
        if (!inn || !out) continue;
        return {
          configurationValue: c.configurationValue,
          interfaceNumber: itf.interfaceNumber,
          inEndpoint: inn.endpointNumber,
          outEndpoint: out.endpointNumber,
          outPacketSize: out.packetSize || 512,
        };
      }
    }
  }
  return undefined;
}

/** A configuration descriptor as libusb (npm `usb` 2.x) reports it: `interfaces[i][alt]`. */
export interface RawConfigDescriptor {
  bConfigurationValue: number;
  interfaces: {
    bInterfaceNumber: number;
    bInterfaceClass: number;
    bInterfaceSubClass: number;
    bInterfaceProtocol: number;
    endpoints: { bEndpointAddress: number; bmAttributes: number; wMaxPacketSize: number }[];
  }[][];
}

const TRANSFER_TYPES = ['control', 'isochronous', 'bulk', 'interrupt'] as const;

/**
 * libusb configuration descriptors as {@link ConfigDesc}: endpoint numbers without the direction bit (0x80), the
 * direction from that bit, the type from bmAttributes' low two bits.
 */
export function configsFromDescriptors(raw: readonly RawConfigDescriptor[]): ConfigDesc[] {
  return raw.map((c) => ({
    configurationValue: c.bConfigurationValue,
    interfaces: c.interfaces
      .filter((alts) => alts.length > 0)
      .map((alts) => ({
        interfaceNumber: alts[0]!.bInterfaceNumber,
        alternates: alts.map((a) => ({
          interfaceClass: a.bInterfaceClass,
          interfaceSubclass: a.bInterfaceSubClass,
          interfaceProtocol: a.bInterfaceProtocol,
          endpoints: a.endpoints.map((e) => ({
            endpointNumber: e.bEndpointAddress & 0x0f,
            direction: e.bEndpointAddress & 0x80 ? ('in' as const) : ('out' as const),
            type: TRANSFER_TYPES[e.bmAttributes & 0x03],
            packetSize: e.wMaxPacketSize & 0x7ff,
          })),
        })),
      })),
  }));
}

/** Guess of the USB mode from the configurations (protocol.md §2): 5 = CDC-NCM only, no usbmux. */
export function guessUsbMode(configs: readonly ConfigDesc[]): number {
  const has = (cls: number, sub: number, proto?: number): boolean =>
    configs.some((c) =>
      c.interfaces.some((i) =>
        i.alternates.some((a) => a.interfaceClass === cls && a.interfaceSubclass === sub && (proto === undefined || a.interfaceProtocol === proto)),
      ),
    );
  if (configs.length === 1 && !findMuxInterface(configs) && has(0x02, 0x0d)) return 5;
  if (configs.length >= 6) return 4;
  if (has(0xff, 0x2a, 0xff)) return 2;
  if (configs.length >= 5 && has(0x02, 0x0d)) return 3;
  return 1;
}
