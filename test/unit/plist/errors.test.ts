import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import { parsePlist, encodeXmlPlist, PlistError, type PlistErrorCode, type PlistValue } from '../../../src/plist/index.ts';

test('PlistError is an IDeviceError with a stable code, name and offset', () => {
  const cases: [() => unknown, PlistErrorCode][] = [
    [() => parsePlist(Buffer.from('nope')), 'ERR_PLIST_FORMAT'],
    [() => parsePlist(Buffer.from('<plist><integer>x</integer></plist>')), 'ERR_PLIST_SYNTAX'],
    [() => parsePlist(Buffer.from('<plist><true/></plist>'), { maxBytes: 5 }), 'ERR_PLIST_TOO_LARGE'],
    [() => parsePlist(Buffer.from('<plist><uid>1</uid></plist>')), 'ERR_PLIST_UNSUPPORTED'],
    [() => encodeXmlPlist(null as unknown as PlistValue), 'ERR_PLIST_INVALID_VALUE'],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof PlistError);
      assert.ok(e instanceof IDeviceError);
      assert.equal(e.code, code);
      assert.equal(e.name, 'PlistError');
      assert.equal(typeof e.reason, 'string');
      return true;
    });
  }
  // XML offsets are character positions of the offending element
  assert.throws(() => parsePlist(Buffer.from('<plist><integer>x</integer></plist>')), (e: unknown) => e instanceof PlistError && e.offset === 7);
});
