/**
 * `--albums`: what only Photos.sqlite knows, written so photo managers and scripts can use it.
 *
 * - An XMP sidecar `<file>.xmp` next to each asset's primary file (`IMG_0001.HEIC.xmp`), the name darktable,
 *   digiKam, Immich and PhotoPrism look for: favourite → `xmp:Rating` 5, caption → `dc:description`, title →
 *   `dc:title`, accessibility text → `Iptc4xmpCore:AltTextAccessibility`, albums → `dc:subject` and
 *   `lr:hierarchicalSubject` ("Albums|Holidays"), hidden → `lr:hierarchicalSubject` "iPhone|Hidden", plus the
 *   asset UUID. XMP rather than a private format: every photo manager reads it, and it survives moving the files.
 *   A sidecar another program wrote (no `x:xmptk="iosdevice"`) is never touched.
 * - One sidecar per album, `<device folder>/Albums/<title>.json` (the device's folder below DEST, device-folder.ts) (title, folders, shared, the items' paths below DEST, and the
 *   members that are only in iCloud), rather than folders of links: links make photo managers import each photo
 *   once per album, and exFAT/FAT drives — the usual external disk — cannot hold them.
 * - `<device folder>/library.json`: every backed-up asset with its files, flags, caption and albums, and the cloud-only list.
 * Each file is written to a temporary name and renamed into place, inside DEST only (safe-path.ts).
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileGroup } from '../layout.ts';
import type { Manifest } from '../manifest.ts';
import { ensureSafeDir, resolveInside, unsafeNameReason } from '../safe-path.ts';
import type { LibraryInventory } from './inventory.ts';
import type { LibraryAsset } from './read-db.ts';
import { albumName } from './select.ts';

const MARK = 'x:xmptk="iosdevice"';
// control characters XML 1.0 cannot hold, and the characters a file name must not contain (built from code
// points, so the source holds no control characters)
const ctl = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => `\\u${(from + i).toString(16).padStart(4, '0')}`).join('');
const XML_BAD = new RegExp(`[${ctl(0, 8)}${ctl(11, 12)}${ctl(14, 31)}]`, 'g');
const NAME_BAD = new RegExp(`[/\\\\:*?"<>|${ctl(0, 31)}]`, 'g');

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!).replace(XML_BAD, '');
}

const alt = (tag: string, v: string | undefined): string => (v ? `   <${tag}><rdf:Alt><rdf:li xml:lang="x-default">${esc(v)}</rdf:li></rdf:Alt></${tag}>\n` : '');
const bag = (tag: string, v: string[]): string => (v.length ? `   <${tag}><rdf:Bag>${v.map((x) => `<rdf:li>${esc(x)}</rdf:li>`).join('')}</rdf:Bag></${tag}>\n` : '');

/** The XMP packet for an asset (UTF-8 text). */
export function xmpFor(a: LibraryAsset, albums: string[]): string {
  const hier = [...albums.map((t) => `Albums|${t.replaceAll('|', '/')}`), ...(a.hidden ? ['iPhone|Hidden'] : []), ...(a.favorite ? ['iPhone|Favorite'] : [])];
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" ${MARK}>
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmp:CreatorTool="iosdevice"${a.favorite ? '\n    xmp:Rating="5"' : ''}${a.uuid ? `\n    xmpMM:DocumentID="${esc(a.uuid)}"` : ''}>
${alt('dc:title', a.title)}${alt('dc:description', a.caption)}${alt('Iptc4xmpCore:AltTextAccessibility', a.accessibilityDescription)}${bag('dc:subject', albums)}${bag('lr:hierarchicalSubject', hier)}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
`;
}

/** An album title as a file name: path separators and reserved characters replaced, ≤ 100 characters. */
export function albumFileName(title: string): string {
  let n = title.replace(NAME_BAD, '_').replace(/^[.\s]+|[.\s]+$/g, '').slice(0, 100);
  if (n.length === 0 || unsafeNameReason(n)) n = 'Album';
  return n;
}

/** Writes `text` to DEST/parts… via a temporary name; refuses to replace a file we did not write (`mine` false). */
export async function writeOwned(dest: string, parts: string[], text: string, mine: (old: string) => boolean): Promise<'written' | 'kept'> {
  await ensureSafeDir(dest, parts.slice(0, -1));
  const target = resolveInside(dest, parts);
  const st = await fsp.lstat(target).catch(() => undefined);
  if (st && (!st.isFile() || !mine(await fsp.readFile(target, 'utf8')))) return 'kept';
  const tmp = resolveInside(dest, [...parts.slice(0, -1), `.${randomUUID()}.tmp`]);
  try {
    await fsp.writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.unlink(tmp).catch(() => undefined); // a disk that filled up leaves no half-written temporary
    throw e;
  }
  return 'written';
}

/** What {@link writeLibrarySidecars} wrote. */
export interface SidecarReport {
  xmp: number;
  /** Sidecars left alone because another program wrote them. */
  keptForeign: string[];
  albums: number;
  /** The folder (absolute) that holds Albums/ and library.json: the device's folder below DEST. */
  dir: string;
}

/**
 * Writes the XMP sidecars of the `groups` backed up (their files' local paths come from the manifest), and the
 * album sidecars and library.json in `root` (the device's folder below DEST, as path components; [] = DEST).
 * @throws fs errors (DEST problems), UnsafePathError
 */
export async function writeLibrarySidecars(dest: string, root: readonly string[], inv: LibraryInventory, groups: readonly FileGroup[], m: Manifest, udid: string): Promise<SidecarReport> {
  const report: SidecarReport = { xmp: 0, keptForeign: [], albums: 0, dir: resolveInside(dest, [...root]) };
  const idx = inv.index;
  if (!idx) return report;
  const albumsOf = new Map<number, string[]>();
  for (const al of idx.albums) for (const pk of al.assets) (albumsOf.get(pk) ?? albumsOf.set(pk, []).get(pk)!).push(albumName(al.folders, al.title));
  const localOf = new Map<number, string[]>();
  for (const g of groups) {
    const a = inv.assetOf.get(g);
    if (!a) continue;
    const locals = g.members.map((f) => m.get(udid, f.remote)?.local).filter((x): x is string => !!x);
    if (locals.length === 0) continue;
    localOf.set(a.pk, locals);
    const albums = albumsOf.get(a.pk) ?? [];
    if (!(a.favorite || a.hidden || a.caption || a.title || a.accessibilityDescription || albums.length)) continue;
    const primary = m.get(udid, g.members[0]!.remote)?.local;
    if (!primary) continue;
    const r = await writeOwned(dest, `${primary}.xmp`.split('/'), xmpFor(a, albums), (old) => old.includes(MARK));
    if (r === 'written') report.xmp++;
    else report.keptForeign.push(`${primary}.xmp`);
  }
  const cloudOnly = new Set(inv.summary.cloudOnly.map((c) => c.path));
  const used = new Set<string>();
  for (const al of idx.albums) {
    let name = albumFileName(albumName(al.folders, al.title));
    for (let i = 2; used.has(name.toLowerCase()); i++) name = `${albumFileName(albumName(al.folders, al.title))} (${i})`;
    used.add(name.toLowerCase());
    const items = al.assets.map((pk) => {
      const a = idx.byPk.get(pk);
      return { uuid: a?.uuid ?? null, files: localOf.get(pk) ?? [], onlyInICloud: !localOf.has(pk) && a !== undefined && cloudOnly.has(a.path) };
    });
    const body = { title: al.title, folders: al.folders, shared: al.shared, uuid: al.uuid ?? null, count: al.assets.length, items, writtenBy: 'iosdevice' };
    if ((await writeOwned(dest, [...root, 'Albums', `${name}.json`], JSON.stringify(body, null, 1) + '\n', (old) => old.includes('"writtenBy": "iosdevice"'))) === 'written') report.albums++;
  }
  const assets = idx.assets.filter((a) => localOf.has(a.pk)).map((a) => ({
    uuid: a.uuid ?? null, files: localOf.get(a.pk), created: a.createdMs !== undefined ? new Date(a.createdMs).toISOString() : null,
    favorite: a.favorite, hidden: a.hidden, trashed: a.trashed, live: a.live, edited: a.edited,
    ...(a.title ? { title: a.title } : {}), ...(a.caption ? { caption: a.caption } : {}),
    ...(a.accessibilityDescription ? { accessibilityDescription: a.accessibilityDescription } : {}), albums: albumsOf.get(a.pk) ?? [],
  }));
  const lib = { writtenBy: 'iosdevice', schema: inv.summary.schema ?? null, assets, onlyInICloud: inv.summary.cloudOnly };
  await writeOwned(dest, [...root, 'library.json'], JSON.stringify(lib) + '\n', (old) => old.includes('"writtenBy":"iosdevice"'));
  return report;
}
