import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir } from './store.test-helper.js'
import { ManualClock } from '../shared/index.js'
import { openStore, type Store } from './index.js'

let dir: string
let cleanup: () => void
const opened: Store[] = []
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => {
  for (const s of opened.splice(0)) s.close()
  cleanup()
})

const clock = new ManualClock(Date.UTC(2026, 0, 15))
function open(): Store {
  const store = openStore({ dataDir: dir, clock })
  opened.push(store)
  return store
}
/** What a freshly started gateway would read. */
function fromDisk(route: '/api/tags') {
  const store = openStore({ dataDir: dir, clock })
  try {
    return store.metadata.get(route)
  } finally {
    store.close()
  }
}

describe('the metadata cache', () => {
  it('keeps the last answer per route across restarts', () => {
    const store = open()
    expect(store.metadata.get('/api/tags')).toBeNull()
    const tags = { models: [{ name: 'qwen2.5:0.5b', size: 397821319 }] }
    store.metadata.put('/api/tags', tags)
    store.metadata.put('/v1/models', { object: 'list', data: [] })
    tags.models.push({ name: 'mutated-after-put', size: 0 })
    expect(store.metadata.get('/api/tags')?.body).toEqual({
      models: [{ name: 'qwen2.5:0.5b', size: 397821319 }],
    })
    expect(fromDisk('/api/tags')).toEqual({
      route: '/api/tags',
      body: { models: [{ name: 'qwen2.5:0.5b', size: 397821319 }] },
      fetchedAt: clock.now(),
    })
  })

  it('does not rewrite an unchanged answer on every poll, but does write a changed one', async () => {
    const store = open()
    const first = clock.now()
    store.metadata.put('/api/tags', { models: [] })
    await clock.advance(60_000)
    store.metadata.put('/api/tags', { models: [] })
    expect(store.metadata.get('/api/tags')?.fetchedAt).toBe(clock.now())
    expect(fromDisk('/api/tags')?.fetchedAt).toBe(first)
    await clock.advance(300_000)
    store.metadata.put('/api/tags', { models: [] })
    expect(fromDisk('/api/tags')?.fetchedAt).toBe(clock.now())
    await clock.advance(1000)
    store.metadata.put('/api/tags', { models: [{ name: 'new' }] })
    expect(fromDisk('/api/tags')).toMatchObject({
      body: { models: [{ name: 'new' }] },
      fetchedAt: clock.now(),
    })
  })

  it('can be cleared', () => {
    const store = open()
    store.metadata.put('/api/tags', { models: [] })
    store.metadata.put('/api/ps', { models: [] })
    store.metadata.clear('/api/tags')
    expect(store.metadata.get('/api/tags')).toBeNull()
    expect(store.metadata.get('/api/ps')).not.toBeNull()
    store.metadata.clear()
    expect(fromDisk('/api/tags')).toBeNull()
  })
})
