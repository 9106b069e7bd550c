import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlist, encodeXmlPlist, detectPlistFormat, PlistError, PlistUid, PlistReal, type PlistValue } from '../../../src/plist/index.ts';

const HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n';
const doc = (body: string): Buffer => Buffer.from(`${HEAD}${body}\n</plist>\n`);

const vectors: [string, string, PlistValue][] = [
  ['string', '<string>hello world</string>', 'hello world'],
  ['string keeps whitespace', '<string>  a\n\tb </string>', '  a\n\tb '],
  ['empty string form', '<string/>', ''],
  ['empty string pair', '<string></string>', ''],
  ['entities', '<string>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</string>', '<a> & "q" \'s\''],
  ['character references', '<string>&#65;&#x42;&#x1F600;&#233;</string>', 'AB😀é'],
  ['CDATA', '<string><![CDATA[<raw> & stuff]]></string>', '<raw> & stuff'],
  ['comment inside text', '<string>a<!-- c -->b</string>', 'ab'],
  ['UTF-8 text', '<string>héllo ✓ 😀</string>', 'héllo ✓ 😀'],
  ['integer', '<integer>42</integer>', 42],
  ['integer negative', '<integer>-17</integer>', -17],
  ['integer with spaces and +', '<integer> +7 </integer>', 7],
  ['integer 2^53 → bigint', '<integer>9007199254740992</integer>', 9007199254740992n],
  ['integer max safe → number', '<integer>9007199254740991</integer>', 9007199254740991],
  ['integer u64 max', '<integer>18446744073709551615</integer>', 2n ** 64n - 1n],
  ['integer i64 min', '<integer>-9223372036854775808</integer>', -(2n ** 63n)],
  ['integer hex', '<integer>0x1F</integer>', 31],
  ['real', '<real>3.25</real>', 3.25],
  ['real exponent', '<real>1.5e-3</real>', 0.0015],
  ['real integral', '<real>2</real>', 2],
  ['real nan', '<real>nan</real>', NaN],
  ['real +infinity', '<real>+infinity</real>', Infinity],
  ['real -inf', '<real>-inf</real>', -Infinity],
  ['real inf', '<real>inf</real>', Infinity],
  ['true', '<true/>', true],
  ['false', '<false/>', false],
  ['true long form', '<true></true>', true],
  ['date', '<date>2021-10-13T08:08:14Z</date>', new Date('2021-10-13T08:08:14Z')],
  ['date with fraction', '<date>2021-10-13T08:08:14.250Z</date>', new Date('2021-10-13T08:08:14.250Z')],
  ['date year 0050', '<date>0050-02-28T00:00:00Z</date>', new Date('0050-02-28T00:00:00Z')],
  ['data', '<data>AQID</data>', Buffer.from([1, 2, 3])],
  ['data wrapped with whitespace', '<data>\n\tAAEC\n\tAwQF\n\tBg==\n\t</data>', Buffer.from([0, 1, 2, 3, 4, 5, 6])],
  ['data empty form', '<data/>', Buffer.alloc(0)],
  ['data empty pair', '<data></data>', Buffer.alloc(0)],
  ['dict', '<dict>\n\t<key>a</key>\n\t<integer>1</integer>\n\t<key>b &amp; c</key>\n\t<string>x</string>\n</dict>', { a: 1, 'b & c': 'x' }],
  ['dict empty form', '<dict/>', {}],
  ['dict empty pair', '<dict></dict>', {}],
  ['dict empty key', '<dict><key/><true/><key></key><false/></dict>', { '': false }],
  ['array', '<array><integer>1</integer><string>two</string><array/></array>', [1, 'two', []]],
  ['array empty form', '<array/>', []],
  ['nested with comments and PIs', '<dict><!-- c --><key>a</key><?pi x?><array><!-- x --><true/></array></dict>', { a: [true] }],
  ['CF$UID dict → PlistUid', '<dict><key>CF$UID</key><integer>5</integer></dict>', new PlistUid(5)],
];

for (const [name, body, expected] of vectors) {
  test(`xml decode: ${name}`, () => {
    assert.deepEqual(parsePlist(doc(body)), expected);
  });
}

