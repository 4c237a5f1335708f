import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { timerAt } from './long-timer.js'

describe('timerAt', () => {
  it('fires once at the absolute time, even beyond setTimeout’s 24.8-day limit', async () => {
    const clock = new ManualClock(0)
    const fired: number[] = []
    const at = 365 * 86_400_000 // a year: EXOLLAMA_DESTROY_AFTER's maximum
    timerAt(clock, at, () => fired.push(clock.now()))
    await clock.advance(at - 1)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([at])
    await clock.advance(at)
    expect(fired).toEqual([at])
  })

  it('fires asynchronously when the time has already passed, and not at all once cancelled', async () => {
    const clock = new ManualClock(1_000)
    const fired: string[] = []
    timerAt(clock, 0, () => fired.push('past'))
    expect(fired).toEqual([]) // never synchronously
    await clock.advance(0)
    expect(fired).toEqual(['past'])
    const t = timerAt(clock, 5_000, () => fired.push('cancelled'))
    t.cancel()
    await clock.advance(10_000)
    expect(fired).toEqual(['past'])
  })
})
