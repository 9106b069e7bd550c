/**
 * The public surface: the names (and kinds) each subpath of package.json "exports" offers, compared with the
 * checked-in snapshot test/unit/api/surface.txt, so that a change of the public API is always deliberate.
 * After an intended change: `UPDATE_API_SURFACE=1 npm test -- test/unit/api` and commit the new snapshot.
 *
 * Names come from the TypeScript checker (types included); the values are also imported by package name (the
 * `source` condition maps them to src/) and must be exactly the runtime exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const snapshotFile = join(root, 'test/unit/api/surface.txt');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { source: string }> };
const subpaths = Object.entries(pkg.exports).filter((e): e is [string, { source: string }] => typeof e[1] === 'object');

type Kind = 'class' | 'function' | 'const' | 'interface' | 'type' | 'enum' | 'namespace';

function kinds(sym: ts.Symbol): Kind[] {
  const f = sym.flags;
  const k: Kind[] = [];
  if (f & ts.SymbolFlags.Class) k.push('class');
  else if (f & ts.SymbolFlags.Function) k.push('function');
  else if (f & ts.SymbolFlags.Variable) k.push('const');
  else if (f & ts.SymbolFlags.Enum) k.push('enum');
  else if (f & ts.SymbolFlags.ValueModule) k.push('namespace');
  if (f & ts.SymbolFlags.Interface && !(f & ts.SymbolFlags.Class)) k.push('interface');
  if (f & ts.SymbolFlags.TypeAlias) k.push('type');
  return k;
}

const isValueKind = (k: Kind): boolean => k === 'class' || k === 'function' || k === 'const' || k === 'enum' || k === 'namespace';

/** `name kind[+kind]` per export of each subpath, from the checker. */
function surface(): Map<string, string[]> {
  const files = subpaths.map(([, e]) => join(root, e.source));
  const cfg = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const program = ts.createProgram(files, { ...cfg.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out = new Map<string, string[]>();
  for (const [sub, e] of subpaths) {
    const sf = program.getSourceFile(join(root, e.source))!;
    const mod = checker.getSymbolAtLocation(sf)!;
    const lines = checker.getExportsOfModule(mod).map((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      // `export type { AfcClient }`: the class is there for types only, not at run time
      const typeOnly = (s.declarations ?? []).some((d) => ts.isTypeOnlyImportOrExportDeclaration(d));
      const k = kinds(target);
      return `${s.getName()} ${k.join('+')}${typeOnly && k.some(isValueKind) ? ' (type only)' : ''}`;
    });
    out.set(sub === '.' ? 'iosdevice' : `iosdevice/${sub.slice(2)}`, lines.sort());
  }
  return out;
}

function render(s: Map<string, string[]>): string {
  return [...s].map(([name, lines]) => `${name}\n${lines.map((l) => `  ${l}\n`).join('')}`).join('\n');
}

const current = surface();

test('the public surface matches test/unit/api/surface.txt (UPDATE_API_SURFACE=1 to accept a deliberate change)', () => {
  const text = render(current);
  if (process.env.UPDATE_API_SURFACE === '1') writeFileSync(snapshotFile, text);
  assert.equal(text, readFileSync(snapshotFile, 'utf8'), 'the public API changed: if that is intended, run UPDATE_API_SURFACE=1 npm test -- test/unit/api and commit surface.txt');
});

for (const [name, lines] of current) {
  test(`${name}: the runtime exports are exactly the value names`, async () => {
    const ns = (await import(name)) as Record<string, unknown>;
    const values = lines
      .filter((l) => !l.endsWith(' (type only)') && l.split(' ')[1]!.split('+').some((k) => isValueKind(k as Kind)))
      .map((l) => l.split(' ')[0]);
    assert.deepEqual(Object.keys(ns).sort(), values.sort());
    for (const l of lines) assert.ok(!/ $/.test(l), `${name}: ${l} has no kind`);
  });
}

test('no subpath re-exports a codec or another internal module wholesale (no `export *` but the errors face)', () => {
  for (const [sub, e] of subpaths) {
    const text = readFileSync(join(root, e.source), 'utf8');
    for (const m of text.matchAll(/^export \* from '([^']+)'/gm)) {
      const ok = (sub === '.' && m[1] === './errors.ts') || (sub === './plist' && m[1] === './types.ts');
      assert.ok(ok, `${e.source}: export * from ${m[1]}`);
    }
  }
});

test('iosdevice/errors exports every error class declared in src/', async () => {
  const errors = (await import('iosdevice/errors')) as Record<string, unknown>;
  const internal = new Set(['StatusReply', 'Interrupted']); // afc/server-fs.ts, cli/command.ts: internal signalling
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []));
  const missing: string[] = [];
  for (const f of walk(join(root, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^export class (\w+) extends \w*Error\b/gm)) {
      if (!internal.has(m[1]!) && typeof errors[m[1]!] !== 'function') missing.push(`${relative(root, f)}: ${m[1]}`);
    }
  }
  assert.deepEqual(missing, []);
});
