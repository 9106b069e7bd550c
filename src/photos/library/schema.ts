/**
 * Which Photos.sqlite layout a database has, found from the schema itself (never from the iOS version
 * number alone: the album join table is renamed between majors and even inside iOS 17).
 *
 * Where each name comes from (public forensic research; facts only, no code taken):
 * - Asset table: `ZGENERICASSET` on iOS 11–13, `ZASSET` from iOS 14 (iLEAPP
 *   `scripts/artifacts/Ph001BasicAssetData.py` branches `11 <= v < 14` / `v >= 14`; Scott Koenig's
 *   iOS_Local_PL_Photos.sqlite_Queries `iOS13/iOS13_LPL_Phsql_Albums.txt` vs `iOS14/…`).
 * - Asset columns Z_PK, ZUUID, ZDIRECTORY, ZFILENAME, ZDATECREATED (Core Data seconds since 2001-01-01),
 *   ZKIND (0 photo, 1 video), ZKINDSUBTYPE (2 Live Photo), ZPLAYBACKSTYLE (3 Live Photo), ZFAVORITE, ZHIDDEN,
 *   ZTRASHEDSTATE (1 = Recently Deleted), ZMEDIAGROUPUUID (Live Photo content identifier), ZHASADJUSTMENTS,
 *   ZSAVEDASSETTYPE (6 = iCloud Photo Library asset), ZVISIBILITYSTATE, ZADDITIONALATTRIBUTES: Koenig's
 *   iOS12–iOS17 album queries; iLEAPP Ph002BasicAssetandAlbumData.py, Ph004Hidden, Ph008.
 * - `ZADDITIONALASSETATTRIBUTES` (ZASSET back-link, ZTITLE, ZACCESSIBILITYDESCRIPTION, ZORIGINALFILENAME,
 *   ZASSETDESCRIPTION) and `ZASSETDESCRIPTION.ZLONGDESCRIPTION` (the caption): iLEAPP
 *   Ph011KwrdsCapsTitlesDescripsBasicAssetData.py; Koenig iOS12–17 album queries.
 * - `ZINTERNALRESOURCE` (ZASSET, ZDATASTORESUBTYPE 1 = original, ZLOCALAVAILABILITY 1 = on the device /
 *   −1 = not, ZRESOURCETYPE 3 = Live Photo video): iLEAPP Ph051PossOptimizedAssetsIntResouData.py (iOS 14–18);
 *   theforensicscooter.com 2022-12-03 "Photos.sqlite ZINTERNALRESOURCE table reference guide".
 * - `ZGENERICALBUM` (Z_PK, ZTITLE, ZKIND 2 = user album, 1505 = shared album, 4000 = folder, ZTRASHEDSTATE,
 *   ZUUID, ZPARENTFOLDER): iLEAPP Ph002 / Ph25SWYConvAlbumsNAD.py; osxphotos `_constants.py`.
 * - The album ↔ asset many-to-many table follows Core Data's naming, `Z_<albumEnt>ASSETS` with columns
 *   `Z_<albumEnt>ALBUMS` and `Z_<assetEnt>ASSETS` (+ `Z_FOK_<assetEnt>ASSETS`, the order key): Z_20ASSETS
 *   (iOS 11), Z_23ASSETS (12), Z_26ASSETS/Z_34ASSETS (13), Z_26ASSETS/Z_3ASSETS (14), Z_27ASSETS (15),
 *   Z_28ASSETS (16–17.5), Z_29ASSETS (17.6+), Z_30ASSETS (18): iLEAPP Ph002 and Ph25, Koenig iOS12–17
 *   album queries, osxphotos `_DB_TABLE_NAMES`. So it is discovered, not hard-coded.
 * Every optional column is looked up with pragma_table_info (as iLEAPP does), because a phone upgraded to a
 * newer iOS can carry a database that was not fully migrated.
 */
import type { PhotoDb } from './sqlite.ts';

/** Album membership table, as discovered. */
export interface JoinTable {
  table: string;
  albumCol: string;
  assetCol: string;
  /** Order key column (Z_FOK_<n>ASSETS), when present. */
  orderCol?: string;
}

/** What {@link detectSchema} found in a database that the reader understands. */
export interface LibrarySchema {
  assetTable: 'ZASSET' | 'ZGENERICASSET';
  /** Columns of the asset table (optional ones are read only when present). */
  assetCols: Set<string>;
  /** ZADDITIONALASSETATTRIBUTES columns, or undefined when the table is absent. */
  attrCols?: Set<string>;
  /** ZASSETDESCRIPTION present with ZLONGDESCRIPTION. */
  captions: boolean;
  /** ZINTERNALRESOURCE columns, or undefined when absent (then local availability is known only from files). */
  resourceCols?: Set<string>;
  /** ZGENERICALBUM columns, or undefined when absent. */
  albumCols?: Set<string>;
  join?: JoinTable;
  /** Human label of the layout, e.g. "iOS 16–17.5 (ZASSET, Z_28ASSETS)". */
  label: string;
}

