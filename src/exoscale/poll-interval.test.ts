import { describe, expect, it } from 'vitest'
import { pollIntervalMs } from './poll-interval.js'

describe('pollIntervalMs', () => {
  // The points of egoscale v3 TestPollInterval and python-exoscale's tests.
  it('follows the egoscale schedule at the default 3 s base', () => {
    expect(pollIntervalMs(0)).toBe(3000)
    expect(pollIntervalMs(10_000)).toBe(3000)
    expect(pollIntervalMs(30_000)).toBe(3000)
    expect(pollIntervalMs(60_000)).toBeGreaterThan(3000)
    expect(pollIntervalMs(60_000)).toBeLessThanOrEqual(7000)
    expect(pollIntervalMs(120_000)).toBeGreaterThanOrEqual(8000)
    expect(pollIntervalMs(120_000)).toBeLessThan(10_000)
    expect(pollIntervalMs(300_000)).toBeLessThanOrEqual(24_000)
    expect(pollIntervalMs(600_000)).toBeGreaterThanOrEqual(40_000)
    expect(pollIntervalMs(600_000)).toBeLessThan(42_000)
    expect(pollIntervalMs(900_000)).toBe(60_000)
    expect(pollIntervalMs(3_600_000)).toBe(60_000)
  })

  it('grows monotonically', () => {
    let prev = 0
    for (let t = 0; t <= 1_200_000; t += 7000) {
      const i = pollIntervalMs(t)
      expect(i).toBeGreaterThanOrEqual(prev)
      prev = i
    }
  })

  it('scales the whole curve with the base interval', () => {
    expect(pollIntervalMs(0, 30)).toBe(30)
    expect(pollIntervalMs(300, 30)).toBe(30)
    expect(pollIntervalMs(9000, 30)).toBe(600)
    expect(pollIntervalMs(6000, 30)).toBe(Math.round(pollIntervalMs(600_000) / 100))
  })
})
