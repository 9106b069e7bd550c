/**
 * What the virtual iPhone's Photos app would show, modelled from its Photos.sqlite: an asset whose database row
 * says the original is on the phone (ZINTERNALRESOURCE.ZLOCALAVAILABILITY 1) but whose file is gone is a broken,
 * grey tile. Deleting DCIM files over AFC does exactly that (the database is not told; ifuse issue 38), which the
 * backup's safe-deletion tests use to prove that `--delete-after-import` does not do it silently.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDatabase } from '../core/sqlite-wasm.ts';

/** Paths (below the media root) of the assets the Photos app would show as broken; [] without a database. */
export function brokenPhotos(mediaRoot: string): string[] {
  const db = join(mediaRoot, 'PhotoData', 'Photos.sqlite');
  if (!existsSync(db)) return [];
  // read a copy: opening the live file would leave the VFS's lock folder in PhotoData while AFC clients list it
  const tmp = mkdtempSync(join(tmpdir(), 'vphone-photos-'));
  try {
    copyFileSync(db, join(tmp, 'Photos.sqlite'));
    if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, join(tmp, 'Photos.sqlite-wal'));
    const d = new SqliteDatabase(join(tmp, 'Photos.sqlite'), { readOnly: true });
    try {
      d.get('PRAGMA locking_mode=EXCLUSIVE');
      const table = d.get("SELECT name FROM sqlite_master WHERE name IN ('ZASSET', 'ZGENERICASSET')")?.['name'];
      if (typeof table !== 'string') return [];
      const rows = d.all(`SELECT a.ZDIRECTORY AS dir, a.ZFILENAME AS file FROM ${table} a
        WHERE a.ZTRASHEDSTATE = 0 AND EXISTS (SELECT 1 FROM ZINTERNALRESOURCE r WHERE r.ZASSET = a.Z_PK AND r.ZDATASTORESUBTYPE = 1 AND r.ZLOCALAVAILABILITY = 1)`);
      return rows.map((r) => `${String(r['dir'])}/${String(r['file'])}`).filter((p) => !existsSync(join(mediaRoot, ...p.split('/')))).sort();
    } finally {
      d.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
