/**
 * The error-code table test: the ErrorCode union (src/core/codes.ts), the codes the layers generate (AFC
 * statuses, lockdown error strings, usbmux results), every ERR_… token in src/ and docs/errors.md agree; every
 * error class has a fixed name, is an IDeviceError and keeps `cause` (in the style of undici's test/errors.js).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, isErrorCode, type ErrorCode } from '../../../src/core/codes.ts';
import * as core from '../../../src/core/errors.ts';
import { IDeviceError } from '../../../src/core/errors.ts';
import { AfcStatus } from '../../../src/afc/protocol.ts';
import { AfcBadReplyError, AfcDirNotEmptyError, AfcError, afcErrorCode, AfcTooManyEntriesError } from '../../../src/afc/errors.ts';
import * as lockdown from '../../../src/lockdown/errors.ts';
import { ResultCode } from '../../../src/usbmux/protocol.ts';
import * as usbmux from '../../../src/usbmux/errors.ts';
import * as provider from '../../../src/provider.ts';
import { PlistError } from '../../../src/plist/errors.ts';
import { PairingError } from '../../../src/pairing/errors.ts';
import * as usb from '../../../src/usb/errors.ts';
import { CaptureError } from '../../../src/capture/errors.ts';
import { ReplayMismatchError } from '../../../src/capture/replay-script.ts';
import { DestError, PhotosError, PhotosLimitError, UnsafePathError } from '../../../src/photos/errors.ts';
import { LibraryError, MediaFormatError } from '../../../src/photos/library/errors.ts';
import { TransferTimeoutError } from '../../../src/photos/watch.ts';
import { EmulatorDetachedError } from '../../../src/virtual-iphone/errors.ts';
import { ThumbDecodeError } from '../../../src/thumbs/decode.ts';
import { UiError } from '../../../src/ui/errors.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

/** Node's own codes that src/ mentions (it reads them from Node errors; it never raises them). */
const NODE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE']);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every code has a one-line description and the ERR_<LAYER>_<NAME> shape', () => {
  assert.ok(codes.length > 100);
  for (const c of codes) {
    assert.match(c, /^ERR_[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, c);
    const d = ERROR_CODES[c];
    assert.ok(d.length > 10 && !d.includes('\n'), `${c}: description`);
    assert.ok(isErrorCode(c));
  }
  assert.equal(isErrorCode('ECONNRESET'), false);
  assert.equal(isErrorCode('toString'), false);
});

test('docs/errors.md documents every code, and documents nothing else', () => {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const [tables, renamed] = doc.split('## Renamed codes');
  const rows = new Map<string, string>();
  for (const line of tables!.split('\n')) {
    const m = /^\| `(ERR_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/.exec(line);
    if (m) rows.set(m[1]!, line);
  }
  for (const c of codes) assert.ok(rows.has(c), `${c} is not documented in docs/errors.md`);
  for (const c of rows.keys()) assert.ok(isErrorCode(c), `docs/errors.md documents ${c}, which is not in ErrorCode`);
  const classes = new Set(cases.map((x) => x.name));
  for (const [c, line] of rows) {
    for (const cls of line.split(' | ')[1]!.split(', ')) assert.ok(classes.has(cls.replaceAll('`', '')), `${c}: unknown class ${cls}`);
  }
  // the renamed (old) codes are gone from the union
  for (const m of renamed!.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \| `(ERR_[A-Z0-9_]+)` \|/gm)) {
    assert.equal(isErrorCode(m[1]), false, `${m[1]} was renamed`);
    assert.ok(isErrorCode(m[2]), m[2]);
  }
});

