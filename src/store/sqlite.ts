import Database from 'better-sqlite3'
import { isExollamaError } from '../shared/index.js'
import { StoreError } from './errors.js'

/**
 * The one place that knows the driver (better-sqlite3). Everything else in src/store goes
 * through `Db` and `immediate`; nothing outside src/store sees either.
 */
export type Db = Database.Database

/** How long a writer waits for another process's write lock before giving up (≥ 5 s). */
export const BUSY_TIMEOUT_MS = 15_000

/**
 * Opens the database with the pragmas the store relies on:
 * - `journal_mode=WAL`: readers never block the writer and vice versa; processes on one host
 *   share the file safely (not over a network filesystem).
 * - `busy_timeout`: a writer waits for another process's lock instead of failing at once.
 * - `synchronous=FULL` for every connection, not only for intent and lease writes: each commit
 *   is fsynced, so an intent recorded before `POST /instance` survives a power loss. The store
 *   writes rarely (usage is batched, events come a few per lifecycle step), so FULL costs nothing
 *   measurable, and one global setting cannot be forgotten on some write path (synchronous
 *   cannot change inside a transaction, so per-write switching would be fragile).
 * - `foreign_keys=ON`.
 */
export function openDatabase(file: string): Db {
  let db: Db
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS })
  } catch (error) {
    throw new StoreError(
      'store_open_failed',
      `cannot open the store ${file} (${(error as { code?: string }).code ?? 'error'}); check EXOLLAMA_DATA_DIR`,
      error,
    )
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    if (file !== ':memory:') {
      const mode = db.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') {
        throw new StoreError(
          'store_open_failed',
          `the store ${file} cannot use WAL mode (got ${String(mode)}); put EXOLLAMA_DATA_DIR on a local disk`,
        )
      }
    }
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
  } catch (error) {
    db.close()
    throw wrapSqliteError(error, file)
  }
  return db
}

/** The pragmas in force, for startup checks and tests. */
export interface StorePragmas {
  journalMode: string
  synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'
  busyTimeoutMs: number
  foreignKeys: boolean
}

export function readPragmas(db: Db): StorePragmas {
  const sync = Number(db.pragma('synchronous', { simple: true }))
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    synchronous: (['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const)[sync] ?? 'OFF',
    busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
    foreignKeys: Number(db.pragma('foreign_keys', { simple: true })) === 1,
  }
}

/**
 * Runs `fn` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so a
 * read-modify-write never has to upgrade a read lock (the case where SQLite returns SQLITE_BUSY
 * without calling the busy handler). Nested calls become savepoints.
 */
export function immediate<T>(db: Db, fn: () => T): T {
  try {
    return db.transaction(fn).immediate()
  } catch (error) {
    throw wrapSqliteError(error, db.name)
  }
}

/** Runs a single statement (its own implicit transaction), mapping driver errors. */
export function run<T>(db: Db, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    throw wrapSqliteError(error, db.name)
  }
}

/** Turns driver errors into StoreErrors; our own typed errors pass through. */
export function wrapSqliteError(error: unknown, file: string): unknown {
  if (isExollamaError(error)) return error
  if (error instanceof Database.SqliteError) {
    if (error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED')) {
      return new StoreError(
        'store_busy',
        `the store ${file} stayed locked by another exollama process for ${BUSY_TIMEOUT_MS / 1000} s; try again`,
        error,
      )
    }
    return new StoreError('store_failed', `the store ${file} failed (${error.code})`, error)
  }
  return error
}
