import { afterEach, describe, expect, it } from 'vitest'
import { memoryStore } from './store.test-helper.js'
import type { ManualClock } from '../shared/index.js'
import type { LifecycleEvent, Store } from './index.js'

let store: Store
let clock: ManualClock
afterEach(() => store?.close())

describe('lifecycle events', () => {
  it('are appended with growing ids and all their fields', () => {
    ;({ store, clock } = memoryStore())
    const wake = store.events.append({
      type: 'wake',
      name: 'exollama',
      actor: 'request /api/chat from key k1',
      reason: 'wake by request',
      message: 'waking the instance\nfor a held request',
    })
    const ready = store.events.append({
      type: 'ready',
      phase: 'ready',
      durationMs: 84_321.6,
      message: 'instance ready',
      instanceId: 'i-1',
      data: { models: ['qwen2.5:0.5b'] },
    })
    const failed = store.events.append({
      type: 'error',
      message: 'boot failed',
      errorCode: 'boot_failed',
    })
    expect(ready.id).toBeGreaterThan(wake.id)
    expect(failed.id).toBeGreaterThan(ready.id)
    expect(wake).toMatchObject({
      ts: clock.now(),
      actor: 'request /api/chat from key k1',
      message: 'waking the instance for a held request',
      phase: null,
    })
    const page = store.events.list()
    expect(page.events).toEqual([wake, ready, failed])
    expect(page.events[1]).toMatchObject({ durationMs: 84_322, data: { models: ['qwen2.5:0.5b'] } })
    expect(page.events[2]?.errorCode).toBe('boot_failed')
    expect(store.events.latestId()).toBe(failed.id)
  })

  it('can be followed from a cursor, as logs -f and SSE do', () => {
    ;({ store, clock } = memoryStore())
    let cursor = store.events.list().cursor ?? 0
    expect(cursor).toBe(0)
    const seen: string[] = []
    for (let round = 0; round < 3; round++) {
      store.events.append({ type: 'boot', message: `step ${round}a` })
      store.events.append({ type: 'boot', message: `step ${round}b` })
      const page = store.events.list({ afterId: cursor, limit: 1000 })
      seen.push(...page.events.map((e) => e.message))
      cursor = page.cursor ?? cursor
    }
    expect(seen).toEqual(['step 0a', 'step 0b', 'step 1a', 'step 1b', 'step 2a', 'step 2b'])
    expect(store.events.list({ afterId: cursor }).events).toEqual([])
    expect(store.events.list({ afterId: cursor }).cursor).toBe(cursor)
  })

  it('filter by type, name, time and page newest first', async () => {
    ;({ store, clock } = memoryStore())
    const start = clock.now()
    for (let i = 0; i < 10; i++) {
      store.events.append({
        type: i % 2 ? 'idle' : 'wake',
        name: i < 5 ? 'a' : 'b',
        message: `e${i}`,
      })
      await clock.advance(1000)
    }
    const text = (events: readonly LifecycleEvent[]) => events.map((e) => e.message)
    expect(text(store.events.list({ types: ['idle'] }).events)).toEqual([
      'e1',
      'e3',
      'e5',
      'e7',
      'e9',
    ])
    expect(text(store.events.list({ name: 'b', types: ['wake', 'idle'] }).events)).toEqual([
      'e5',
      'e6',
      'e7',
      'e8',
      'e9',
    ])
    expect(text(store.events.list({ since: start + 3000, until: start + 6000 }).events)).toEqual([
      'e3',
      'e4',
      'e5',
    ])
    const newest = store.events.list({ order: 'desc', limit: 4 })
    expect(text(newest.events)).toEqual(['e9', 'e8', 'e7', 'e6'])
    const older = store.events.list({ order: 'desc', limit: 4, beforeId: newest.cursor! })
    expect(text(older.events)).toEqual(['e5', 'e4', 'e3', 'e2'])
  })

  it('notify in-process listeners and stop after unsubscribe', () => {
    ;({ store, clock } = memoryStore())
    const got: number[] = []
    const off = store.events.onAppend((e) => got.push(e.id))
    const first = store.events.append({ type: 'x', message: '1' })
    off()
    store.events.append({ type: 'x', message: '2' })
    expect(got).toEqual([first.id])
  })

  it('prune old events without ever reusing ids', async () => {
    ;({ store, clock } = memoryStore())
    store.events.append({ type: 'x', message: 'old' })
    const lastOld = store.events.append({ type: 'x', message: 'old' })
    await clock.advance(10_000)
    const cutoff = clock.now()
    store.events.append({ type: 'x', message: 'new' })
    expect(store.events.prune(cutoff)).toBe(2)
    store.events.prune(Number.MAX_SAFE_INTEGER)
    const after = store.events.append({ type: 'x', message: 'after' })
    expect(after.id).toBeGreaterThan(lastOld.id + 1)
    expect(store.events.list().events.map((e) => e.message)).toEqual(['after'])
  })
})
