/**
 * Real Apple/libimobiledevice plists from ../shared/captures/third-party (read in place, never copied; skipped when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { parsePlist, encodeXmlPlist, encodeBinaryPlist, detectPlistFormat, type PlistValue, type PlistDict } from '../../../src/plist/index.ts';
import { capturePath, skipUnlessCaptures } from '../../support/captures.ts';

const skip = skipUnlessCaptures();
const read = (...p: string[]): Buffer => readFileSync(capturePath(...p));

/** Lockdown framing: u32 BE length + plist, repeated; returns the complete frames' bodies. */
function lockdownFrames(buf: Buffer, from = 0): Buffer[] {
  const out: Buffer[] = [];
  let off = from;
  while (off + 4 <= buf.length) {
    const n = buf.readUInt32BE(off);
    if (off + 4 + n > buf.length) break;
    out.push(buf.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  return out;
}

/** usbmux framing: 16-byte LE header (length includes the header) + plist body. */
function usbmuxBody(buf: Buffer, from = 0): Buffer {
  const len = buf.readUInt32LE(from);
  return buf.subarray(from + 16, from + len);
}

/** Our decoded value against the capture index's JSON rendering (blobs there are {$bytes_sha256, len}). */
function assertMatchesJson(ours: PlistValue, json: unknown, path = '$'): void {
  if (Buffer.isBuffer(ours)) {
    const j = json as { $bytes_sha256?: string; len?: number };
    assert.equal(typeof j?.$bytes_sha256, 'string', `${path}: JSON has no blob`);
    assert.equal(ours.length, j.len, `${path}: length`);
    assert.equal(createHash('sha256').update(ours).digest('hex'), j.$bytes_sha256, `${path}: sha256`);
  } else if (Array.isArray(ours)) {
    assert.ok(Array.isArray(json), `${path}: not an array in JSON`);
    assert.equal(ours.length, (json as unknown[]).length, `${path}: length`);
    ours.forEach((v, i) => assertMatchesJson(v, (json as unknown[])[i], `${path}[${i}]`));
  } else if (typeof ours === 'object' && !(ours instanceof Date)) {
    const d = ours as PlistDict;
    assert.deepEqual(Object.keys(d).sort(), Object.keys(json as object).sort(), `${path}: keys`);
    for (const k of Object.keys(d)) assertMatchesJson(d[k] as PlistValue, (json as Record<string, unknown>)[k], `${path}.${k}`);
  } else {
    assert.deepEqual(ours, json, path);
  }
}

test('captures: Apple pair record (XML) parses and re-encodes byte-identically', { skip }, () => {
  const buf = read('usbmuxd_debug', 'derived', 'pair_record_from_readpairrecord.plist');
  const v = parsePlist(buf) as PlistDict;
  assert.deepEqual(Object.keys(v).sort(), ['DeviceCertificate', 'EscrowBag', 'HostCertificate', 'HostID', 'HostPrivateKey', 'RootCertificate', 'RootPrivateKey', 'SystemBUID', 'WiFiMACAddress']);
  for (const k of ['DeviceCertificate', 'HostCertificate', 'RootCertificate']) assert.match((v[k] as Buffer).toString('latin1'), /^-----BEGIN CERTIFICATE-----\n/);
  assert.equal((v.EscrowBag as Buffer).length, 32);
  assert.equal(typeof v.HostID, 'string');
  // our XML encoder writes exactly what Apple's usbmuxd wrote (layout, data wrapping, escaping)
  assert.ok(encodeXmlPlist(v).equals(buf));
  assert.deepEqual(parsePlist(encodeBinaryPlist(v)), v);
});

test('captures: all 422 usbmux and 530 lockdown plists of the macOS recording decode as indexed and re-encode byte-identically', { skip }, () => {
  const index = JSON.parse(read('usbmuxd_debug', 'derived', 'midi_usbmux_index.json').toString('utf8')) as {
    streams: ({ tcp_stream: number } & Record<string, unknown>)[];
  };
  let usbmux = 0;
  let lockdown = 0;
  let binary = 0;
  for (const s of index.streams) {
    for (const dir of ['c2s', 's2c'] as const) {
      const msgs = (s[`${dir}_usbmux`] ?? []) as { offset: number; length: number; plist: unknown }[];
      const frames = (s[`${dir}_lockdown_plaintext`] ?? []) as { offset: number; length: number; format: string; plist: unknown }[];
      if (msgs.length === 0 && frames.length === 0) continue;
      const bytes = read('usbmuxd_debug', 'derived', 'all-streams', `stream${String(s.tcp_stream).padStart(3, '0')}_${dir}.bin`);
      for (const m of msgs) {
        const body = bytes.subarray(m.offset + 16, m.offset + m.length);
        const v = parsePlist(body);
        assertMatchesJson(v, m.plist, `stream ${s.tcp_stream} ${dir} usbmux @${m.offset}`);
        // Apple's own XML: our encoder reproduces it byte for byte
        assert.ok(encodeXmlPlist(v).equals(body), `stream ${s.tcp_stream} ${dir} usbmux @${m.offset}: re-encoding differs`);
        usbmux++;
      }
      for (const f of frames) {
        assert.equal(bytes.readUInt32BE(f.offset), f.length);
        const body = bytes.subarray(f.offset + 4, f.offset + 4 + f.length);
        assert.equal(detectPlistFormat(body), f.format === 'bplist' ? 'binary' : 'xml');
        const v = parsePlist(body);
        assertMatchesJson(v, f.plist, `stream ${s.tcp_stream} ${dir} lockdown @${f.offset}`);
        if (f.format === 'bplist') binary++;
        // Apple's bytes (XML and bplist00 alike) are reproduced exactly by the matching encoder
        const again = f.format === 'bplist' ? encodeBinaryPlist(v) : encodeXmlPlist(v);
        assert.ok(again.equals(body), `stream ${s.tcp_stream} ${dir} lockdown @${f.offset}: re-encoding differs`);
        assert.deepEqual(parsePlist(f.format === 'bplist' ? encodeXmlPlist(v) : encodeBinaryPlist(v)), v);
        lockdown++;
      }
    }
  }
  assert.equal(usbmux, 422);
  assert.equal(lockdown, 530);
  assert.equal(binary, 8);
});

test('captures: appium usbmux DeviceList bodies', { skip }, () => {
  for (const f of ['usbmuxlistdevicemessage.bin', 'usbmuxlistdevicemessage2.bin']) {
    const v = parsePlist(usbmuxBody(read('appium-ios-device', f))) as { DeviceList: { DeviceID: number; Properties: PlistDict }[] };
    assert.ok(v.DeviceList.length >= 1);
    const p = v.DeviceList[0]!.Properties;
    assert.equal(p.ConnectionType, 'USB');
    assert.equal(typeof p.DeviceID, 'number');
    assert.match(p.SerialNumber as string, /^[0-9a-f]{40}$/);
  }
});

test('captures: appium ReadPairRecord reply holds a binary pair record', { skip }, () => {
  const v = parsePlist(usbmuxBody(read('appium-ios-device', 'usbmuxreadpairmessage.bin'))) as { PairRecordData: Buffer };
  assert.ok(Buffer.isBuffer(v.PairRecordData));
  assert.equal(detectPlistFormat(v.PairRecordData), 'binary');
  const rec = parsePlist(v.PairRecordData) as PlistDict;
  for (const k of ['DeviceCertificate', 'HostCertificate', 'RootCertificate', 'HostPrivateKey', 'RootPrivateKey']) {
    assert.ok(Buffer.isBuffer(rec[k]), k);
    assert.match((rec[k] as Buffer).toString('latin1'), /^-----BEGIN /, k);
  }
  assert.equal(typeof rec.HostID, 'string');
  assert.equal(typeof rec.SystemBUID, 'string');
  // this record's writer used the libplist object order (key, value, key, value…): we reproduce it byte for byte
  assert.ok(encodeBinaryPlist(rec).equals(v.PairRecordData));
  assert.deepEqual(parsePlist(encodeXmlPlist(rec)), rec);
});

test('captures: appium lockdown frames (QueryType, GetValue, TimeIntervalSince1970 <real>)', { skip }, () => {
  const q = parsePlist(lockdownFrames(read('appium-ios-device', 'lockdownquerytypemessage.bin'))[0]!) as PlistDict;
  assert.deepEqual(q, { Request: 'QueryType', Type: 'com.apple.mobile.lockdown' });
  const g = parsePlist(lockdownFrames(read('appium-ios-device', 'lockdowngetvaluemessage.bin'))[0]!) as PlistDict;
  assert.equal(g.Request, 'GetValue');
  assert.equal(typeof g.Value, 'string');
  const t = parsePlist(lockdownFrames(read('appium-ios-device', 'lockdowngettimemessage.bin'))[0]!) as PlistDict;
  assert.equal(t.Key, 'TimeIntervalSince1970');
  assert.equal(typeof t.Value, 'number');
  assert.ok(!Number.isInteger(t.Value) && (t.Value as number) > 1.5e9, String(t.Value));
  // the Result + first lockdown frame coalesced in one buffer
  const c = read('appium-ios-device', 'usbmuxconnectandlockdown.bin');
  assert.deepEqual(parsePlist(usbmuxBody(c)), { MessageType: 'Result', Number: 0 });
  const frames = lockdownFrames(c, c.readUInt32LE(0));
  assert.equal(frames.length, 1);
  assert.equal((parsePlist(frames[0]!) as PlistDict).Request, 'GetValue');
});

test('captures: appium installation_proxy binary plists in lockdown framing', { skip }, () => {
  const install = lockdownFrames(read('appium-ios-device', 'installationproxyinstallmessage.bin')).map((b) => {
    assert.equal(detectPlistFormat(b), 'binary');
    return parsePlist(b) as PlistDict;
  });
  assert.equal(install.length, 14);
  assert.deepEqual(install[0], { PercentComplete: 5, Status: 'CreatingStagingDirectory' });
  assert.deepEqual(install.at(-1), { Status: 'Complete' });
  const list = lockdownFrames(read('appium-ios-device', 'installationproxylistmessage.bin')).map((b) => parsePlist(b) as PlistDict);
  assert.equal(list[0]!.Status, 'BrowsingApplications');
  const app = (list[0]!.CurrentList as PlistDict[])[0]!;
  assert.equal(app.CFBundleIdentifier, 'com.apple.test.WebDriverAgentRunner-Runner');
  assert.deepEqual(app.UIDeviceFamily, [1, 2]);
  for (const v of [...install, ...list]) {
    assert.deepEqual(parsePlist(encodeBinaryPlist(v)), v);
    assert.deepEqual(parsePlist(encodeXmlPlist(v)), v);
  }
});

test('captures: SteveTrewick usbmux and lockdown plists (2024–25 macOS)', { skip }, () => {
  const dir = 'SteveTrewick-USBmuxd';
  for (const f of readdirSync(capturePath(dir))) {
    const b = read(dir, f);
    const body = f.startsWith('lockdown') ? lockdownFrames(b)[0]! : usbmuxBody(b);
    const v = parsePlist(body);
    assert.equal(typeof v, 'object', f);
  }
  const list = parsePlist(usbmuxBody(read(dir, 'listdevices_response.bin'))) as { DeviceList: { DeviceID: number }[] };
  assert.equal(list.DeviceList[0]!.DeviceID, 38);
});

test('captures: appium and SteveTrewick XML plists (incl. the device <real>) re-encode byte-identically', { skip }, () => {
  const lockdown = ['appium-ios-device/lockdowngettimemessage.bin', 'appium-ios-device/lockdowngetvaluemessage.bin', 'appium-ios-device/lockdownquerytypemessage.bin', 'SteveTrewick-USBmuxd/lockdown_getvalue_devicename_response.bin'];
  const usbmux = ['appium-ios-device/usbmuxlistdevicemessage.bin', 'appium-ios-device/usbmuxreadpairmessage.bin', 'SteveTrewick-USBmuxd/listdevices_response.bin', 'SteveTrewick-USBmuxd/attached_notification.bin', 'SteveTrewick-USBmuxd/detached_notification.bin', 'SteveTrewick-USBmuxd/listen_result.bin'];
  for (const f of [...lockdown, ...usbmux]) {
    const b = read(...f.split('/'));
    const body = lockdown.includes(f) ? lockdownFrames(b)[0]! : usbmuxBody(b);
    assert.ok(encodeXmlPlist(parsePlist(body)).equals(body), f);
  }
});
