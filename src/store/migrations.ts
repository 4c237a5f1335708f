import { SchemaTooNewError } from './errors.js'
import { immediate, type Db } from './sqlite.js'

/** One schema step. Never edit a released migration: add a new one. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

/**
 * The schema history, in code. Times are UNIX milliseconds (INTEGER); tables are STRICT so a
 * wrong type is an error instead of a silent conversion.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core: leases, intents, instances, lifecycle events',
    sql: `
      CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        owner       TEXT,
        fencing     INTEGER NOT NULL,
        acquired_at INTEGER,
        expires_at  INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE intents (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'created', 'abandoned')),
        fencing         INTEGER NOT NULL,
        zone            TEXT NOT NULL,
        instance_type   TEXT NOT NULL,
        template        TEXT NOT NULL,
        operation_id    TEXT,
        instance_id     TEXT,
        tls_cert_pem    TEXT,
        tls_fingerprint TEXT,
        ollama_key      TEXT,
        tls_key_pem     TEXT,
        reason          TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX intents_by_name_state ON intents (name, state);

      CREATE TABLE instances (
        name            TEXT PRIMARY KEY,
        instance_id     TEXT NOT NULL,
        intent_id       TEXT REFERENCES intents (id) ON DELETE SET NULL,
        zone            TEXT NOT NULL,
        instance_type   TEXT NOT NULL,
        template        TEXT NOT NULL,
        ip              TEXT,
        state           TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        started_at      INTEGER,
        tls_cert_pem    TEXT NOT NULL,
        tls_fingerprint TEXT NOT NULL,
        ollama_key      TEXT NOT NULL,
        tls_key_pem     TEXT NOT NULL,
        ollama_version  TEXT,
        updated_at      INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        ts          INTEGER NOT NULL,
        name        TEXT,
        type        TEXT NOT NULL,
        phase       TEXT,
        duration_ms INTEGER,
        actor       TEXT,
        reason      TEXT,
        message     TEXT NOT NULL,
        error_code  TEXT,
        instance_id TEXT,
        data        TEXT
      ) STRICT;
      CREATE INDEX events_by_ts ON events (ts);
    `,
  },
  {
    version: 2,
    name: 'usage ledger, request usage, client API keys, metadata cache',
    sql: `
      CREATE TABLE usage_sessions (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_id     TEXT NOT NULL,
        instance_type   TEXT NOT NULL,
        started_at      INTEGER NOT NULL,
        accounted_until INTEGER NOT NULL,
        ended_at        INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX usage_sessions_open ON usage_sessions (instance_id) WHERE ended_at IS NULL;

      CREATE TABLE usage_daily (
        day           TEXT NOT NULL,
        instance_type TEXT NOT NULL,
        running_ms    INTEGER NOT NULL,
        PRIMARY KEY (day, instance_type)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE usage_requests (
        id            INTEGER PRIMARY KEY,
        ts            INTEGER NOT NULL,
        key_id        TEXT,
        route         TEXT NOT NULL,
        model         TEXT,
        prompt_tokens INTEGER,
        eval_tokens   INTEGER,
        status        INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        instance_id   TEXT
      ) STRICT;
      CREATE INDEX usage_requests_by_ts ON usage_requests (ts);

      CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        hash       BLOB NOT NULL UNIQUE,
        scopes     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;

      CREATE TABLE metadata_cache (
        route      TEXT PRIMARY KEY,
        body       TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
]

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0

/** The schema version of a database (0 for an empty one). */
export function schemaVersion(db: Db): number {
  const table = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`)
    .get()
  if (!table) return 0
  const row = db.prepare('SELECT MAX(version) AS v FROM migrations').get() as { v: number | null }
  return row.v ?? 0
}

/**
 * Brings the schema up to `target` (default: the newest), inside one BEGIN IMMEDIATE
 * transaction, so two processes opening a fresh file at once apply each step exactly once.
 * Idempotent. Refuses a database newer than this code.
 */
export function migrate(
  db: Db,
  now: number,
  target: number = SCHEMA_VERSION,
): { from: number; to: number } {
  return immediate(db, () => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at INTEGER NOT NULL
      ) STRICT
    `)
    const from = schemaVersion(db)
    if (from > SCHEMA_VERSION) throw new SchemaTooNewError(db.name, from, SCHEMA_VERSION)
    const record = db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)')
    let to = from
    for (const migration of MIGRATIONS) {
      if (migration.version <= from || migration.version > target) continue
      db.exec(migration.sql)
      record.run(migration.version, migration.name, now)
      to = migration.version
    }
    return { from, to }
  })
}
