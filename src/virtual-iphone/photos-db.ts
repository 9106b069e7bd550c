/**
 * Writes the virtual iPhone's `PhotoData/Photos.sqlite` (+ `-wal`) in the layout of a real iOS version, through
 * the same SQLite library the backup reads it with (node-sqlite3-wasm, already a runtime dependency).
 *
 * Layouts (names and numbers from the public forensic queries cited in src/photos/library/schema.ts):
 * - `ios17`: ZASSET, album join Z_28ASSETS (Z_28ALBUMS, Z_3ASSETS, Z_FOK_3ASSETS) — iOS 16 … 17.5
 * - `ios18`: ZASSET, Z_30ASSETS (Z_30ALBUMS, Z_3ASSETS) plus the decoy Z_29KEYASSETS (album key photos)
 * - `ios13`: ZGENERICASSET, Z_26ASSETS (Z_26ALBUMS, Z_34ASSETS, Z_FOK_34ASSETS)
 * - `future`: a made-up later layout whose asset table is renamed (ZMEDIAASSET): readers must not guess
 * Each has the Core Data bookkeeping tables (Z_PRIMARYKEY, Z_METADATA), ZADDITIONALASSETATTRIBUTES,
 * ZASSETDESCRIPTION (captions), ZINTERNALRESOURCE (local availability of originals) and ZGENERICALBUM. Only the
 * columns the backup reads plus a few neighbours are created; the real tables have many more.
 *
 * The WAL: rows written after the last checkpoint exist only in `Photos.sqlite-wal`, as on a phone that is in
 * use. The database is built under a temporary name in exclusive locking mode (this VFS has no shared memory),
 * the last `walTail` assets go in after a checkpoint, and the database and its WAL are copied to their final
 * names while the writer is still open (closing it would checkpoint and delete the WAL).
 */
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { SqliteDatabase as Database, type SqliteDatabase } from '../core/sqlite-wasm.ts';
import { encodeBinaryPlist } from '../plist/index.ts';

/** The layouts {@link writePhotosDb} can write. */
export const DB_LAYOUTS = ['ios17', 'ios18', 'ios13', 'future'] as const;
export type DbLayout = (typeof DB_LAYOUTS)[number];

/** One asset row (plus its attributes, caption and original resource). */
export interface DbAsset {
  pk: number;
  uuid: string;
  /** ZDIRECTORY, e.g. `DCIM/100APPLE` or `PhotoData/CPLAssets/group3`. */
  dir: string;
  file: string;
  kind: 'photo' | 'video';
  live: boolean;
  captured: Date;
  favorite: boolean;
  hidden: boolean;
  trashed: boolean;
  edited: boolean;
  /** ZSAVEDASSETTYPE: 3 local, 6 iCloud Photo Library, 4 shared album. */
  savedType: number;
  contentId?: string;
  title?: string;
  caption?: string;
  accessibilityDescription?: string;
  originalFilename?: string;
  /** ZINTERNALRESOURCE.ZLOCALAVAILABILITY of the original: true 1, false −1 (only in iCloud). */
  local: boolean;
  width: number;
  height: number;
}

/** An album row and its members (asset pks, in order). */
export interface DbAlbum {
  pk: number;
  uuid: string;
  title: string;
  /** 2 user album, 1505 shared album. */
  kind: 2 | 1505;
  assets: number[];
}

interface Names {
  asset: string;
  assetEnt: number;
  albumEnt: number;
  join: string;
  extra: string[];
}

const LAYOUTS: Record<DbLayout, Names> = {
  ios17: { asset: 'ZASSET', assetEnt: 3, albumEnt: 28, join: 'Z_28ASSETS', extra: ['CREATE TABLE Z_27ALBUMLISTS (Z_27ALBUMS INTEGER, Z_2ALBUMLISTS INTEGER, Z_FOK_27ALBUMS INTEGER)'] },
  ios18: {
    asset: 'ZASSET', assetEnt: 3, albumEnt: 30, join: 'Z_30ASSETS',
    extra: ['CREATE TABLE Z_29KEYASSETS (Z_29ALBUMS INTEGER, Z_3KEYASSETS INTEGER, PRIMARY KEY (Z_29ALBUMS, Z_3KEYASSETS))',
      'CREATE TABLE Z_29ALBUMLISTS (Z_29ALBUMS INTEGER, Z_2ALBUMLISTS INTEGER, Z_FOK_29ALBUMS INTEGER)'],
  },
  ios13: { asset: 'ZGENERICASSET', assetEnt: 34, albumEnt: 26, join: 'Z_26ASSETS', extra: ['CREATE TABLE Z_25ALBUMLISTS (Z_25ALBUMS INTEGER, Z_3ALBUMLISTS INTEGER, Z_FOK_25ALBUMS INTEGER)'] },
  future: { asset: 'ZMEDIAASSET', assetEnt: 5, albumEnt: 31, join: 'Z_31ASSETS', extra: [] },
};