test('every ERR_… token in src/ (code and comments) is in the union', () => {
  const unknown: string[] = [];
  for (const f of walk(join(root, 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\bERR_[A-Z0-9_]*[A-Z0-9]\b(?!\$)/g)) {
      const tok = m[0];
      const next = text[m.index + tok.length];
      if (next === '*' || next === '$' || next === '<' || next === '_') continue; // a prefix: ERR_AFC_*, `ERR_AFC_${name}`
      if (!isErrorCode(tok) && !NODE_CODES.has(tok)) unknown.push(`${relative(root, f)}: ${tok}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('the generated codes are in the union: every AFC status, lockdown error string and usbmux result', () => {
  for (const [name, v] of Object.entries(AfcStatus)) {
    if (v === 0) continue;
    assert.equal(afcErrorCode(v), `ERR_AFC_${name}`);
    assert.ok(isErrorCode(afcErrorCode(v)), name);
  }
  assert.equal(afcErrorCode(0), 'ERR_AFC_UNRECOGNISED_STATUS');
  assert.equal(afcErrorCode(9999), 'ERR_AFC_UNRECOGNISED_STATUS');
  for (const s of lockdown.KNOWN_LOCKDOWN_ERRORS) {
    const c = lockdown.codeFor(s);
    assert.ok(isErrorCode(c), `${s} -> ${c}`);
    assert.notEqual(c, 'ERR_LOCKDOWN_UNKNOWN', s);
    assert.equal(lockdown.lockdownErrorFor(s, 'Test').code, c);
  }
  assert.equal(lockdown.codeFor('SomethingNew'), 'ERR_LOCKDOWN_UNKNOWN');
  for (const [name, v] of Object.entries(ResultCode)) {
    if (v === 0) continue;
    const c = usbmux.codeForResult(v);
    assert.ok(isErrorCode(c), `${name} -> ${c}`);
    assert.notEqual(c, 'ERR_USBMUX_RESULT', name);
  }
  assert.equal(usbmux.codeForResult(99), 'ERR_USBMUX_RESULT');
  // every code of the AFC and lockdown families in the union is reachable from the wire
  // + the two local per-reply codes and the CLI's name for status 1 on a folder that is not empty
  const afc = new Set<string>([...Object.values(AfcStatus).map(afcErrorCode), 'ERR_AFC_BAD_REPLY', 'ERR_AFC_TOO_MANY_ENTRIES', 'ERR_AFC_DIR_NOT_EMPTY']);
  for (const c of codes.filter((x) => x.startsWith('ERR_AFC_'))) assert.ok(afc.has(c), `${c} is not an AFC status`);
  const ld = new Set<string>([...lockdown.KNOWN_LOCKDOWN_ERRORS.map(lockdown.codeFor), 'ERR_LOCKDOWN_UNKNOWN', 'ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH']);
  for (const c of codes.filter((x) => x.startsWith('ERR_LOCKDOWN_'))) assert.ok(ld.has(c), `${c} is not a lockdown error string`);
});

const cause = new Error('the cause');
type Case = { name: string; make: () => IDeviceError; code: ErrorCode; cls: abstract new (...a: never[]) => IDeviceError; keepsCause?: boolean };
const cases: Case[] = [
  { name: 'IDeviceError', cls: IDeviceError, make: () => new IDeviceError('ERR_INTERNAL', 'm', { cause }), code: 'ERR_INTERNAL', keepsCause: true },
  { name: 'ProtocolError', cls: core.ProtocolError, make: () => new core.ProtocolError('afc', 'bad', 3, { cause }), code: 'ERR_PROTOCOL', keepsCause: true },
  { name: 'TooLargeError', cls: core.TooLargeError, make: () => new core.TooLargeError('plist', 10, 5), code: 'ERR_PROTOCOL_TOO_LARGE' },
  { name: 'TimeoutError', cls: core.TimeoutError, make: () => new core.TimeoutError('x', 5), code: 'ERR_TIMEOUT' },
  { name: 'AbortError', cls: core.AbortError, make: () => new core.AbortError('x', cause), code: 'ERR_ABORTED', keepsCause: true },
  { name: 'ClosedError', cls: core.ClosedError, make: () => new core.ClosedError('x', { cause }), code: 'ERR_CLOSED', keepsCause: true },
  { name: 'InvalidArgumentError', cls: core.InvalidArgumentError, make: () => new core.InvalidArgumentError('x', { cause }), code: 'ERR_INVALID_ARG', keepsCause: true },
  { name: 'InternalError', cls: core.InternalError, make: () => core.asIDeviceError(cause), code: 'ERR_INTERNAL', keepsCause: true },
  { name: 'DeviceNotFoundError', cls: provider.DeviceNotFoundError, make: () => new provider.DeviceNotFoundError('none'), code: 'ERR_DEVICE_NOT_FOUND' },
  { name: 'AmbiguousDeviceError', cls: provider.AmbiguousDeviceError, make: () => new provider.AmbiguousDeviceError(['a', 'b']), code: 'ERR_DEVICE_AMBIGUOUS' },
  { name: 'NotPairedError', cls: provider.NotPairedError, make: () => new provider.NotPairedError('u'), code: 'ERR_DEVICE_NOT_PAIRED' },
  { name: 'UsbUnavailableError', cls: provider.UsbUnavailableError, make: () => new provider.UsbUnavailableError(cause), code: 'ERR_USB_UNAVAILABLE', keepsCause: true },
  { name: 'UsbmuxError', cls: usbmux.UsbmuxError, make: () => new usbmux.UsbmuxError(2, 'Connect'), code: 'ERR_USBMUX_BADDEV' },
  { name: 'UsbmuxHeaderVersionError', cls: usbmux.UsbmuxHeaderVersionError, make: () => new usbmux.UsbmuxHeaderVersionError(7), code: 'ERR_USBMUX_HEADER_VERSION' },
  { name: 'UsbmuxConsumedError', cls: usbmux.UsbmuxConsumedError, make: () => new usbmux.UsbmuxConsumedError('x'), code: 'ERR_USBMUX_CONSUMED' },
  { name: 'UsbmuxUnreachableError', cls: usbmux.UsbmuxUnreachableError, make: () => new usbmux.UsbmuxUnreachableError('UNIX:/x', cause), code: 'ERR_USBMUX_UNREACHABLE', keepsCause: true },
  { name: 'UsbmuxListenError', cls: usbmux.UsbmuxListenError, make: () => new usbmux.UsbmuxListenError('UNIX:/x', 'm', { cause }), code: 'ERR_USBMUX_LISTEN_FAILED', keepsCause: true },
  { name: 'LockdownError', cls: lockdown.LockdownError, make: () => new lockdown.LockdownError('Weird', 'GetValue', undefined, undefined, { cause }), code: 'ERR_LOCKDOWN_UNKNOWN', keepsCause: true },
  { name: 'PasswordProtectedError', cls: lockdown.PasswordProtectedError, make: () => lockdown.lockdownErrorFor('PasswordProtected', 'Pair'), code: 'ERR_LOCKDOWN_PASSWORD_PROTECTED' },
  { name: 'PairingDialogResponsePendingError', cls: lockdown.PairingDialogResponsePendingError, make: () => lockdown.lockdownErrorFor('PairingDialogResponsePending', 'Pair'), code: 'ERR_LOCKDOWN_PAIRING_DIALOG_RESPONSE_PENDING' },
  { name: 'UserDeniedPairingError', cls: lockdown.UserDeniedPairingError, make: () => lockdown.lockdownErrorFor('UserDeniedPairing', 'Pair'), code: 'ERR_LOCKDOWN_USER_DENIED_PAIRING' },
  { name: 'InvalidHostIdError', cls: lockdown.InvalidHostIdError, make: () => lockdown.lockdownErrorFor('InvalidHostID', 'StartSession'), code: 'ERR_LOCKDOWN_INVALID_HOST_ID' },
  { name: 'SessionError', cls: lockdown.SessionError, make: () => lockdown.lockdownErrorFor('SessionInactive', 'GetValue'), code: 'ERR_LOCKDOWN_SESSION_INACTIVE' },
  { name: 'ValueError', cls: lockdown.ValueError, make: () => lockdown.lockdownErrorFor('MissingValue', 'GetValue'), code: 'ERR_LOCKDOWN_MISSING_VALUE' },
  { name: 'ServiceError', cls: lockdown.ServiceError, make: () => lockdown.lockdownErrorFor('InvalidService', 'StartService'), code: 'ERR_LOCKDOWN_INVALID_SERVICE' },
  { name: 'DeviceCertificateMismatchError', cls: lockdown.DeviceCertificateMismatchError, make: () => new lockdown.DeviceCertificateMismatchError(), code: 'ERR_LOCKDOWN_DEVICE_CERTIFICATE_MISMATCH' },
  { name: 'AfcError', cls: AfcError, make: () => new AfcError(8, 0x0a, '/x'), code: 'ERR_AFC_OBJECT_NOT_FOUND' },
  { name: 'AfcBadReplyError', cls: AfcBadReplyError, make: () => new AfcBadReplyError(0x0a, 'st_size is not a number', '/x', { cause }), code: 'ERR_AFC_BAD_REPLY', keepsCause: true },
  { name: 'AfcTooManyEntriesError', cls: AfcTooManyEntriesError, make: () => new AfcTooManyEntriesError(10, '/x'), code: 'ERR_AFC_TOO_MANY_ENTRIES' },
  { name: 'AfcDirNotEmptyError', cls: AfcDirNotEmptyError, make: () => new AfcDirNotEmptyError('/x', { cause }), code: 'ERR_AFC_DIR_NOT_EMPTY', keepsCause: true },
  { name: 'PlistError', cls: PlistError, make: () => new PlistError('ERR_PLIST_SYNTAX', 'bad', 1), code: 'ERR_PLIST_SYNTAX' },
  { name: 'PairingError', cls: PairingError, make: () => new PairingError('ERR_PAIRING_STORE', 'm', { cause }), code: 'ERR_PAIRING_STORE', keepsCause: true },
  { name: 'UsbError', cls: usb.UsbError, make: () => new usb.UsbError('ERR_USB_TRANSFER', 'm', { cause }), code: 'ERR_USB_TRANSFER', keepsCause: true },
  { name: 'MuxRefusedError', cls: usb.MuxRefusedError, make: () => new usb.MuxRefusedError(62078), code: 'ERR_USB_MUX_REFUSED' },
  { name: 'MuxResetError', cls: usb.MuxResetError, make: () => new usb.MuxResetError(62078), code: 'ERR_USB_MUX_RESET' },
  { name: 'DetachedError', cls: usb.DetachedError, make: () => new usb.DetachedError('x', { cause }), code: 'ERR_USB_DETACHED', keepsCause: true },
  { name: 'CaptureError', cls: CaptureError, make: () => new CaptureError('ERR_CAPTURE_WRITE', 'm', undefined, { cause }), code: 'ERR_CAPTURE_WRITE', keepsCause: true },
  {
    name: 'ReplayMismatchError',
    cls: ReplayMismatchError,
    make: () => new ReplayMismatchError(1, 2, 'afc', { path: 'p', expected: 'a', actual: 'b' }),
    code: 'ERR_CAPTURE_REPLAY_MISMATCH',
  },
  { name: 'PhotosError', cls: PhotosError, make: () => new PhotosError('ERR_PHOTOS_MANIFEST', 'm', { cause }), code: 'ERR_PHOTOS_MANIFEST', keepsCause: true },
  { name: 'DestError', cls: DestError, make: () => new DestError('ERR_PHOTOS_DEST_FULL', '/d', '/d/x', 'full', { cause, errno: 'ENOSPC' }), code: 'ERR_PHOTOS_DEST_FULL', keepsCause: true },
  { name: 'PhotosLimitError', cls: PhotosLimitError, make: () => new PhotosLimitError('maxEntries', 10, 'too many'), code: 'ERR_PHOTOS_LIMIT' },
  { name: 'TransferTimeoutError', cls: TransferTimeoutError, make: () => new TransferTimeoutError('reading /x', 15000, 3, '3 B/s'), code: 'ERR_TIMEOUT' },
  { name: 'UnsafePathError', cls: UnsafePathError, make: () => new UnsafePathError('../x', 'leaves DEST'), code: 'ERR_PHOTOS_UNSAFE_PATH' },
  { name: 'LibraryError', cls: LibraryError, make: () => new LibraryError('m', { cause }), code: 'ERR_PHOTOS_LIBRARY', keepsCause: true },
  { name: 'MediaFormatError', cls: MediaFormatError, make: () => new MediaFormatError('heif', 'bad', 3), code: 'ERR_PHOTOS_MEDIA' },
  { name: 'EmulatorDetachedError', cls: EmulatorDetachedError, make: () => new EmulatorDetachedError('u'), code: 'ERR_EMULATOR_DETACHED' },
  { name: 'ThumbDecodeError', cls: ThumbDecodeError, make: () => new ThumbDecodeError('m', { cause }), code: 'ERR_THUMB_DECODE', keepsCause: true },
  { name: 'UiError', cls: UiError, make: () => new UiError(400, 'ERR_UI_DEST', 'm', { cause }), code: 'ERR_UI_DEST', keepsCause: true },
];

for (const c of cases) {
  test(`${c.name}: fixed name, IDeviceError, code in the union${c.keepsCause ? ', keeps cause' : ''}`, () => {
    const e = c.make();
    assert.ok(e instanceof Error);
    assert.ok(e instanceof IDeviceError);
    assert.ok(e instanceof c.cls);
    assert.equal(e.name, c.name);
    assert.equal(Object.getOwnPropertyDescriptor(c.cls.prototype, 'name')?.value, c.name, 'name is fixed on the prototype');
    assert.equal(e.code, c.code);
    assert.ok(isErrorCode(e.code));
    assert.ok(e.message.length > 0);
    assert.match(String(e.stack), new RegExp(`^${c.name}: `));
    if (c.keepsCause) assert.equal(e.cause, cause);
  });
}

test('every error class declared in src/ is in the table above', () => {
  const names = new Set(cases.map((c) => c.name));
  const missing: string[] = [];
  for (const f of walk(join(root, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^export class (\w+) extends (\w+)/gm)) {
      // classes extending one of ours (names end in Error); plain `extends Error` is internal signalling (afc/server-fs.ts)
      if (m[2] !== 'Error' && /Error$/.test(m[2]!) && !names.has(m[1]!)) missing.push(`${relative(root, f)}: ${m[1]}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the CLI prints the class name and code of a library error', async () => {
  const { errorJson } = await import('../../../src/cli/main.ts');
  const j = errorJson(new usbmux.UsbmuxListenError('127.0.0.1:1', 'cannot listen', { cause }));
  assert.deepEqual(j.error.code, 'ERR_USBMUX_LISTEN_FAILED');
  assert.deepEqual(j.error.name, 'UsbmuxListenError');
});
