import { afterEach, describe, expect, it } from 'vitest'
import { INSTANCE_ID, OTHER_INSTANCE_ID, memoryStore } from './store.test-helper.js'
import { ManualClock } from '../shared/index.js'
import { builtInPriceList, splitByUtcDay, type Store } from './index.js'

let store: Store
let clock: ManualClock
afterEach(() => store?.close())

const HOUR = 3_600_000
const MEDIUM = 0.04666

describe('the price list', () => {
  it('is read from spec/exoscale-prices.json', () => {
    const list = builtInPriceList()
    expect(list.perHourRunning['standard.medium']).toBe(MEDIUM)
    expect(list.perHourRunning['gpua5000.small']).toBe(1.34028)
    expect(list.source).toMatch(/karpenter-provider-exoscale/)
  })
})

describe('splitByUtcDay', () => {
  it('cuts intervals at UTC midnight', () => {
    const start = Date.UTC(2026, 0, 31, 23, 30)
    expect(splitByUtcDay(start, start + 2 * HOUR)).toEqual([
      ['2026-01-31', HOUR / 2],
      ['2026-02-01', (3 * HOUR) / 2],
    ])
    expect(splitByUtcDay(start, start)).toEqual([])
  })
})

describe('the usage ledger', () => {
  it('prices a running session live and after accrual, without double counting', async () => {
    ;({ store, clock } = memoryStore({ clock: new ManualClock(Date.UTC(2026, 2, 10, 8)) }))
    store.usage.startSession({ instanceId: INSTANCE_ID, instanceType: 'standard.medium' })
    await clock.advance(2 * HOUR)
    const live = store.usage.currentSession()
    expect(live).toMatchObject({
      instanceId: INSTANCE_ID,
      runningMs: 2 * HOUR,
      cost: 2 * MEDIUM,
      currency: 'CHF',
    })
    expect(store.usage.monthToDate()).toMatchObject({ runningMs: 2 * HOUR, cost: 2 * MEDIUM })
    expect(store.usage.accrue()).toBe(2 * HOUR)
    expect(store.usage.accrue()).toBe(0)
    expect(store.usage.monthToDate().runningMs).toBe(2 * HOUR)
    await clock.advance(HOUR)
    expect(store.usage.monthToDate().runningMs).toBe(3 * HOUR)
    const ended = store.usage.endSession(INSTANCE_ID)
    expect(ended).toMatchObject({ endedAt: clock.now(), accountedUntil: clock.now() })
    expect(store.usage.currentSession()).toBeNull()
    await clock.advance(5 * HOUR)
    expect(store.usage.monthToDate()).toMatchObject({
      runningMs: 3 * HOUR,
      hours: 3,
      cost: 3 * MEDIUM,
    })
    expect(store.usage.endSession(INSTANCE_ID)).toBeNull()
  })

  it('keeps one open session per instance', () => {
    ;({ store, clock } = memoryStore())
    const a = store.usage.startSession({ instanceId: INSTANCE_ID, instanceType: 'standard.medium' })
    const again = store.usage.startSession({
      instanceId: INSTANCE_ID,
      instanceType: 'standard.medium',
    })
    expect(again.id).toBe(a.id)
    expect(store.usage.openSessions()).toHaveLength(1)
  })

  it('splits by UTC day and instance type, and totals this month only', async () => {
    ;({ store, clock } = memoryStore({ clock: new ManualClock(Date.UTC(2026, 0, 31, 22)) }))
    store.usage.startSession({ instanceId: INSTANCE_ID, instanceType: 'standard.medium' })
    await clock.advance(4 * HOUR) // 22:00 Jan 31 → 02:00 Feb 1
    store.usage.endSession(INSTANCE_ID)
    store.usage.startSession({ instanceId: OTHER_INSTANCE_ID, instanceType: 'gpua5000.small' })
    await clock.advance(HOUR)
    store.usage.accrue(OTHER_INSTANCE_ID)
    await clock.advance(HOUR / 2) // live, not accrued

    const days = store.usage.byDay({ fromDay: '2026-01-01', toDay: '2026-02-28' })
    expect(days.map((d) => [d.day, d.instanceType, d.runningMs])).toEqual([
      ['2026-01-31', 'standard.medium', 2 * HOUR],
      ['2026-02-01', 'gpua5000.small', 1.5 * HOUR],
      ['2026-02-01', 'standard.medium', 2 * HOUR],
    ])
    const month = store.usage.monthToDate()
    expect(month.fromDay).toBe('2026-02-01')
    expect(month.byType.map((r) => [r.instanceType, r.runningMs])).toEqual([
      ['gpua5000.small', 1.5 * HOUR],
      ['standard.medium', 2 * HOUR],
    ])
    expect(month.cost).toBeCloseTo(1.5 * 1.34028 + 2 * MEDIUM, 6)
    expect(store.usage.totals({ fromDay: '2026-01-31', toDay: '2026-01-31' }).runningMs).toBe(
      2 * HOUR,
    )
    expect(() => store.usage.totals({ fromDay: 'jan', toDay: '2026-01-31' })).toThrow(/YYYY-MM-DD/)
  })

  it('uses price overrides and reports an unknown price as null', async () => {
    ;({ store, clock } = memoryStore({ priceOverrides: { 'standard.medium': 1 }, currency: 'EUR' }))
    store.usage.startSession({ instanceId: INSTANCE_ID, instanceType: 'standard.medium' })
    await clock.advance(HOUR / 4)
    expect(store.usage.currentSession()).toMatchObject({ cost: 0.25, currency: 'EUR' })
    expect(store.usage.priceFor('standard.medium')).toBe(1)
    store.usage.startSession({ instanceId: OTHER_INSTANCE_ID, instanceType: 'gpua30.small' })
    await clock.advance(HOUR)
    expect(store.usage.priceFor('gpua30.small')).toBeNull()
    expect(store.usage.currentSession()).toMatchObject({ instanceType: 'gpua30.small', cost: null })
    const month = store.usage.monthToDate()
    expect(month.cost).toBeNull()
    expect(month.byType.find((r) => r.instanceType === 'standard.medium')?.cost).toBe(1.25)
  })
})
