/**
 * Field-by-field comparison of recorded and live messages for replay (pure). The first difference is reported
 * with its path (`PairRecord.HostID`, `header.operation`, `data[12]`). Keys listed as volatile (values that differ
 * on every run: session ids, fresh certificates, BUIDs, timestamps) are compared structurally: same type only.
 */
import { PlistReal, PlistUid, isPlistDict, type PlistValue } from '../plist/types.ts';

/** The first difference between two messages. */
export interface Diff {
  /** Dotted path of the first differing field (`[n]` for array items / byte offsets). */
  path: string;
  expected: string;
  actual: string;
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  if (Buffer.isBuffer(v)) return `<${v.length} bytes ${v.subarray(0, 16).toString('hex')}${v.length > 16 ? '…' : ''}>`;
  if (typeof v === 'bigint') return `${v}`;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof PlistReal || v instanceof PlistUid) return String(v.value);
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kind(v: unknown): string {
  if (v === undefined) return 'absent';
  if (Buffer.isBuffer(v)) return 'data';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof PlistReal) return 'real';
  if (v instanceof PlistUid) return 'uid';
  if (typeof v === 'bigint' || typeof v === 'number') return Number.isInteger(Number(v)) ? 'integer' : 'real';
  if (isPlistDict(v)) return 'dict';
  return typeof v;
}

/** First differing byte of two buffers, or undefined when equal. */
export function diffBytes(expected: Buffer, actual: Buffer, path = 'bytes'): Diff | undefined {
  const n = Math.min(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) {
      return { path: `${path}[${i}]`, expected: `0x${expected[i]!.toString(16).padStart(2, '0')}`, actual: `0x${actual[i]!.toString(16).padStart(2, '0')}` };
    }
  }
  if (expected.length !== actual.length) return { path: `${path}.length`, expected: String(expected.length), actual: String(actual.length) };
  return undefined;
}

/**
 * Compares two plist values; `volatile` keys (at any depth) only need the same type.
 * Returns the first difference or undefined.
 */
export function diffPlist(expected: PlistValue | undefined, actual: PlistValue | undefined, volatile: ReadonlySet<string>, path = ''): Diff | undefined {
  const here = path || '(root)';
  const ke = kind(expected);
  const ka = kind(actual);
  if (ke !== ka) return { path: here, expected: `${ke} ${show(expected)}`, actual: `${ka} ${show(actual)}` };
  if (isPlistDict(expected) && isPlistDict(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of [...keys].sort()) {
      const p = path ? `${path}.${k}` : k;
      if (volatile.has(k)) {
        if (kind(expected[k]) !== kind(actual[k])) return { path: p, expected: kind(expected[k]), actual: kind(actual[k]) };
        continue;
      }
      const d = diffPlist(expected[k], actual[k], volatile, p);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return { path: `${here}.length`, expected: String(expected.length), actual: String(actual.length) };
    for (let i = 0; i < expected.length; i++) {
      const d = diffPlist(expected[i], actual[i], volatile, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (Buffer.isBuffer(expected) && Buffer.isBuffer(actual)) return diffBytes(expected, actual, here);
  if (expected instanceof Date && actual instanceof Date) {
    return expected.getTime() === actual.getTime() ? undefined : { path: here, expected: show(expected), actual: show(actual) };
  }
  const ev = expected instanceof PlistReal || expected instanceof PlistUid ? expected.value : typeof expected === 'bigint' ? Number(expected) : expected;
  const av = actual instanceof PlistReal || actual instanceof PlistUid ? actual.value : typeof actual === 'bigint' ? Number(actual) : actual;
  return ev === av ? undefined : { path: here, expected: show(expected), actual: show(actual) };
}

/** Compares two `key\0value\0` maps (AFC GetFileInfo / GetDeviceInfo) with volatile keys. */
export function diffKeyValues(expected: Record<string, string>, actual: Record<string, string>, volatile: ReadonlySet<string>, path: string): Diff | undefined {
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const k of [...keys].sort()) {
    const e = expected[k];
    const a = actual[k];
    if (e === undefined || a === undefined || (!volatile.has(k) && e !== a)) return { path: `${path}.${k}`, expected: show(e), actual: show(a) };
  }
  return undefined;
}

/** Keys whose values legitimately differ between a recording and a live run (session material, fresh keys, clocks). */
export const VOLATILE_KEYS: ReadonlySet<string> = new Set([
  // usbmux
  'BUID', 'PairRecordData', 'ProcessID',
  // lockdown: sessions, pairing material, per-device identity of the emulator
  'HostID', 'SystemBUID', 'SessionID', 'EscrowBag', 'DevicePublicKey', 'DeviceCertificate', 'HostCertificate',
  'RootCertificate', 'HostPrivateKey', 'RootPrivateKey', 'WiFiMACAddress', 'TimeIntervalSince1970', 'Port',
  // AFC clocks and free space
  'st_birthtime', 'FSFreeBytes',
]);
