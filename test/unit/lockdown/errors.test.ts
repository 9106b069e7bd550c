import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDeviceError } from '../../../src/core/errors.ts';
import {
  InvalidHostIdError,
  KNOWN_LOCKDOWN_ERRORS,
  LockdownError,
  lockdownErrorFor,
  PairingDialogResponsePendingError,
  PasswordProtectedError,
  ServiceError,
  SessionError,
  UserDeniedPairingError,
  ValueError,
} from '../../../src/lockdown/errors.ts';

const table: [string, string, new (...a: never[]) => LockdownError][] = [
  ['PasswordProtected', 'ERR_LOCKDOWN_PASSWORD_PROTECTED', PasswordProtectedError],
  ['PairingDialogResponsePending', 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING', PairingDialogResponsePendingError],
  ['UserDeniedPairing', 'ERR_LOCKDOWN_USER_DENIED_PAIRING', UserDeniedPairingError],
  ['InvalidHostID', 'ERR_LOCKDOWN_INVALID_HOST_ID', InvalidHostIdError],
  ['MissingHostID', 'ERR_LOCKDOWN_MISSING_HOST_ID', InvalidHostIdError],
  ['InvalidService', 'ERR_LOCKDOWN_INVALID_SERVICE', ServiceError],
  ['ServiceLimit', 'ERR_LOCKDOWN_SERVICE_LIMIT', ServiceError],
  ['GetProhibited', 'ERR_LOCKDOWN_GET_PROHIBITED', ValueError],
  ['MissingValue', 'ERR_LOCKDOWN_MISSING_VALUE', ValueError],
  ['SessionInactive', 'ERR_LOCKDOWN_SESSION_INACTIVE', SessionError],
  ['InvalidSessionID', 'ERR_LOCKDOWN_INVALID_SESSION_ID', SessionError],
  ['MCChallengeRequired', 'ERR_LOCKDOWN_MC_CHALLENGE_REQUIRED', LockdownError],
  ['PairingProhibitedOverThisConnection', 'ERR_LOCKDOWN_PAIRING_PROHIBITED_OVER_THIS_CONNECTION', LockdownError],
  ['InvalidActivationRecord', 'ERR_LOCKDOWN_INVALID_ACTIVATION_RECORD', LockdownError],
  ['EscrowLocked', 'ERR_LOCKDOWN_ESCROW_LOCKED', LockdownError],
];

for (const [error, code, cls] of table) {
  test(`${error} → ${code} (${cls.name})`, () => {
    const e = lockdownErrorFor(error, 'Pair');
    assert.ok(e instanceof cls);
    assert.ok(e instanceof LockdownError);
    assert.ok(e instanceof IDeviceError);
    assert.equal(e.code, code);
    assert.equal(e.error, error);
    assert.equal(e.request, 'Pair');
    assert.equal(e.name, cls.name);
  });
}

test('every string of protocol.md §3 has its own code', () => {
  const listed = [
    'PasswordProtected', 'PairingDialogResponsePending', 'UserDeniedPairing', 'MissingHostID', 'InvalidHostID', 'MCChallengeRequired',
    'PairingProhibitedOverThisConnection', 'MissingKey', 'MissingValue', 'GetProhibited', 'SetProhibited', 'RemoveProhibited',
    'ImmutableValue', 'InvalidResponse', 'SessionActive', 'SessionInactive', 'MissingSessionID', 'InvalidSessionID', 'MissingService',
    'InvalidService', 'ServiceProhibited', 'ServiceLimit', 'MissingPairRecord', 'InvalidPairRecord', 'SavePairRecordFailed',
    'MissingActivationRecord', 'InvalidActivationRecord', 'EscrowLocked', 'FMiPProtected', 'MCProtected',
  ];
  const codes = new Set<string>();
  for (const s of listed) {
    assert.ok(KNOWN_LOCKDOWN_ERRORS.includes(s), s);
    const c = lockdownErrorFor(s, 'X').code;
    assert.match(c, /^ERR_LOCKDOWN_[A-Z_]+$/);
    codes.add(c);
  }
  assert.equal(codes.size, listed.length);
});

test('unknown strings are preserved verbatim with ERR_LOCKDOWN_UNKNOWN', () => {
  const e = lockdownErrorFor('SomethingNew', 'GetValue');
  assert.equal(e.constructor, LockdownError);
  assert.equal(e.code, 'ERR_LOCKDOWN_UNKNOWN');
  assert.equal(e.error, 'SomethingNew');
  const proto = lockdownErrorFor('__proto__', 'GetValue');
  assert.equal(proto.code, 'ERR_LOCKDOWN_UNKNOWN');
  assert.equal(lockdownErrorFor('toString', 'GetValue').code, 'ERR_LOCKDOWN_UNKNOWN');
});