/** Core Data seconds since 2001-01-01 UTC. */
const coreData = (d: Date): number => d.getTime() / 1000 - 978_307_200;

function ddl(n: Names): string[] {
  const a = n.assetEnt, al = n.albumEnt;
  return [
    'CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER)',
    'CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB)',
    `CREATE TABLE ${n.asset} (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZAVALANCHEPICKTYPE INTEGER, ZCLOUDLOCALSTATE INTEGER,
      ZCLOUDPLACEHOLDERKIND INTEGER, ZFAVORITE INTEGER, ZHASADJUSTMENTS INTEGER, ZHEIGHT INTEGER, ZHIDDEN INTEGER, ZKIND INTEGER,
      ZKINDSUBTYPE INTEGER, ZPLAYBACKSTYLE INTEGER, ZSAVEDASSETTYPE INTEGER, ZTRASHEDSTATE INTEGER, ZVISIBILITYSTATE INTEGER, ZWIDTH INTEGER,
      ZADDITIONALATTRIBUTES INTEGER, ZEXTENDEDATTRIBUTES INTEGER, ZMASTER INTEGER, ZADDEDDATE TIMESTAMP, ZDATECREATED TIMESTAMP,
      ZMODIFICATIONDATE TIMESTAMP, ZTRASHEDDATE TIMESTAMP, ZAVALANCHEUUID VARCHAR, ZCLOUDASSETGUID VARCHAR, ZDIRECTORY VARCHAR,
      ZFILENAME VARCHAR, ZMEDIAGROUPUUID VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR, ZUUID VARCHAR)`,
    `CREATE TABLE ZADDITIONALASSETATTRIBUTES (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZORIGINALFILESIZE INTEGER,
      ZORIGINALHEIGHT INTEGER, ZORIGINALWIDTH INTEGER, ZTIMEZONEOFFSET INTEGER, ZASSET INTEGER, ZASSETDESCRIPTION INTEGER,
      ZACCESSIBILITYDESCRIPTION VARCHAR, ZEXIFTIMESTAMPSTRING VARCHAR, ZIMPORTEDBYBUNDLEIDENTIFIER VARCHAR, ZORIGINALFILENAME VARCHAR,
      ZTIMEZONENAME VARCHAR, ZTITLE VARCHAR, ZREVERSELOCATIONDATA BLOB)`,
    'CREATE TABLE ZASSETDESCRIPTION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZASSETATTRIBUTES INTEGER, ZLONGDESCRIPTION VARCHAR)',
    `CREATE TABLE ZINTERNALRESOURCE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDATASTORESUBTYPE INTEGER,
      ZLOCALAVAILABILITY INTEGER, ZREMOTEAVAILABILITY INTEGER, ZRESOURCETYPE INTEGER, ZRECIPEID INTEGER, ZTRASHEDSTATE INTEGER,
      ZASSET INTEGER, ZDATALENGTH INTEGER, ZFINGERPRINT VARCHAR, ZCOMPACTUTI VARCHAR)`,
    `CREATE TABLE ZGENERICALBUM (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZTRASHEDSTATE INTEGER,
      ZCACHEDCOUNT INTEGER, ZPARENTFOLDER INTEGER, ZCREATIONDATE TIMESTAMP, ZTITLE VARCHAR, ZUUID VARCHAR, ZCLOUDGUID VARCHAR)`,
    `CREATE TABLE ${n.join} (Z_${al}ALBUMS INTEGER, Z_${a}ASSETS INTEGER, Z_FOK_${a}ASSETS INTEGER, PRIMARY KEY (Z_${al}ALBUMS, Z_${a}ASSETS))`,
    `CREATE INDEX Z_${n.asset}_ZDIRECTORY ON ${n.asset} (ZDIRECTORY)`,
    'CREATE INDEX Z_INTERNALRESOURCE_ZASSET ON ZINTERNALRESOURCE (ZASSET)',
    ...n.extra,
  ];
}

