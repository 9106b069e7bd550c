/**
 * tshark with our Lua dissector (dissector/iosdevice.lua) on the project's recordings: usbmux header fields and
 * MessageTypes, lockdown requests in plaintext and — decrypted by Wireshark's TLS with the capture's DSB — inside
 * TLS, AFC opcodes, paths and statuses; and on the real macOS capture with `-d tcp.port==9876,usbmux`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skipUnlessTools } from '../support/peers.ts';
import { capturePath, skipUnlessCaptures } from '../support/captures.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const lua = `${root}dissector/iosdevice.lua`;
const skip = skipUnlessTools('tshark');

/** Runs tshark with the dissector and returns the rows of `-T fields` (tab-separated), killed after 60 s. */
function fields(file: string, names: string[], extra: string[] = []): Promise<string[][]> {
  const args = ['-X', `lua_script:${lua}`, ...extra, '-r', file, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', ...names.flatMap((n) => ['-e', n])];
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tshark failed: ${err.message} ${stderr}`));
      else resolve(stdout.split('\n').filter((l) => l.replace(/\t/g, '') !== '').map((l) => l.split('\t')));
    });
  });
}

test('tshark + dissector: usbmux header fields and MessageTypes (ifuse capture)', { skip }, async () => {
  const rows = await fields(`${root}captures/tools-ifuse-dcim.pcapng`, ['usbmux.length', 'usbmux.version', 'usbmux.msgtype', 'usbmux.tag', 'usbmux.messagetype', 'usbmux.port']);
  const mts = rows.map((r) => r[4]).filter(Boolean);
  for (const m of ['ListDevices', 'Connect', 'Result', 'ReadPairRecord', 'ReadBUID']) assert.ok(mts.includes(m), m);
  assert.ok(rows.every((r) => r[1] === '1' && r[2] === '8'), 'plist messages, version 1');
  const ports = rows.map((r) => r[5]).filter(Boolean);
  assert.ok(ports.includes('62078'));
  assert.ok(ports.some((p) => p !== '62078'), 'the AFC service port');
});

test('tshark + dissector: lockdown requests in plaintext and decrypted inside TLS (ideviceinfo capture)', { skip }, async () => {
  const rows = await fields(`${root}captures/tools-ideviceinfo.pcapng`, ['lockdown.request', 'lockdown.key', 'lockdown_tls']);
  const reqs = rows.map((r) => r[0]);
  assert.deepEqual(reqs, ['QueryType', 'QueryType', 'GetValue', 'GetValue', 'StartSession', 'StartSession', 'GetValue', 'GetValue', 'StopSession', 'StopSession']);
  assert.equal(rows[2]![1], 'ProductVersion');
});

test('tshark + dissector: AFC opcodes, paths and status (ifuse and our pull)', { skip }, async () => {
  for (const f of ['tools-ifuse-dcim.pcapng', 'ours-afc-pull-dcim.pcapng']) {
    const rows = await fields(`${root}captures/${f}`, ['afc.opname', 'afc.path', 'afc.packet_num', 'afc.statusname', 'afc.data_length']);
    const ops = rows.flatMap((r) => r[0]!.split('|'));
    for (const op of ['ReadDir', 'GetFileInfo', 'FileRefOpen', 'FileRefRead', 'Data', 'FileRefClose', 'Status']) assert.ok(ops.includes(op), `${f}: ${op}`);
    const paths = rows.flatMap((r) => (r[1] ? r[1].split('|') : []));
    assert.ok(paths.some((p) => /^\/DCIM\/100APPLE\/IMG_\d{4}\.(JPG|HEIC|PNG|MOV)$/.test(p)), `${f}: ${paths.join(' ')}`);
    assert.ok(rows.some((r) => r[3]!.split('|').includes('SUCCESS')));
  }
});

test('tshark + dissector: the real macOS capture with -d tcp.port==9876,usbmux (both AFC sessions, lockdown, TLS)', { skip: skip || skipUnlessCaptures() }, async () => {
  const rows = await fields(capturePath('usbmuxd_debug', 'midi.pcapng'), ['tcp.stream', 'usbmux.messagetype', 'lockdown.request', 'afc.opname', 'afc.path'], ['-d', 'tcp.port==9876,usbmux']);
  const afcStreams = new Set(rows.filter((r) => r[3]).map((r) => r[0]));
  assert.deepEqual([...afcStreams].sort(), ['190', '91']);
  assert.ok(rows.some((r) => r[4]!.includes('/iTunes_Control/iTunes/iTunesPrefs')));
  const mts = new Set(rows.flatMap((r) => r[1]!.split('|')).filter(Boolean));
  for (const m of ['Listen', 'Attached', 'Detached', 'Connect', 'Result', 'ReadBUID', 'ReadPairRecord']) assert.ok(mts.has(m), m);
  const reqs = new Set(rows.flatMap((r) => r[2]!.split('|')).filter(Boolean));
  for (const r of ['QueryType', 'GetValue', 'StartSession']) assert.ok(reqs.has(r), r);
});
