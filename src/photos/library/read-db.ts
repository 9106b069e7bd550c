/**
 * Reads the asset, availability, album and caption data of a Photos.sqlite copy into a compact index
 * (rows are streamed; only the fields the backup needs are kept). Table and column names, and where they are
 * documented, are listed in schema.ts.
 */
import { LibraryError } from './errors.ts';
import { detectSchema, type LibrarySchema, type UnknownSchema } from './schema.ts';
import { PhotoDb, type SqlRow, type SqlValue } from './sqlite.ts';

/** Core Data timestamps count seconds from 2001-01-01 UTC. */
export const CORE_DATA_EPOCH_S = 978_307_200;

const KIND_BITS = 3; // 0 photo, 1 video, 2 other
const LIVE = 1 << 2;
const FAVORITE = 1 << 3;
const HIDDEN = 1 << 4;
const TRASHED = 1 << 5;
const EDITED = 1 << 6;
const LOCAL_KNOWN = 1 << 7;
const LOCAL = 1 << 8;
const SAVED_KNOWN = 1 << 9;
const ORIG_IS_NAME = 1 << 10; // ZORIGINALFILENAME is the file's own name (most DCIM assets): not held twice
const SAVED_SHIFT = 11; // ZSAVEDASSETTYPE 0..255 kept in the bits above this one
const KINDS = ['photo', 'video', 'other'] as const;

/** Fields most assets do not have, kept out of the record (one object only where one is set). */
interface AssetRare {
  title?: string;
  caption?: string;
  accessibilityDescription?: string;
  savedType?: number;
}

/**
 * One asset (a row of ZASSET / ZGENERICASSET). A compact record: a library has 100k+ of them, so the flags share
 * one small integer and the rarely set fields one optional object (every record has the same shape).
 */
export class LibraryAsset {
  readonly pk: number;
  /** Path below the media root, '/'-separated: `DCIM/100APPLE/IMG_0001.HEIC`, `PhotoData/CPLAssets/group3/<UUID>.HEIC`. */
  readonly path: string;
  uuid: string | undefined;
  /** Capture time, ms since the Unix epoch. */
  createdMs: number | undefined;
  /** ZMEDIAGROUPUUID: the Live Photo content identifier shared by the still and its video. */
  contentId: string | undefined;
  #orig: string | undefined;
  #bits: number;
  #rare: AssetRare | undefined;

  constructor(pk: number, path: string, kind: 'photo' | 'video' | 'other', flags: { live: boolean; favorite: boolean; hidden: boolean; trashed: boolean; edited: boolean }) {
    this.pk = pk;
    this.path = path;
    this.uuid = undefined;
    this.createdMs = undefined;
    this.contentId = undefined;
    this.#orig = undefined;
    this.#bits = KINDS.indexOf(kind) | (flags.live ? LIVE : 0) | (flags.favorite ? FAVORITE : 0) | (flags.hidden ? HIDDEN : 0) |
      (flags.trashed ? TRASHED : 0) | (flags.edited ? EDITED : 0);
    this.#rare = undefined;
  }