const UTI: Record<string, string> = { HEIC: 'public.heic', JPG: 'public.jpeg', PNG: 'public.png', MOV: 'com.apple.quicktime-movie', MP4: 'public.mpeg-4' };

function insertAsset(db: SqliteDatabase, n: Names, x: DbAsset, pad: Uint8Array | null): void {
  const ext = x.file.slice(x.file.lastIndexOf('.') + 1).toUpperCase();
  const descPk = x.caption !== undefined ? x.pk : null;
  db.run(`INSERT INTO ${n.asset} (Z_PK, Z_ENT, Z_OPT, ZCLOUDLOCALSTATE, ZFAVORITE, ZHASADJUSTMENTS, ZHEIGHT, ZHIDDEN, ZKIND, ZKINDSUBTYPE,
    ZPLAYBACKSTYLE, ZSAVEDASSETTYPE, ZTRASHEDSTATE, ZVISIBILITYSTATE, ZWIDTH, ZADDITIONALATTRIBUTES, ZADDEDDATE, ZDATECREATED,
    ZMODIFICATIONDATE, ZTRASHEDDATE, ZDIRECTORY, ZFILENAME, ZMEDIAGROUPUUID, ZUNIFORMTYPEIDENTIFIER, ZUUID)
    VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    x.pk, n.assetEnt, x.savedType === 6 ? 1 : 0, x.favorite ? 1 : 0, x.edited ? 1 : 0, x.height, x.hidden ? 1 : 0,
    x.kind === 'photo' ? 0 : 1, x.live ? 2 : x.kind === 'video' ? 100 : 0, x.live ? 3 : x.kind === 'video' ? 4 : 1, x.savedType,
    x.trashed ? 1 : 0, x.width, x.pk, coreData(x.captured), coreData(x.captured), coreData(x.captured),
    x.trashed ? coreData(x.captured) + 86400 : null, x.dir, x.file, x.contentId ?? null, UTI[ext] ?? null, x.uuid,
  ]);
  db.run(`INSERT INTO ZADDITIONALASSETATTRIBUTES (Z_PK, Z_ENT, Z_OPT, ZORIGINALHEIGHT, ZORIGINALWIDTH, ZTIMEZONEOFFSET, ZASSET,
    ZASSETDESCRIPTION, ZACCESSIBILITYDESCRIPTION, ZORIGINALFILENAME, ZTIMEZONENAME, ZTITLE, ZREVERSELOCATIONDATA)
    VALUES (?, 1, 1, ?, ?, 0, ?, ?, ?, ?, 'GMT', ?, ?)`, [
    x.pk, x.height, x.width, x.pk, descPk, x.accessibilityDescription ?? null, x.originalFilename ?? x.file, x.title ?? null, pad,
  ]);
  if (descPk !== null) db.run('INSERT INTO ZASSETDESCRIPTION (Z_PK, Z_ENT, Z_OPT, ZASSETATTRIBUTES, ZLONGDESCRIPTION) VALUES (?, 2, 1, ?, ?)', [descPk, x.pk, x.caption!]);
  // the original (ZDATASTORESUBTYPE 1) and, for a Live Photo, its video (ZRESOURCETYPE 3); thumbnails are always local
  const resources: [number, number, number][] = [[x.kind === 'photo' ? 0 : 1, 1, x.local ? 1 : -1], [0, 5, 1]];
  if (x.live) resources.push([3, 1, x.local ? 1 : -1]);
  for (const [type, subtype, local] of resources) {
    db.run(`INSERT INTO ZINTERNALRESOURCE (Z_ENT, Z_OPT, ZDATASTORESUBTYPE, ZLOCALAVAILABILITY, ZREMOTEAVAILABILITY, ZRESOURCETYPE,
      ZTRASHEDSTATE, ZASSET, ZCOMPACTUTI) VALUES (4, 1, ?, ?, ?, ?, 0, ?, ?)`, [subtype, local, x.savedType === 6 ? 1 : 0, type, x.pk, UTI[ext] ?? null]);
  }
}

function insertAlbum(db: SqliteDatabase, n: Names, al: DbAlbum, created: Date): void {
  db.run(`INSERT INTO ZGENERICALBUM (Z_PK, Z_ENT, Z_OPT, ZKIND, ZTRASHEDSTATE, ZCACHEDCOUNT, ZPARENTFOLDER, ZCREATIONDATE, ZTITLE, ZUUID)
    VALUES (?, ?, 1, ?, 0, ?, 1, ?, ?, ?)`, [al.pk, n.albumEnt, al.kind, al.assets.length, coreData(created), al.title, al.uuid]);
}

function insertMembers(db: SqliteDatabase, n: Names, album: number, assets: number[], from = 0): void {
  for (const [i, a] of assets.entries()) {
    db.run(`INSERT INTO ${n.join} (Z_${n.albumEnt}ALBUMS, Z_${n.assetEnt}ASSETS, Z_FOK_${n.assetEnt}ASSETS) VALUES (?, ?, ?)`, [album, a, (from + i + 1) * 1024]);
  }
}

/** Options of {@link writePhotosDb}. */
export interface PhotosDbOptions {
  layout: DbLayout;
  /** How many of the last assets (and their album memberships) are left in the WAL only. Default 3. */
  walTail?: number;
  /** Bytes of reverse-geocoding blob per asset (a real column), to reach realistic database sizes. Default 0. */
  padBytesPerAsset?: number;
}

/**
 * Writes `path` (and `path-wal`, holding the last `walTail` assets un-checkpointed). Existing files are replaced.
 * Albums' members that are in the WAL tail are added to the album in the WAL too.
 */
export function writePhotosDb(path: string, assets: readonly DbAsset[], albums: readonly DbAlbum[], o: PhotosDbOptions): void {
  const n = LAYOUTS[o.layout];
  const tmp = `${path}.building`;
  for (const f of [path, `${path}-wal`, `${path}-shm`, tmp, `${tmp}-wal`, `${tmp}.lock`]) rmSync(f, { recursive: true, force: true });
  const db = new Database(tmp);
  try {
    db.get('PRAGMA locking_mode=EXCLUSIVE');
    db.get('PRAGMA journal_mode=WAL');
    db.get('PRAGMA wal_autocheckpoint=0');
    db.exec('BEGIN');
    for (const s of ddl(n)) db.exec(s);
    db.run('INSERT INTO Z_METADATA VALUES (1, ?, ?)', ['0F8A6D6E-1D7B-4C7E-9E3B-2C5A7F2D8E11', encodeBinaryPlist({ NSStoreType: 'SQLite', NSPersistenceFrameworkVersion: 1338 })]);
    for (const [ent, name] of [[n.assetEnt, 'Asset'], [n.albumEnt, 'Album'], [4000, 'Folder']] as const) db.run('INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, 0)', [ent, name]);
    db.run(`INSERT INTO ZGENERICALBUM (Z_PK, Z_ENT, Z_OPT, ZKIND, ZTRASHEDSTATE, ZTITLE, ZUUID) VALUES (1, ?, 1, 3999, 0, NULL, 'RootFolder')`, [n.albumEnt]);
    const tail = Math.min(assets.length, Math.max(0, o.walTail ?? 3));
    const inWal = new Set(assets.slice(assets.length - tail).map((a) => a.pk));
    const pad = o.padBytesPerAsset ? new Uint8Array(o.padBytesPerAsset).fill(0x62) : null;
    for (const a of assets.slice(0, assets.length - tail)) insertAsset(db, n, a, pad);
    const created = assets[0]?.captured ?? new Date(0);
    for (const al of albums) {
      insertAlbum(db, n, al, created);
      insertMembers(db, n, al.pk, al.assets.filter((a) => !inWal.has(a)));
    }
    db.exec('COMMIT');
    db.get('PRAGMA wal_checkpoint(TRUNCATE)');
    // what the phone has not checkpointed yet: the newest assets, their album memberships
    db.exec('BEGIN');
    for (const a of assets.slice(assets.length - tail)) insertAsset(db, n, a, pad);
    for (const al of albums) {
      const late = al.assets.filter((a) => inWal.has(a));
      if (late.length > 0) insertMembers(db, n, al.pk, late, al.assets.length - late.length);
    }
    db.exec('COMMIT');
    copyFileSync(tmp, path);
    copyFileSync(`${tmp}-wal`, `${path}-wal`);
    for (const f of [path, `${path}-wal`]) chmodSync(f, 0o644);
  } finally {
    db.close();
    for (const f of [tmp, `${tmp}-wal`, `${tmp}.lock`]) rmSync(f, { recursive: true, force: true });
  }
}
