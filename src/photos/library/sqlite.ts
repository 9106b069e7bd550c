/**
 * A read-only SQLite reader for a local copy of Photos.sqlite (+ -wal), through node-sqlite3-wasm.
 *
 * Why this library (see also README "Dependencies"): Node 20 has no `node:sqlite` (added in 22.5 behind a
 * flag, unflagged in 22.13/23.4). node-sqlite3-wasm is SQLite compiled to WebAssembly with a VFS over
 * `node:fs`: no native code, no install script, one artifact for every Node version and platform, and it reads
 * page by page (RSS stays ~90 MB on a 200 MB database; sql.js would load the whole file into memory and cannot
 * see the WAL at all). It writes too, which the virtual iPhone uses to build its Photos.sqlite.
 *
 * WAL hazards, each verified (notes/library-research.md §4):
 * - the rows the phone has not checkpointed yet live only in `Photos.sqlite-wal`: without it every reader
 *   returns stale data *without an error*, so the caller must copy the -wal next to the database;
 * - this VFS has no shared memory, so WAL is only readable in exclusive locking mode, which must be set
 *   before the first read (`PRAGMA locking_mode=EXCLUSIVE`; sqlite.org wal.html "noshm");
 * - a read-write connection checkpoints and deletes the -wal on close, so the copy is opened read-only
 *   (the files stay byte-identical), and it must sit in a writable folder (the VFS locks with `mkdir <db>.lock`).
 * Statements are finalized explicitly (the WASM heap is not garbage-collected).
 */
import { SqliteDatabase as Database, type SqliteDatabase, type SqliteStatement as Statement } from '../../core/sqlite-wasm.ts';
import { LibraryError } from './errors.ts';

/** A value SQLite returns. */
export type SqlValue = number | bigint | string | Uint8Array | null;
/** One result row, by column name. */
export type SqlRow = Record<string, SqlValue>;

/** A read-only connection to a local database copy. */
export class PhotoDb {
  readonly #db: SqliteDatabase;
  #open = true;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /**
   * Opens `path` read-only in exclusive locking mode (so an un-checkpointed `path-wal` is read).
   * @throws LibraryError (ERR_PHOTOS_LIBRARY) when it is not a readable SQLite database
   */
  static open(path: string): PhotoDb {
    let db: SqliteDatabase;
    try {
      db = new Database(path, { readOnly: true, fileMustExist: true });
    } catch (e) {
      throw new LibraryError(`cannot open ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const pdb = new PhotoDb(db);
    try {
      pdb.get('PRAGMA locking_mode=EXCLUSIVE');
      pdb.get('SELECT count(*) AS n FROM sqlite_master'); // fails here for a file that is not a database
    } catch (e) {
      pdb.close();
      throw e;
    }
    return pdb;
  }

  #wrap<T>(sql: string, fn: () => T): T {
    if (!this.#open) throw new LibraryError('the database is closed');
    try {
      return fn();
    } catch (e) {
      if (e instanceof LibraryError) throw e;
      throw new LibraryError(`query failed (${sql.slice(0, 80)}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** The first row of a query, or undefined. @throws LibraryError (ERR_PHOTOS_LIBRARY) */
  get(sql: string, params: SqlValue[] = []): SqlRow | undefined {
    return this.#wrap(sql, () => (this.#db.get(sql, params) as SqlRow | null) ?? undefined);
  }

  /** All rows of a small query (table lists, column lists). @throws LibraryError (ERR_PHOTOS_LIBRARY) */
  all(sql: string, params: SqlValue[] = []): SqlRow[] {
    return this.#wrap(sql, () => this.#db.all(sql, params) as SqlRow[]);
  }

  /**
   * Calls `fn` for each row without holding the result set in memory; the statement is finalized even when
   * `fn` throws. Returns the number of rows. @throws LibraryError (ERR_PHOTOS_LIBRARY)
   */
  each(sql: string, params: SqlValue[], fn: (row: SqlRow) => void): number {
    let st: Statement | undefined;
    let n = 0;
    try {
      st = this.#wrap(sql, () => this.#db.prepare(sql));
      const it = this.#wrap(sql, () => st!.iterate(params));
      for (;;) {
        const r = this.#wrap(sql, () => it.next());
        if (r.done) break;
        n++;
        fn(r.value as SqlRow);
      }
      return n;
    } finally {
      st?.finalize();
    }
  }

  /** Table names (type 'table'). */
  tables(): Set<string> {
    return new Set(this.all("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => String(r['name'])));
  }

  /** Column names of `table` (empty when the table does not exist). */
  columns(table: string): Set<string> {
    return new Set(this.all('SELECT name FROM pragma_table_info(?)', [table]).map((r) => String(r['name'])));
  }

  /** `PRAGMA quick_check` result: 'ok' or the first problems SQLite reports. */
  quickCheck(): string {
    return this.all('PRAGMA quick_check(5)').map((r) => String(Object.values(r)[0])).join('; ');
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#db.close();
    } catch {
      // closing a read-only connection cannot lose data
    }
  }
}
