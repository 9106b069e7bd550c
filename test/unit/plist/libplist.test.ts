/**
 * Peer check against the real libplist 2.2 (Debian python3-plist: the parser inside usbmuxd 1.1.1 and
 * libimobiledevice): our XML and binary output must parse there to the same values.
 * Known quirks of that build, allowed for below: the Python binding returns reals as float32 and integers as u64;
 * libplist ignores fractional seconds in XML dates, misreads XML dates after 2037 and fractional binary dates before 2001.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { encodeXmlPlist, encodeBinaryPlist, PlistReal, PlistUid, type PlistValue, type PlistDict } from '../../../src/plist/index.ts';
import { plistValueArb } from './arbitraries.ts';

const PY = '/usr/bin/python3';
const SCRIPT = `
import sys, json, base64, plist
def conv(n):
    if isinstance(n, plist.Dict): return {'dict': [[k, conv(n[k])] for k in n.keys()]}
    if isinstance(n, plist.Array): return {'array': [conv(x) for x in n]}
    if isinstance(n, plist.Bool): return {'bool': bool(n.get_value())}
    if isinstance(n, plist.Integer): return {'int': str(n.get_value())}
    if isinstance(n, plist.Real): return {'real': repr(float(n.get_value()))}
    if isinstance(n, plist.String): return {'string': n.get_value()}
    if isinstance(n, plist.Data): return {'data': base64.b64encode(n.get_value()).decode()}
    if isinstance(n, plist.Date): return {'date': n.get_value().isoformat()}
    if isinstance(n, plist.Uid): return {'uid': n.get_value()}
    return {'unknown': type(n).__name__}
for line in sys.stdin:
    req = json.loads(line)
    data = base64.b64decode(req['b64'])
    try:
        node = plist.from_xml(data) if req['fmt'] == 'xml' else plist.from_bin(data)
        out = conv(node) if node is not None else {'error': 'NULL'}
    except Exception as e:
        out = {'error': repr(e)}
    sys.stdout.write(json.dumps(out) + '\\n')
`;

function skipUnlessLibplist(): string | false {
  try {
    execFileSync(PY, ['-c', 'import plist'], { stdio: 'ignore', timeout: 10_000 });
    return false;
  } catch {
    const why = 'libplist Python binding missing (apt-get install python3-plist)';
    if (process.env.IOSDEVICE_REQUIRE_PEERS === '1') throw new Error(why);
    return why;
  }
}
const skip = skipUnlessLibplist();

type Lp = { dict: [string, Lp][] } | { array: Lp[] } | { bool: boolean } | { int: string } | { real: string } | { string: string } | { data: string } | { date: string } | { uid: number } | { error: string };

/** Parses each document with libplist in one python process (hard timeout; execFileSync kills it on expiry). */
function libplistParse(docs: { fmt: 'xml' | 'bin'; buf: Buffer }[]): Lp[] {
  const input = docs.map((d) => JSON.stringify({ fmt: d.fmt, b64: d.buf.toString('base64') })).join('\n') + '\n';
  const out = execFileSync(PY, ['-c', SCRIPT], { input, env: { ...process.env, TZ: 'UTC' }, timeout: 60_000, maxBuffer: 64 << 20 });
  return out.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Lp);
}

const f32 = (n: number): number => Math.fround(n);
function pyFloat(s: string): number {
  return s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
}