test('xml decode: document variants (BOM, whitespace, no prolog, no DOCTYPE, DOCTYPE with subset, trailing comment)', () => {
  const variants = [
    '\ufeff<?xml version="1.0"?><plist><true/></plist>',
    '\n  \t<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><true/></plist>',
    '<plist version="1.0">\n<true/>\n</plist>',
    '<plist><true/></plist>\n<!-- trailing -->\n',
    '<!DOCTYPE plist [ <!ENTITY x "y"> ]><plist version=\'1.0\'><true/></plist>',
    '<!-- lead --><?xml-stylesheet href="x"?><plist><!-- a --><true/><!-- b --></plist>',
    '<?xml version="1.0"?>\n<true/>',
  ];
  for (const v of variants) assert.equal(parsePlist(Buffer.from(v)), true, JSON.stringify(v));
});

test('xml encode: exact Apple/libplist layout', () => {
  const v = { Key: 'v<&>', N: 1, R: 1.5, F: new PlistReal(2), T: true, E: {}, A: [], D: Buffer.from('hi'), S: '', Date: new Date('2021-10-13T08:08:14Z') };
  const expected =
    HEAD +
    '<dict>\n' +
    '\t<key>Key</key>\n\t<string>v&lt;&amp;&gt;</string>\n' +
    '\t<key>N</key>\n\t<integer>1</integer>\n' +
    '\t<key>R</key>\n\t<real>1.5</real>\n' +
    '\t<key>F</key>\n\t<real>2</real>\n' +
    '\t<key>T</key>\n\t<true/>\n' +
    '\t<key>E</key>\n\t<dict/>\n' +
    '\t<key>A</key>\n\t<array/>\n' +
    '\t<key>D</key>\n\t<data>\n\taGk=\n\t</data>\n' +
    '\t<key>S</key>\n\t<string></string>\n' +
    '\t<key>Date</key>\n\t<date>2021-10-13T08:08:14Z</date>\n' +
    '</dict>\n</plist>\n';
  assert.equal(encodeXmlPlist(v).toString('utf8'), expected);
});

test('xml encode: data lines are 76 − 8·depth characters wide', () => {
  const out = encodeXmlPlist({ a: Buffer.alloc(200, 0x41), b: [Buffer.alloc(200, 0x41)] }).toString();
  const lines = out.split('\n');
  assert.ok(lines.includes('\t' + 'QUFB'.repeat(17)), 'depth 1: 68 chars');
  assert.ok(lines.includes('\t\t' + 'QUFB'.repeat(15)), 'depth 2: 60 chars');
});

test('xml encode: top-level scalars, NaN/±Infinity, bigints, UID', () => {
  assert.equal(encodeXmlPlist('x').toString(), `${HEAD}<string>x</string>\n</plist>\n`);
  const v: PlistValue = [NaN, Infinity, -Infinity, 2n ** 64n - 1n, -(2n ** 63n), new PlistUid(3), 0.1, -0.5];
  assert.deepEqual(parsePlist(encodeXmlPlist(v)), [NaN, Infinity, -Infinity, 2n ** 64n - 1n, -(2n ** 63n), new PlistUid(3), 0.1, -0.5]);
});

test('detectPlistFormat', () => {
  assert.equal(detectPlistFormat(Buffer.from('bplist00xxxx')), 'binary');
  assert.equal(detectPlistFormat(Buffer.from('<?xml version="1.0"?>')), 'xml');
  assert.equal(detectPlistFormat(Buffer.from('\ufeff  <plist>')), 'xml');
  assert.equal(detectPlistFormat(Buffer.from('\n<!DOCTYPE plist>')), 'xml');
  assert.equal(detectPlistFormat(Buffer.from('{"json": 1}')), undefined);
  assert.equal(detectPlistFormat(Buffer.alloc(0)), undefined);
  assert.equal(detectPlistFormat(Buffer.from('bplist')), undefined);
});

