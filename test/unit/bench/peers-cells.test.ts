import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCells } from '../../../bench/scenarios/peers.ts';

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