  get kind(): 'photo' | 'video' | 'other' {
    return KINDS[this.#bits & KIND_BITS]!;
  }
  /** A Live Photo (ZKINDSUBTYPE 2 or ZPLAYBACKSTYLE 3): its video is a resource next to the still. */
  get live(): boolean {
    return (this.#bits & LIVE) !== 0;
  }
  get favorite(): boolean {
    return (this.#bits & FAVORITE) !== 0;
  }
  get hidden(): boolean {
    return (this.#bits & HIDDEN) !== 0;
  }
  /** In "Recently Deleted". */
  get trashed(): boolean {
    return (this.#bits & TRASHED) !== 0;
  }
  get edited(): boolean {
    return (this.#bits & EDITED) !== 0;
  }
  /** From ZINTERNALRESOURCE: true = the original is on the phone, false = only in iCloud; undefined = not recorded. */
  get localOriginal(): boolean | undefined {
    return this.#bits & LOCAL_KNOWN ? (this.#bits & LOCAL) !== 0 : undefined;
  }
  set localOriginal(v: boolean | undefined) {
    this.#bits = (this.#bits & ~(LOCAL_KNOWN | LOCAL)) | (v === undefined ? 0 : LOCAL_KNOWN | (v ? LOCAL : 0));
  }
  /** The name Photos shows (ZADDITIONALASSETATTRIBUTES.ZORIGINALFILENAME). */
  get originalFilename(): string | undefined {
    return this.#bits & ORIG_IS_NAME ? this.path.slice(this.path.lastIndexOf('/') + 1) : this.#orig;
  }
  set originalFilename(v: string | undefined) {
    const same = v !== undefined && v.length < this.path.length && this.path.endsWith(v) && this.path[this.path.length - v.length - 1] === '/';
    this.#bits = same ? this.#bits | ORIG_IS_NAME : this.#bits & ~ORIG_IS_NAME;
    this.#orig = same ? undefined : v;
  }
  get title(): string | undefined {
    return this.#rare?.title;
  }
  get caption(): string | undefined {
    return this.#rare?.caption;
  }
  get accessibilityDescription(): string | undefined {
    return this.#rare?.accessibilityDescription;
  }
  /** ZSAVEDASSETTYPE 6 (came from iCloud Photos) or 4 (shared album). */
  get savedType(): number | undefined {
    return this.#bits & SAVED_KNOWN ? this.#bits >>> SAVED_SHIFT : this.#rare?.savedType;
  }
  set savedType(v: number | undefined) {
    this.#bits &= (SAVED_KNOWN - 1) | ORIG_IS_NAME;
    if (v !== undefined && Number.isInteger(v) && v >= 0 && v <= 255) this.#bits |= SAVED_KNOWN | (v << SAVED_SHIFT);
    else if (v !== undefined || this.#rare) this.setRare('savedType', v);
  }

  /** Sets a rarely present field (read-db.ts). */
  setRare<K extends keyof AssetRare>(k: K, v: AssetRare[K]): void {
    (this.#rare ??= {})[k] = v;
  }
}

/** Assets by primary key: the assets in Z_PK order, searched by bisection (no per-asset map entry). */
export class AssetsByPk {
  readonly #sorted: readonly LibraryAsset[];

  constructor(sorted: readonly LibraryAsset[]) {
    this.#sorted = sorted;
  }

  get(pk: number): LibraryAsset | undefined {
    const a = this.#sorted;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = a[mid]!.pk;
      if (p === pk) return a[mid];
      if (p < pk) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  has(pk: number): boolean {
    return this.get(pk) !== undefined;
  }
}

/** A user album or a shared (iCloud) album. */
export interface LibraryAlbum {
  pk: number;
  uuid?: string;
  title: string;
  /** Folder titles from the top, when the album sits in folders. */
  folders: string[];
  shared: boolean;
  /** Asset primary keys in the album's order. */
  assets: number[];
}

/** What the reader got from a database it understands. */
export interface LibraryIndex {
  schema: LibrarySchema;
  assets: LibraryAsset[];
  /** Assets by Z_PK. */
  byPk: AssetsByPk;
  albums: LibraryAlbum[];
  /** Asset rows skipped because their path is missing or not a plain relative path. */
  skippedRows: number;
}

/** ZGENERICALBUM.ZKIND values read (iLEAPP Ph002 / osxphotos): 2 user album, 1505 shared album, 4000 folder. */
const ALBUM_KIND = 2;
const SHARED_ALBUM_KIND = 1505;
const FOLDER_KIND = 4000;
/** Folder nesting followed at most (cycles in a damaged database end here). */
const MAX_FOLDER_DEPTH = 32;
/** Longest text field kept (title, caption), characters. */
const MAX_TEXT = 4096;

/**
 * `s` as one flat string. The SQLite binding builds short texts a character at a time, so a 13–16 character
 * name arrives as a rope (a cons string and its two halves, ~3x the bytes); the index keeps 100k+ of them.
 * normalize() returns a flat copy; it is used only when it does not change the text (never for a name in NFD).
 */
function flat(s: string): string {
  const n = s.normalize();
  return n === s ? n : s;
}

function str(v: SqlValue | undefined): string | undefined {
  if (typeof v !== 'string' || v.length === 0) return undefined;
  return v.length > MAX_TEXT ? v.slice(0, MAX_TEXT) : flat(v);
}

function num(v: SqlValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** A ZDIRECTORY/ZFILENAME pair as a media-root-relative path, or undefined when it is not a plain relative path. */
export function assetPath(dir: SqlValue | undefined, file: SqlValue | undefined): string | undefined {
  if (typeof dir !== 'string' || typeof file !== 'string' || file.length === 0 || file.includes('/')) return undefined;
  const parts = [...dir.split('/').filter((p) => p.length > 0), file];
  if (parts.some((p) => p === '.' || p === '..' || p.includes('\0'))) return undefined;
  return parts.join('/');
}

function col(cols: Set<string> | undefined, alias: string, name: string, as: string): string {
  return cols?.has(name) ? `${alias}.${name} AS ${as}` : `NULL AS ${as}`;
}

function readAssets(db: PhotoDb, s: LibrarySchema, out: LibraryIndex): void {
  const a = s.assetCols;
  const at = s.attrCols;
  const sel = [
    'a.Z_PK AS pk', 'a.ZDIRECTORY AS dir', 'a.ZFILENAME AS file',
    col(a, 'a', 'ZUUID', 'uuid'), col(a, 'a', 'ZDATECREATED', 'created'), col(a, 'a', 'ZKIND', 'kind'),
    col(a, 'a', 'ZKINDSUBTYPE', 'subtype'), col(a, 'a', 'ZPLAYBACKSTYLE', 'playback'), col(a, 'a', 'ZFAVORITE', 'fav'),
    col(a, 'a', 'ZHIDDEN', 'hidden'), col(a, 'a', 'ZTRASHEDSTATE', 'trashed'), col(a, 'a', 'ZMEDIAGROUPUUID', 'cid'),
    col(a, 'a', 'ZHASADJUSTMENTS', 'edited'), col(a, 'a', 'ZSAVEDASSETTYPE', 'saved'),
  ];
  let from = `${s.assetTable} a`;
  // ZASSET.ZADDITIONALATTRIBUTES → ZADDITIONALASSETATTRIBUTES.Z_PK; older rows only have the back-link .ZASSET.
  if (at?.has('Z_PK')) {
    const on = a.has('ZADDITIONALATTRIBUTES') ? 'aa.Z_PK = a.ZADDITIONALATTRIBUTES' : at.has('ZASSET') ? 'aa.ZASSET = a.Z_PK' : undefined;
    if (on) {
      from += ` LEFT JOIN ZADDITIONALASSETATTRIBUTES aa ON ${on}`;
      sel.push(col(at, 'aa', 'ZTITLE', 'title'), col(at, 'aa', 'ZACCESSIBILITYDESCRIPTION', 'alt'), col(at, 'aa', 'ZORIGINALFILENAME', 'orig'));
      if (s.captions) {
        from += ' LEFT JOIN ZASSETDESCRIPTION d ON d.Z_PK = aa.ZASSETDESCRIPTION';
        sel.push('d.ZLONGDESCRIPTION AS caption');
      }
    }
  }
  db.each(`SELECT ${sel.join(', ')} FROM ${from} ORDER BY a.Z_PK`, [], (r: SqlRow) => {
    const pk = num(r['pk']);
    const path = assetPath(r['dir'], r['file']);
    if (pk === undefined || path === undefined) {
      out.skippedRows++;
      return;
    }
    const created = num(r['created']);
    const kind = num(r['kind']);
    const asset = new LibraryAsset(pk, path, kind === 0 ? 'photo' : kind === 1 ? 'video' : 'other', {
      live: num(r['subtype']) === 2 || num(r['playback']) === 3,
      favorite: num(r['fav']) === 1,
      hidden: num(r['hidden']) === 1,
      trashed: num(r['trashed']) === 1,
      edited: num(r['edited']) === 1,
    });
    asset.uuid = str(r['uuid']);
    if (created !== undefined && Number.isFinite(created)) asset.createdMs = Math.round((created + CORE_DATA_EPOCH_S) * 1000);
    const cid = str(r['cid']);
    if (cid) asset.contentId = cid.toUpperCase();
    asset.originalFilename = str(r['orig']);
    for (const [k, c] of [['title', 'title'], ['caption', 'caption'], ['accessibilityDescription', 'alt']] as const) {
      const v = str(r[c]);
      if (v) asset.setRare(k, v);
    }
    const saved = num(r['saved']);
    if (saved !== undefined) asset.savedType = saved;
    if (out.assets.length > 0 && out.assets[out.assets.length - 1]!.pk >= pk) throw new LibraryError('asset rows are not in Z_PK order');
    out.assets.push(asset);
  });
}

/**
 * Local availability of each asset's original: ZINTERNALRESOURCE rows with ZDATASTORESUBTYPE 1 (the original
 * at full size); the asset's original is local when every such row has ZLOCALAVAILABILITY 1.
 */
function readAvailability(db: PhotoDb, s: LibrarySchema, idx: LibraryIndex): void {
  const rc = s.resourceCols;
  if (!rc?.has('ZDATASTORESUBTYPE')) return;
  db.each('SELECT ZASSET AS a, MIN(ZLOCALAVAILABILITY) AS lo FROM ZINTERNALRESOURCE WHERE ZDATASTORESUBTYPE = 1 GROUP BY ZASSET', [], (r) => {
    const asset = idx.byPk.get(num(r['a']) ?? -1);
    const lo = num(r['lo']);
    if (asset && lo !== undefined) asset.localOriginal = lo === 1;
  });
}

function readAlbums(db: PhotoDb, s: LibrarySchema, idx: LibraryIndex): void {
  const ac = s.albumCols;
  if (!ac?.has('Z_PK') || !ac.has('ZKIND')) return;
  const rows = new Map<number, { title?: string; kind?: number; parent?: number; uuid?: string; trashed: boolean }>();
  const sel = ['Z_PK AS pk', 'ZKIND AS kind', col(ac, 'g', 'ZTITLE', 'title'), col(ac, 'g', 'ZUUID', 'uuid'),
    col(ac, 'g', 'ZPARENTFOLDER', 'parent'), col(ac, 'g', 'ZTRASHEDSTATE', 'trashed')];
  db.each(`SELECT ${sel.join(', ')} FROM ZGENERICALBUM g WHERE ZKIND IN (?, ?, ?)`, [ALBUM_KIND, SHARED_ALBUM_KIND, FOLDER_KIND], (r) => {
    const pk = num(r['pk']);
    if (pk === undefined) return;
    rows.set(pk, { title: str(r['title']), kind: num(r['kind']), parent: num(r['parent']), uuid: str(r['uuid']), trashed: num(r['trashed']) === 1 });
  });
  const byPk = new Map<number, LibraryAlbum>();
  for (const [pk, r] of rows) {
    if (r.kind === FOLDER_KIND || r.trashed) continue;
    const folders: string[] = [];
    for (let p = r.parent, d = 0; p !== undefined && d < MAX_FOLDER_DEPTH; d++) {
      const f = rows.get(p);
      if (!f || f.kind !== FOLDER_KIND) break;
      if (f.title) folders.unshift(f.title);
      p = f.parent;
    }
    const album: LibraryAlbum = { pk, title: r.title ?? `Album ${pk}`, folders, shared: r.kind === SHARED_ALBUM_KIND, assets: [], ...(r.uuid ? { uuid: r.uuid } : {}) };
    byPk.set(pk, album);
    idx.albums.push(album);
  }
  const j = s.join;
  if (!j) return;
  const order = j.orderCol ? `, ${j.orderCol}` : '';
  db.each(`SELECT ${j.albumCol} AS al, ${j.assetCol} AS a FROM ${j.table} ORDER BY ${j.albumCol}${order}`, [], (r) => {
    const album = byPk.get(num(r['al']) ?? -1);
    const a = num(r['a']);
    if (album && a !== undefined && idx.byPk.has(a)) album.assets.push(a);
  });
}

/** Result of {@link readLibrary}: an index, or the reason the schema is not understood. */
export type LibraryRead = { index: LibraryIndex } | UnknownSchema;

/**
 * Opens a local copy of Photos.sqlite (with its -wal beside it) read-only and reads the index.
 * @throws LibraryError (ERR_PHOTOS_LIBRARY) when the file is not a readable SQLite database
 */
export function readLibrary(dbPath: string, o: { quickCheck?: boolean } = {}): LibraryRead {
  const db = PhotoDb.open(dbPath);
  try {
    if (o.quickCheck) {
      const qc = db.quickCheck();
      if (qc !== 'ok') throw new LibraryError(`Photos.sqlite copy fails quick_check: ${qc}`);
    }
    const schema = detectSchema(db);
    if ('unknown' in schema) return schema;
    const assets: LibraryAsset[] = [];
    const index: LibraryIndex = { schema, assets, byPk: new AssetsByPk(assets), albums: [], skippedRows: 0 };
    readAssets(db, schema, index);
    readAvailability(db, schema, index);
    readAlbums(db, schema, index);
    return { index };
  } finally {
    db.close();
  }
}