/** The reasons a database is not understood (the backup then uses the file-only inventory). */
export type UnknownSchema = { unknown: true; reason: string };

/** Columns without which an asset cannot be mapped to a file. */
const REQUIRED_ASSET_COLS = ['Z_PK', 'ZDIRECTORY', 'ZFILENAME'];

/** Join-table number → the iOS versions documented with it (see the header). */
const JOIN_LABELS: Record<string, string> = {
  Z_20ASSETS: 'iOS 11',
  Z_23ASSETS: 'iOS 12',
  Z_27ASSETS: 'iOS 15',
  Z_28ASSETS: 'iOS 16–17.5',
  Z_29ASSETS: 'iOS 17.6+',
  Z_30ASSETS: 'iOS 18',
};

/**
 * Finds the album ↔ asset table: a table `Z_<n>ASSETS` with a column `Z_<n>ALBUMS` and a column
 * `Z_<m>ASSETS` (not `Z_FOK_…`). `Z_<n>KEYASSETS` (album key photos on iOS 18) does not match the name
 * pattern. When several match, the one whose asset number equals the asset rows' Z_ENT wins.
 */
export function findJoinTable(db: PhotoDb, tables: Set<string>, assetTable: string, assetCols: Set<string>): JoinTable | undefined {
  const found: JoinTable[] = [];
  for (const t of [...tables].sort()) {
    const m = /^Z_(\d+)ASSETS$/.exec(t);
    if (!m) continue;
    const cols = db.columns(t);
    const albumCol = `Z_${m[1]}ALBUMS`;
    const assetCol = [...cols].find((c) => /^Z_\d+ASSETS$/.test(c));
    if (!cols.has(albumCol) || !assetCol) continue;
    const fok = `Z_FOK_${assetCol.slice(2)}`;
    found.push({ table: t, albumCol, assetCol, ...(cols.has(fok) ? { orderCol: fok } : {}) });
  }
  if (found.length <= 1) return found[0];
  if (assetCols.has('Z_ENT')) {
    const ent = db.get(`SELECT Z_ENT AS e FROM ${assetTable} LIMIT 1`)?.['e'];
    const hit = found.find((j) => j.assetCol === `Z_${String(ent)}ASSETS`);
    if (hit) return hit;
  }
  return found[0];
}

/** Reads the schema of an open Photos.sqlite copy. Never throws for an unexpected schema: returns UnknownSchema. */
export function detectSchema(db: PhotoDb): LibrarySchema | UnknownSchema {
  const tables = db.tables();
  const assetTable = tables.has('ZASSET') ? 'ZASSET' : tables.has('ZGENERICASSET') ? 'ZGENERICASSET' : undefined;
  if (!assetTable) {
    return { unknown: true, reason: `no ZASSET or ZGENERICASSET table (${tables.size} tables): not a Photos library layout this version knows` };
  }
  const assetCols = db.columns(assetTable);
  const missing = REQUIRED_ASSET_COLS.filter((c) => !assetCols.has(c));
  if (missing.length > 0) return { unknown: true, reason: `${assetTable} lacks ${missing.join(', ')}` };
  const has = (t: string): Set<string> | undefined => (tables.has(t) ? db.columns(t) : undefined);
  const attrCols = has('ZADDITIONALASSETATTRIBUTES');
  const descCols = has('ZASSETDESCRIPTION');
  const resourceCols = has('ZINTERNALRESOURCE');
  const albumCols = has('ZGENERICALBUM');
  const join = albumCols?.has('Z_PK') ? findJoinTable(db, tables, assetTable, assetCols) : undefined;
  let label: string;
  if (join?.table === 'Z_26ASSETS') label = assetTable === 'ZASSET' ? 'iOS 14' : 'iOS 13';
  else label = (join && JOIN_LABELS[join.table]) ?? (assetTable === 'ZGENERICASSET' ? 'iOS 11–13' : 'iOS 14+');
  label += ` (${assetTable}${join ? `, ${join.table}` : ', no album table'})`;
  return {
    assetTable,
    assetCols,
    ...(attrCols ? { attrCols } : {}),
    captions: !!(attrCols?.has('ZASSETDESCRIPTION') && descCols?.has('ZLONGDESCRIPTION') && descCols.has('Z_PK')),
    ...(resourceCols?.has('ZASSET') && resourceCols.has('ZLOCALAVAILABILITY') ? { resourceCols } : {}),
    ...(albumCols ? { albumCols } : {}),
    ...(join ? { join } : {}),
    label,
  };
}
