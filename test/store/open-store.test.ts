import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock, silentLogger, type Logger } from '../../src/shared/index.js'
import { InsecurePermissionsError } from '../../src/shared/secure-fs.js'
import { openStore, StoreInputError } from '../../src/store/index.js'
import { sampleInstance, tempDir } from '../../src/store/store.test-helper.js'

let dir: string
let cleanup: () => void
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => cleanup())

const clock = new ManualClock(Date.UTC(2026, 0, 15))
const mode = (p: string) => statSync(p).mode & 0o777

function capturingLogger(): {
  logger: Logger
  warnings: { obj: unknown; msg: string | undefined }[]
} {
  const warnings: { obj: unknown; msg: string | undefined }[] = []
  const logger: Logger = {
    ...silentLogger,
    warn: ((obj: unknown, msg?: string) => warnings.push({ obj, msg })) as Logger['warn'],
    child: () => logger,
  }
  return { logger, warnings }
}

describe('openStore', () => {
  it('creates a 0600 store (and 0600 WAL files) in a 0700 data directory, even with umask 000', () => {
    const dataDir = path.join(dir, 'new', 'data')
    const previous = process.umask(0o000)
    try {
      const store = openStore({ dataDir, clock })
      store.instances.save(sampleInstance())
      store.events.append({ type: 'x', message: 'y' })
      expect(store.path).toBe(path.join(dataDir, 'exollama.db'))
      expect(mode(dataDir)).toBe(0o700)
      for (const name of readdirSync(dataDir))
        expect(mode(path.join(dataDir, name)), name).toBe(0o600)
      expect(readdirSync(dataDir).sort()).toEqual([
        'exollama.db',
        'exollama.db-shm',
        'exollama.db-wal',
      ])
      store.close()
    } finally {
      process.umask(previous)
    }
  })

  it('runs with WAL, synchronous=FULL, a busy timeout of at least 5 s and foreign keys', () => {
    const store = openStore({ dataDir: dir, clock })
    const health = store.health()
    expect(health.pragmas).toEqual({
      journalMode: 'wal',
      synchronous: 'FULL',
      busyTimeoutMs: 15_000,
      foreignKeys: true,
    })
    expect(health.integrity).toBe('ok')
    expect(health.schemaVersion).toBe(2)
    store.close()
  })

  it('fixes a 0644 store file and a 0755 data directory, with a warning for each', () => {
    openStore({ dataDir: dir, clock }).close()
    const file = path.join(dir, 'exollama.db')
    chmodSync(file, 0o644)
    chmodSync(dir, 0o755)
    const { logger, warnings } = capturingLogger()
    const store = openStore({ dataDir: dir, clock, logger })
    store.close()
    expect(mode(file)).toBe(0o600)
    expect(mode(dir)).toBe(0o700)
    expect(warnings.map((w) => w.obj)).toEqual([
      { path: dir, from: '0755', to: '0700' },
      { path: file, from: '0644', to: '0600' },
    ])
  })

  it('refuses a 0644 store file when told to, leaving it as it is', () => {
    openStore({ dataDir: dir, clock }).close()
    const file = path.join(dir, 'exollama.db')
    chmodSync(file, 0o644)
    expect(() => openStore({ dataDir: dir, clock, tooOpen: 'refuse' })).toThrow(
      InsecurePermissionsError,
    )
    expect(() => openStore({ dataDir: dir, clock, tooOpen: 'refuse' })).toThrow(/run "chmod 0600/)
    expect(mode(file)).toBe(0o644)
  })

  it('takes an explicit path, creating its directory 0700, and only warns about a shared one', () => {
    const file = path.join(dir, 'custom', 'state.db')
    const store = openStore({ path: file, clock })
    expect(mode(path.dirname(file))).toBe(0o700)
    expect(mode(file)).toBe(0o600)
    store.close()

    const shared = path.join(dir, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o755)
    const { logger, warnings } = capturingLogger()
    openStore({ path: path.join(shared, 'x.db'), clock, logger }).close()
    expect(mode(shared)).toBe(0o755)
    expect(warnings.map((w) => w.msg)).toEqual(['the store directory is accessible to other users'])
  })

  it('needs exactly one of dataDir and path', () => {
    expect(() => openStore({ clock })).toThrow(StoreInputError)
    expect(() => openStore({ dataDir: dir, path: ':memory:', clock })).toThrow(
      /exactly one of dataDir and path/,
    )
  })

  it('opens an in-memory store that writes no files', () => {
    const store = openStore({ path: ':memory:', clock })
    expect(store.path).toBe(':memory:')
    store.events.append({ type: 'x', message: 'y' })
    expect(store.health().pragmas.synchronous).toBe('FULL')
    store.close()
    expect(readdirSync(dir)).toEqual([])
  })

  it('closes once, flushing buffered usage first', () => {
    const store = openStore({ dataDir: dir, clock, requestUsage: { batchSize: 1000 } })
    store.requests.record({
      keyId: 'k1',
      route: '/api/generate',
      model: 'm',
      promptTokens: 1,
      evalTokens: 2,
      status: 200,
      durationMs: 5,
    })
    store.close()
    store.close()
    expect(() => store.events.list()).toThrow()
    const again = openStore({ dataDir: dir, clock })
    expect(again.requests.totals()).toMatchObject({ requests: 1, evalTokens: 2 })
    again.close()
  })

  it('keeps secrets out of inspect and JSON of the store and its records', () => {
    const store = openStore({ dataDir: dir, clock })
    const record = store.instances.save(sampleInstance())
    const { key } = store.apiKeys.create({ name: 'x' })
    for (const text of [
      inspect(store, { depth: 4 }),
      JSON.stringify(record),
      inspect(record),
      JSON.stringify(store.apiKeys.list()),
    ]) {
      expect(text).not.toContain('canary')
      expect(text).not.toContain(key.reveal())
      expect(text).not.toContain('PRIVATE KEY')
    }
    store.close()
  })
})