const bad: [string, string, string][] = [
  ['not a plist', 'hello', 'ERR_PLIST_FORMAT'],
  ['empty input', '', 'ERR_PLIST_FORMAT'],
  ['unclosed dict', '<plist><dict><key>a</key><true/></plist>', 'ERR_PLIST_SYNTAX'],
  ['mismatched end tag', '<plist><string>a</integer></plist>', 'ERR_PLIST_SYNTAX'],
  ['key without value', '<plist><dict><key>a</key></dict></plist>', 'ERR_PLIST_SYNTAX'],
  ['value without key', '<plist><dict><true/></dict></plist>', 'ERR_PLIST_SYNTAX'],
  ['key outside dict', '<plist><key>a</key></plist>', 'ERR_PLIST_SYNTAX'],
  ['two root values', '<plist><true/><false/></plist>', 'ERR_PLIST_SYNTAX'],
  ['content after plist', '<plist><true/></plist><x/>', 'ERR_PLIST_SYNTAX'],
  ['empty plist', '<plist></plist>', 'ERR_PLIST_SYNTAX'],
  ['self-closed plist', '<plist/>', 'ERR_PLIST_SYNTAX'],
  ['unknown entity', '<plist><string>&nbsp;</string></plist>', 'ERR_PLIST_SYNTAX'],
  ['bad char reference', '<plist><string>&#xD800;</string></plist>', 'ERR_PLIST_SYNTAX'],
  ['unterminated entity', '<plist><string>a & b</string></plist>', 'ERR_PLIST_SYNTAX'],
  ['element inside string', '<plist><string>a<b/></string></plist>', 'ERR_PLIST_SYNTAX'],
  ['bad integer', '<plist><integer>12a</integer></plist>', 'ERR_PLIST_SYNTAX'],
  ['empty integer', '<plist><integer/></plist>', 'ERR_PLIST_SYNTAX'],
  ['integer beyond 64 bits', '<plist><integer>18446744073709551616</integer></plist>', 'ERR_PLIST_UNSUPPORTED'],
  ['bad real', '<plist><real>1.2.3</real></plist>', 'ERR_PLIST_SYNTAX'],
  ['bad date', '<plist><date>2021-13-01T00:00:00Z</date></plist>', 'ERR_PLIST_SYNTAX'],
  ['date Feb 30', '<plist><date>2021-02-30T00:00:00Z</date></plist>', 'ERR_PLIST_SYNTAX'],
  ['date without Z', '<plist><date>2021-01-01T00:00:00</date></plist>', 'ERR_PLIST_SYNTAX'],
  ['bad base64', '<plist><data>AB$C</data></plist>', 'ERR_PLIST_SYNTAX'],
  ['text in true', '<plist><true>yes</true></plist>', 'ERR_PLIST_SYNTAX'],
  ['unknown element', '<plist><float>1</float></plist>', 'ERR_PLIST_UNSUPPORTED'],
  ['unterminated comment', '<plist><!-- x', 'ERR_PLIST_SYNTAX'],
  ['unterminated start tag', '<plist version="1.0"', 'ERR_PLIST_SYNTAX'],
  ['unterminated attribute', '<plist version="1.0>', 'ERR_PLIST_SYNTAX'],
  ['truncated', '<?xml version="1.0"?><plist><dict><key>a', 'ERR_PLIST_SYNTAX'],
];

for (const [name, text, code] of bad) {
  test(`xml reject: ${name} → ${code}`, () => {
    assert.throws(() => parsePlist(Buffer.from(text)), (e: unknown) => e instanceof PlistError && e.code === code);
  });
}

test('xml caps: maxDepth, maxObjects, maxBytes', () => {
  const deep = (n: number): Buffer => Buffer.from(`<plist>${'<array>'.repeat(n)}${'</array>'.repeat(n)}</plist>`);
  assert.equal(Array.isArray(parsePlist(deep(512))), true);
  assert.throws(() => parsePlist(deep(513)), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  assert.throws(() => parsePlist(deep(100_000)), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  const many = Buffer.from(`<plist><array>${'<true/>'.repeat(20)}</array></plist>`);
  assert.throws(() => parsePlist(many, { maxObjects: 20 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
  assert.equal((parsePlist(many, { maxObjects: 21 }) as unknown[]).length, 20);
  assert.throws(() => parsePlist(many, { maxBytes: 100 }), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_TOO_LARGE');
});

test('xml encode: invalid values → ERR_PLIST_INVALID_VALUE; undefined dict values are skipped', () => {
  const cyc: Record<string, PlistValue> = {};
  cyc.self = cyc;
  for (const b of [undefined, null, new Date(NaN), 2n ** 64n, cyc, [undefined], new Date('+010000-01-01T00:00:00Z'), new Date('-000001-01-01T00:00:00Z')] as unknown[]) {
    assert.throws(() => encodeXmlPlist(b as PlistValue), (e: unknown) => e instanceof PlistError && e.code === 'ERR_PLIST_INVALID_VALUE');
  }
  assert.deepEqual(parsePlist(encodeXmlPlist({ a: 1, b: undefined } as unknown as PlistValue)), { a: 1 });
});

test('xml decode: __proto__ key stays an own key', () => {
  const v = parsePlist(doc('<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
