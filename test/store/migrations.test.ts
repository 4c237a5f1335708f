import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/shared/index.js'
import { createEventRepository } from '../../src/store/events.js'
import { createInstanceRepository } from '../../src/store/instance-records.js'
import { MIGRATIONS, migrate, schemaVersion } from '../../src/store/migrations.js'
import { openDatabase } from '../../src/store/sqlite.js'
import { openStore, SCHEMA_VERSION, SchemaTooNewError, StoreError } from '../../src/store/index.js'
import { silentLogger } from '../../src/shared/index.js'
import { sampleInstance, tempDir } from '../../src/store/store.test-helper.js'

let dir: string
let cleanup: () => void
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => cleanup())

const clock = new ManualClock(Date.UTC(2026, 0, 15))
const tables = (file: string) => {
  const db = openDatabase(file)
  try {
    return (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as {
        name: string
      }[]
    )
      .map((r) => r.name)
      .filter((n) => !n.startsWith('sqlite_'))
  } finally {
    db.close()
  }
}

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length)
  })

  it('build a fresh store at the newest version and record each step', () => {
    const store = openStore({ dataDir: dir, clock })
    expect(store.schemaVersion).toBe(SCHEMA_VERSION)
    store.close()
    const db = openDatabase(path.join(dir, 'exollama.db'))
    const rows = db
      .prepare('SELECT version, name, applied_at FROM migrations ORDER BY version')
      .all()
    db.close()
    expect(rows).toEqual(
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: clock.now() })),
    )
    expect(tables(path.join(dir, 'exollama.db'))).toEqual([
      'api_keys',
      'events',
      'instances',
      'intents',
      'leases',
      'metadata_cache',
      'migrations',
      'usage_daily',
      'usage_requests',
      'usage_sessions',
    ])
  })

  it('are idempotent', () => {
    const db = openDatabase(':memory:')
    expect(migrate(db, 1)).toEqual({ from: 0, to: SCHEMA_VERSION })
    expect(migrate(db, 2)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION })
    expect((db.prepare('SELECT COUNT(*) AS n FROM migrations').get() as { n: number }).n).toBe(
      SCHEMA_VERSION,
    )
    db.close()
  })

  it('upgrade a v1 store in place, keeping its records', () => {
    const file = path.join(dir, 'exollama.db')
    writeFileSync(file, '', { mode: 0o600 })
    const v1 = openDatabase(file)
    expect(migrate(v1, clock.now(), 1)).toEqual({ from: 0, to: 1 })
    expect(schemaVersion(v1)).toBe(1)
    createInstanceRepository(v1, clock).save(sampleInstance())
    createEventRepository(v1, clock, silentLogger).append({ type: 'ready', message: 'from v1' })
    v1.close()
    expect(tables(file)).not.toContain('api_keys')

    const store = openStore({ dataDir: dir, clock })
    try {
      expect(store.schemaVersion).toBe(2)
      expect(store.instances.get('exollama')?.secrets.ollamaKey.reveal()).toBe(
        'ollama-key-canary-0123456789',
      )
      expect(store.events.list().events.map((e) => e.message)).toEqual(['from v1'])
      // The v2 tables work.
      const { key } = store.apiKeys.create({ name: 'after-upgrade' })
      expect(store.apiKeys.verify(key)?.name).toBe('after-upgrade')
      store.metadata.put('/api/version', { version: '0.32.15' })
      expect(store.requests.totals().requests).toBe(0)
    } finally {
      store.close()
    }
  })

  it('refuse a store written by a newer exollama', () => {
    openStore({ dataDir: dir, clock }).close()
    const db = openDatabase(path.join(dir, 'exollama.db'))
    db.prepare(`INSERT INTO migrations (version, name, applied_at) VALUES (99, 'future', 0)`).run()
    db.close()
    expect(() => openStore({ dataDir: dir, clock })).toThrow(SchemaTooNewError)
    expect(() => openStore({ dataDir: dir, clock })).toThrow(
      /has schema version 99 but this exollama knows only up to 2: upgrade exollama/,
    )
  })

  it('report a file that is not a database clearly', () => {
    writeFileSync(path.join(dir, 'exollama.db'), 'this is not sqlite'.repeat(100), { mode: 0o600 })
    expect(() => openStore({ dataDir: dir, clock })).toThrow(StoreError)
    expect(() => openStore({ dataDir: dir, clock })).toThrow(/failed \(SQLITE_NOTADB\)/)
  })
})
