import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from './store.test-helper.js'
import { flushMicrotasks, ManualClock, silentLogger, type Logger } from '../shared/index.js'
import { openStore, type RequestUsage, type Store } from './index.js'

let dir: string
let cleanup: () => void
const opened: Store[] = []
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => {
  for (const s of opened.splice(0)) s.close()
  cleanup()
})

function open(clock = new ManualClock(Date.UTC(2026, 0, 15)), logger: Logger = silentLogger) {
  const store = openStore({
    dataDir: dir,
    clock,
    logger,
    requestUsage: { batchSize: 100, flushIntervalMs: 5000 },
  })
  opened.push(store)
  return { store, clock }
}

const entry = (i: number, overrides: Partial<RequestUsage> = {}): RequestUsage => ({
  keyId: i % 2 ? 'k1' : 'k2',
  route: '/api/chat',
  model: i % 3 ? 'qwen2.5:0.5b' : 'llama3.2',
  promptTokens: 10,
  evalTokens: 20,
  status: 200,
  durationMs: 123.4,
  ...overrides,
})

/** What another process sees in the database file. */
function onDisk(): number {
  const db = new Database(`${dir}/exollama.db`, { readonly: true })
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM usage_requests').get() as { n: number }).n
  } finally {
    db.close()
  }
}

describe('request usage', () => {
  it('is not written per request: the buffer goes to disk on size, on the timer and on close', async () => {
    const { store, clock } = open()
    for (let i = 0; i < 99; i++) store.requests.record(entry(i))
    expect(onDisk()).toBe(0)
    expect(store.requests.stats()).toMatchObject({
      recorded: 99,
      written: 0,
      flushes: 0,
      pending: 99,
    })

    store.requests.record(entry(99)) // reaches the batch size: flushed off the request path
    expect(onDisk()).toBe(0)
    await flushMicrotasks()
    expect(onDisk()).toBe(100)
    expect(store.requests.stats()).toMatchObject({ written: 100, flushes: 1, pending: 0 })

    for (let i = 0; i < 7; i++) store.requests.record(entry(i))
    await clock.advance(4999)
    expect(onDisk()).toBe(100)
    await clock.advance(1)
    expect(onDisk()).toBe(107)
    expect(store.requests.stats().flushes).toBe(2)

    store.requests.record(entry(1))
    store.requests.record(entry(2))
    store.close()
    expect(onDisk()).toBe(109)
  })

  it('turns 1000 requests into about 1000 / batch size writes', async () => {
    const { store } = open()
    for (let i = 0; i < 1000; i++) {
      store.requests.record(entry(i))
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await flushMicrotasks()
    expect(store.requests.stats()).toMatchObject({ recorded: 1000, written: 1000, flushes: 10 })
    expect(onDisk()).toBe(1000)
  })

  it('sums requests and tokens by key and model', async () => {
    const { store, clock } = open()
    store.requests.record(entry(1, { promptTokens: 5, evalTokens: 7 }))
    store.requests.record(entry(5, { promptTokens: 1, evalTokens: null }))
    await clock.advance(1000)
    const later = clock.now()
    store.requests.record(
      entry(2, { keyId: null, model: null, status: 401, promptTokens: null, evalTokens: null }),
    )
    const totals = store.requests.totals()
    expect(totals).toMatchObject({ requests: 3, promptTokens: 6, evalTokens: 7 })
    expect(totals.byKey).toEqual([
      { keyId: 'k1', requests: 2, promptTokens: 6, evalTokens: 7 },
      { keyId: null, requests: 1, promptTokens: 0, evalTokens: 0 },
    ])
    expect(totals.byModel[0]).toMatchObject({ model: 'qwen2.5:0.5b', requests: 2 })
    expect(store.requests.totals({ since: later }).requests).toBe(1)
    expect(store.requests.totals({ keyId: 'k1', until: later }).requests).toBe(2)
    expect(store.requests.prune(later)).toBe(2)
    expect(store.requests.totals().requests).toBe(1)
  })

  it('keeps entries and retries when a write fails', () => {
    const warnings: string[] = []
    const logger: Logger = {
      ...silentLogger,
      warn: ((_o: unknown, msg?: string) => warnings.push(String(msg))) as Logger['warn'],
    }
    const { store } = open(undefined, logger)
    const other = new Database(`${dir}/exollama.db`)
    const ddl = (
      other.prepare(`SELECT sql FROM sqlite_master WHERE name = 'usage_requests'`).get() as {
        sql: string
      }
    ).sql
    other.exec('DROP TABLE usage_requests')
    store.requests.record(entry(1))
    expect(store.requests.flush()).toBe(0)
    expect(store.requests.stats()).toMatchObject({ pending: 1, written: 0 })
    expect(warnings).toEqual(['could not write request usage; will retry'])
    other.exec(ddl)
    other.close()
    expect(store.requests.flush()).toBe(1)
    expect(onDisk()).toBe(1)
  })
})
