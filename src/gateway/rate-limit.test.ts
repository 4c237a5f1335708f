import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { ConcurrencyLimiter, RateLimiter } from './rate-limit.js'

describe('RateLimiter', () => {
  it('allows a burst, then refills at the rate', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(clock, 60, 3)
    expect([1, 2, 3].map(() => limiter.take('k').ok)).toEqual([true, true, true])
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 })
    expect(limiter.take('other').ok).toBe(true)
    await clock.advance(999)
    expect(limiter.take('k').ok).toBe(false)
    await clock.advance(1)
    expect(limiter.take('k').ok).toBe(true)
    expect(limiter.take('k').ok).toBe(false)
  })

  it('is off at 0 per minute', () => {
    const limiter = new RateLimiter(new ManualClock(), 0, 0)
    expect(limiter.enabled).toBe(false)
    for (let i = 0; i < 1000; i++) expect(limiter.take('k').ok).toBe(true)
  })

  it('says how long to wait at slow rates', () => {
    const limiter = new RateLimiter(new ManualClock(), 2, 1)
    limiter.take('k')
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 30 })
  })
})

describe('ConcurrencyLimiter', () => {
  it('caps holders per key; release is idempotent', () => {
    const limiter = new ConcurrencyLimiter(2)
    const a = limiter.acquire('k')
    const b = limiter.acquire('k')
    expect(a && b).toBeTruthy()
    expect(limiter.acquire('k')).toBeUndefined()
    expect(limiter.acquire('other')).toBeDefined()
    a?.()
    a?.()
    expect(limiter.acquire('k')).toBeDefined()
    expect(limiter.acquire('k')).toBeUndefined()
  })

  it('is unlimited at 0', () => {
    const limiter = new ConcurrencyLimiter(0)
    for (let i = 0; i < 1000; i++) expect(limiter.acquire('k')).toBeDefined()
  })
})
