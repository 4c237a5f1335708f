import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { ActivityTracker, IdleTimer } from './activity.js'

const MIN = 60_000

function setup(timeoutMs = MIN) {
  const clock = new ManualClock(0)
  const activity = new ActivityTracker(clock)
  const fired: number[] = []
  const timer = new IdleTimer({ clock, activity, timeoutMs, onIdle: () => fired.push(clock.now()) })
  return { clock, activity, timer, fired }
}

describe('IdleTimer', () => {
  it('fires at the deadline itself, counted from the end of the last activity', async () => {
    const { clock, activity, timer, fired } = setup()
    timer.arm()
    await clock.advance(30_000)
    const end = activity.begin()
    await clock.advance(10_000)
    end() // ends at t=40s → idle at t=100s
    await clock.advance(59_999 - 0)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([100_000])
  })

  it('does not cut a 10-minute stream with a 1-minute timeout, and fires one timeout after it ends', async () => {
    const { clock, activity, timer, fired } = setup(MIN)
    timer.arm()
    const end = activity.begin()
    await clock.advance(10 * MIN)
    expect(fired).toEqual([])
    expect(timer.remainingMs()).toBeNull()
    end()
    expect(timer.remainingMs()).toBe(MIN)
    await clock.advance(MIN - 1)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([11 * MIN])
  })

  it('keeps the instance alive while any of several overlapping requests is open', async () => {
    const { clock, activity, timer, fired } = setup(MIN)
    timer.arm()
    const a = activity.begin()
    const b = activity.begin()
    await clock.advance(2 * MIN)
    a()
    await clock.advance(2 * MIN)
    expect(fired).toEqual([])
    b()
    await clock.advance(MIN)
    expect(fired).toEqual([5 * MIN])
  })

  it('fires once and stays quiet after being disarmed', async () => {
    const { clock, activity, timer, fired } = setup(MIN)
    timer.arm()
    await clock.advance(MIN)
    expect(fired).toHaveLength(1)
    expect(timer.armed).toBe(false)
    activity.touch()
    await clock.advance(5 * MIN)
    expect(fired).toHaveLength(1)
  })

  it('never fires while disarmed', async () => {
    const { clock, timer, fired } = setup(MIN)
    timer.arm()
    timer.disarm()
    await clock.advance(10 * MIN)
    expect(fired).toEqual([])
  })

  it('ending a request twice counts once', async () => {
    const { activity } = setup()
    const end = activity.begin()
    end()
    end()
    expect(activity.inFlight).toBe(0)
  })
})
