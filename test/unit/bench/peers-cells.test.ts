import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCells, targets } from '../../../bench/scenarios/peers.ts';
import type { BenchMeasurement } from '../../../bench/scenario.ts';

test('peers --cells: absent means every client everywhere', () => {
  const cells = parseCells(undefined);
  assert.deepEqual(cells('usb2', 'large'), ['iosdevice afc pull', 'iosdevice photos backup', 'ifuse', 'appium-ios-device']);
});

test('peers --cells: link:trees:clients entries with * and comma lists, clients in the canonical order', () => {
  const cells = parseCells('real:*:*;usb2:mixed,small:*;usb2:large:afc;none:large:ifuse,afc');
  assert.equal(cells('real', 'large').length, 4);
  assert.equal(cells('usb2', 'small').length, 4);
  assert.deepEqual(cells('usb2', 'large'), ['iosdevice afc pull']);
  assert.deepEqual(cells('none', 'large'), ['iosdevice afc pull', 'ifuse']);
  assert.deepEqual(cells('none', 'mixed'), []);
});

test('peers --cells: malformed entries and unknown clients are refused', () => {
  assert.throws(() => parseCells('real:*'), /not link:trees:clients/);
  assert.throws(() => parseCells('real:*:rsync'), /unknown client 'rsync'/);
});

test('peers targets: a peer that copied 0 bytes within its time limit passes the ratio as unbounded; a missing row is n/a', () => {
  const trees = [
    { name: 'mixed' as const, files: new Array<string>(2000), bytes: 0 },
    { name: 'small' as const, files: new Array<string>(20000), bytes: 0 },
    { name: 'large' as const, files: [''], bytes: 4 * 2 ** 30 },
  ];
  const rows = [
    { case: 'small-20000', link: 'real', client: 'iosdevice afc pull', mbPerSec: 3.8 },
    { case: 'small-20000', link: 'real', client: 'appium-ios-device', mbPerSec: 0 },
  ];
  const t = targets(rows, trees);
  const vsAppium = t.find((x) => x.name === 'real, small-20000: iosdevice afc pull / appium-ios-device')!;
  assert.equal(vsAppium.pass, true);
  assert.match(vsAppium.detail, /copied 0 bytes within its time limit/);
  const vsIfuse = t.find((x) => x.name === 'real, small-20000: iosdevice afc pull / ifuse')!;
  assert.equal(vsIfuse.pass, undefined);
});

test('peers targets: a ratio to a peer on real also says the most any client can reach there', () => {
  const trees = [
    { name: 'mixed' as const, files: Array(2000).fill(''), bytes: 1 },
    { name: 'small' as const, files: Array(20000).fill(''), bytes: 1 },
    { name: 'large' as const, files: [''], bytes: 4 * 2 ** 30 },
  ];
  const rows: BenchMeasurement[] = [
    { case: 'small-20000', link: 'real', client: 'iosdevice afc pull', mbPerSec: 8.7 },
    { case: 'small-20000', link: 'real', client: 'ifuse', mbPerSec: 4.7 },
  ];
  const t = targets(rows, trees, { 'small-20000': 10.77 });
  const vsIfuse = t.find((x) => x.name === 'real, small-20000: iosdevice afc pull / ifuse')!;
  assert.equal(vsIfuse.pass, false);
  assert.match(vsIfuse.detail, /the most any client can reach on this profile is 10\.8 MB\/s = 2\.29× ifuse/);
});
