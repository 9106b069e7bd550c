import { randomBytes } from 'node:crypto';
import type { PlistDict } from '../plist/types.ts';

/** Identity of a virtual iPhone (defaults: an iPhone 14 Pro on iOS 17.5.1). */
export interface VirtualIdentity {
  /** 25-character dashed UDID (2018+ form); generated when absent. */
  udid: string;
  deviceName: string;
  productType: string;
  productVersion: string;
  buildVersion: string;
  hardwareModel: string;
  serialNumber: string;
  /** Wi-Fi MAC, lower-case colon form. */
  wifiAddress: string;
}

function randomUdid(): string {
  const hex = randomBytes(12).toString('hex').toUpperCase();
  return `00008120-${hex.slice(0, 16)}`;
}

/** The global-domain values of a recent iPhone (key names and types as real devices answer). */
export function defaultGlobalValues(id: Partial<VirtualIdentity>, devicePublicKey: Buffer): PlistDict {
  const udid = id.udid ?? randomUdid();
  const ecid = Number.parseInt(udid.replace('-', '').slice(-13), 16) % Number.MAX_SAFE_INTEGER || 0x1a2b3c4d5e6f;
  const mac = id.wifiAddress ?? 'f0:18:98:a1:b2:c3';
  return {
    ActivationState: 'Activated',
    BasebandVersion: '3.40.01',
    BluetoothAddress: 'f0:18:98:a1:b2:c4',
    BoardId: 12,
    BuildVersion: id.buildVersion ?? '21F90',
    CPUArchitecture: 'arm64e',
    ChipID: 33056,
    DeviceClass: 'iPhone',
    DeviceColor: '1',
    DeviceEnclosureColor: '1',
    DeviceName: id.deviceName ?? 'Virtual iPhone',
    DevicePublicKey: devicePublicKey,
    FirmwareVersion: 'iBoot-10151.122.1',
    HardwareModel: id.hardwareModel ?? 'D73AP',
    HostAttached: true,
    IDAMCapable: true,
    InternationalMobileEquipmentIdentity: '356000000000000',
    MobileDeviceMinimumVersion: '1351',
    ModelNumber: 'MQ0G3',
    PasswordProtected: false,
    ProductName: 'iPhone OS',
    ProductType: id.productType ?? 'iPhone15,2',
    ProductVersion: id.productVersion ?? '17.5.1',
    ProtocolVersion: '2',
    RegionInfo: 'LL/A',
    SerialNumber: id.serialNumber ?? 'F2LZK0ABCDEF',
    TimeZone: 'Europe/Berlin',
    TrustedHostAttached: true,
    UniqueChipID: ecid,
    UniqueDeviceID: udid,
    WiFiAddress: mac,
  };
}

/** A few real non-global domains with plausible values (readable inside a session). */
export function defaultDomains(): Record<string, PlistDict> {
  return {
    'com.apple.disk_usage': {
      TotalDiskCapacity: 128_000_000_000,
      TotalDataCapacity: 110_000_000_000,
      TotalDataAvailable: 64_000_000_000,
      AmountDataAvailable: 64_000_000_000,
      TotalSystemCapacity: 18_000_000_000,
    },
    'com.apple.mobile.battery': { BatteryCurrentCapacity: 87, BatteryIsCharging: true, ExternalConnected: true, FullyCharged: false },
    'com.apple.international': { Language: 'en', Locale: 'en_US' },
    'com.apple.mobile.wireless_lockdown': { EnableWifiConnections: false },
    'com.apple.PurpleBuddy': { SetupDone: true },
  };
}
