/**
 * Golden sequences: what the REAL tools send to the emulator (recorded by a proxy, decoded with our codecs) must be
 * the request sequence documented for them in ../shared/docs/protocol.md §8, i.e. the emulator's answers lead each
 * tool down the same path a real iPhone does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Emulator } from '../../src/virtual-iphone/emulator.ts';
import { skipUnlessTools } from '../support/peers.ts';
import { runTool, startTestEmulator } from '../support/emulator.ts';
import { startSpy, type Spy } from './transcript.ts';

const skip = skipUnlessTools('idevice_id', 'ideviceinfo', 'idevicepair');

describe('request sequences of the real tools against the emulator', { skip }, () => {
  let emu: Emulator;
  let spy: Spy;
  before(async () => {
    emu = await startTestEmulator({ dcimCount: 0 });
    spy = await startSpy(emu.address, emu.dir);
  });
  after(async () => {
    await spy?.close();
    await emu?.close();
  });

  async function transcript(cmd: string, ...args: string[]): Promise<string[]> {
    spy.lines.length = 0;
    const r = await runTool(spy.address, cmd, args);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return [...spy.lines];
  }

  // Order matters: pair before the handshake tools, unpair last.
  test('idevice_id -l: ListDevices only', async () => {
    assert.deepEqual(await transcript('idevice_id', '-l'), ['usbmux ListDevices']);
  });

  test('idevice_id UDID and ideviceinfo -s: plain GetValue, no QueryType, no session', async () => {
    assert.deepEqual(await transcript('idevice_id', emu.devices[0]!.udid), ['usbmux ListDevices', 'usbmux Connect 62078', 'lockdown GetValue DeviceName']);
    assert.deepEqual(await transcript('ideviceinfo', '-s'), ['usbmux ListDevices', 'usbmux Connect 62078', 'lockdown GetValue']);
  });

  test('idevicepair pair: QueryType, DevicePublicKey, ReadBUID, WiFiAddress, Pair, SavePairRecord', async () => {
    assert.deepEqual(await transcript('idevicepair', 'pair'), [
      'usbmux ListDevices',
      'usbmux Connect 62078',
      'lockdown QueryType',
      'lockdown GetValue DevicePublicKey',
      'usbmux ReadBUID',
      'lockdown GetValue WiFiAddress',
      'lockdown Pair',
      'usbmux SavePairRecord',
    ]);
  });

  test('handshake mode (ideviceinfo, idevicepair validate): QueryType, ProductVersion, records, StartSession → TLS', async () => {
    const handshake = [
      'lockdown QueryType',
      'lockdown GetValue ProductVersion',
      'usbmux ReadPairRecord',
      'usbmux ReadBUID',
      'lockdown StartSession',
      'usbmux ReadPairRecord',
    ];
    assert.deepEqual(await transcript('ideviceinfo', '-k', 'DeviceName'), ['usbmux ListDevices', 'usbmux Connect 62078', ...handshake]);
    // validate: an earlier connection sends only QueryType (protocol.md §8)
    assert.deepEqual(await transcript('idevicepair', 'validate'), [
      'usbmux ListDevices',
      'usbmux Connect 62078',
      'lockdown QueryType',
      'usbmux Connect 62078',
      ...handshake,
    ]);
  });

  test('idevicepair unpair: QueryType, ReadPairRecord, Unpair, DeletePairRecord', async () => {
    assert.deepEqual(await transcript('idevicepair', 'unpair'), [
      'usbmux ListDevices',
      'usbmux Connect 62078',
      'lockdown QueryType',
      'usbmux ReadPairRecord',
      'lockdown Unpair',
      'usbmux DeletePairRecord',
    ]);
  });
});