function assertSame(ours: PlistValue, lp: Lp, fmt: 'xml' | 'bin', path = '$'): void {
  assert.ok(!('error' in lp), `${path}: libplist error ${'error' in lp ? lp.error : ''}`);
  if (typeof ours === 'string') assert.deepEqual(lp, { string: ours }, path);
  else if (typeof ours === 'boolean') assert.deepEqual(lp, { bool: ours }, path);
  else if (typeof ours === 'bigint' || (typeof ours === 'number' && Number.isInteger(ours) && Math.abs(ours) < 2 ** 63)) {
    assert.ok('int' in lp, `${path}: expected int, got ${JSON.stringify(lp)}`);
    assert.equal(BigInt(lp.int), BigInt.asUintN(64, BigInt(ours)), path);
  } else if (typeof ours === 'number' || ours instanceof PlistReal) {
    const n = typeof ours === 'number' ? ours : ours.value;
    assert.ok('real' in lp, `${path}: expected real, got ${JSON.stringify(lp)}`);
    assert.ok(Object.is(f32(pyFloat(lp.real)), f32(n)) || f32(pyFloat(lp.real)) === f32(n), `${path}: ${lp.real} vs ${n}`);
  } else if (ours instanceof Date) {
    assert.ok('date' in lp, `${path}: expected date`);
    const got = Date.parse(`${lp.date}Z`);
    const want = fmt === 'xml' ? Math.floor(ours.getTime() / 1000) * 1000 : ours.getTime();
    assert.equal(got, want, `${path}: ${lp.date} vs ${ours.toISOString()}`);
  } else if (Buffer.isBuffer(ours)) assert.deepEqual(lp, { data: ours.toString('base64') }, path);
  else if (ours instanceof PlistUid) {
    if (fmt === 'bin') assert.deepEqual(lp, { uid: ours.value }, path);
    else assert.deepEqual(lp, { dict: [['CF$UID', { int: String(ours.value) }]] }, path);
  } else if (Array.isArray(ours)) {
    assert.ok('array' in lp && lp.array.length === ours.length, `${path}: array`);
    ours.forEach((v, i) => assertSame(v, lp.array[i]!, fmt, `${path}[${i}]`));
  } else {
    const d = ours as PlistDict;
    assert.ok('dict' in lp, `${path}: expected dict`);
    assert.deepEqual(lp.dict.map(([k]) => k), Object.keys(d), `${path}: keys`);
    lp.dict.forEach(([k, v]) => assertSame(d[k] as PlistValue, v, fmt, `${path}.${k}`));
  }
}

const fixed: PlistValue = {
  Request: 'StartSession',
  Label: 'iosdevice',
  ProtocolVersion: '2',
  Escaped: 'x<&>"\' é😀',
  Empty: '',
  Int: 62078,
  Neg: -5,
  I64: 2n ** 63n,
  U64Max: 2n ** 64n - 1n,
  Real: 1.5,
  RealForced: new PlistReal(2),
  NaN: NaN,
  NegInf: -Infinity,
  True: true,
  False: false,
  Date: new Date('2021-10-13T08:08:14Z'),
  DateMs: new Date('2021-10-13T08:08:14.250Z'),
  Data: Buffer.from('-----BEGIN CERTIFICATE-----\n'.repeat(20)),
  EmptyData: Buffer.alloc(0),
  EmptyDict: {},
  EmptyArray: [],
  Uid: new PlistUid(7),
  Nested: [{ a: [1, [2, { b: Buffer.from([0, 1, 2]) }]] }],
};

test('libplist 2.2 parses our XML and binary output of a fixed value to the same values', { skip }, () => {
  const [x, b] = libplistParse([
    { fmt: 'xml', buf: encodeXmlPlist(fixed) },
    { fmt: 'bin', buf: encodeBinaryPlist(fixed) },
  ]);
  assertSame(fixed, x!, 'xml');
  assertSame(fixed, b!, 'bin');
});

test('libplist 2.2 parses our XML and binary output of random values to the same values', { skip }, () => {
  // dates in 2001..2037 (libplist 2.2 misreads fractional dates before its 2001 epoch and XML dates past 2038);
  // every other type unrestricted
  const values = fc.sample(
    plistValueArb().filter((v) => !hasDateOutside2001To2037(v)),
    { numRuns: 150, seed: 20261125 },
  );
  const docs = values.flatMap((v) => [
    { fmt: 'xml' as const, buf: encodeXmlPlist(v) },
    { fmt: 'bin' as const, buf: encodeBinaryPlist(v) },
  ]);
  const got = libplistParse(docs);
  assert.equal(got.length, docs.length);
  values.forEach((v, i) => {
    assertSame(v, got[2 * i]!, 'xml', `value ${i} (xml)`);
    assertSame(v, got[2 * i + 1]!, 'bin', `value ${i} (bin)`);
  });
});

function hasDateOutside2001To2037(v: PlistValue): boolean {
  if (v instanceof Date) return v.getTime() < Date.UTC(2001, 0, 1) || v.getTime() >= Date.UTC(2038, 0, 1);
  if (Array.isArray(v)) return v.some(hasDateOutside2001To2037);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof PlistUid) && !(v instanceof PlistReal)) return Object.values(v).some(hasDateOutside2001To2037);
  return false;
}
