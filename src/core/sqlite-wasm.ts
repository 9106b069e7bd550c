/**
 * node-sqlite3-wasm, loaded once. It is a CommonJS package whose exports Node's ESM loader cannot detect by
 * name, so it is required; the types come from its own declaration file. Used read-only by the photo-library
 * reader (src/photos/library/sqlite.ts) and read-write by the virtual iPhone's Photos.sqlite writer.
 */
import { createRequire } from 'node:module';
import type * as Nsw from 'node-sqlite3-wasm';

const lib = createRequire(import.meta.url)('node-sqlite3-wasm') as typeof Nsw;

/** The Database class (synchronous API; finalize statements and close explicitly). */
export const SqliteDatabase = lib.Database;
export type SqliteDatabase = Nsw.Database;
export type SqliteStatement = Nsw.Statement;
