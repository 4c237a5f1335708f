import { describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from './clock.js'

describe('ManualClock', () => {
  it('fires timers in time order and only when time reaches them', async () => {
    const clock = new ManualClock(0)
    const fired: string[] = []
    clock.setTimer(300, () => fired.push('c'))
    clock.setTimer(100, () => fired.push('a'))
    void clock.sleep(200).then(() => fired.push('b'))
    await clock.advance(150)
    expect(fired).toEqual(['a'])
    await clock.advance(200)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(clock.now()).toBe(350)
  })

  it('runs a chain of sleeps that each start after the previous one', async () => {
    const clock = new ManualClock(0)
    const times: number[] = []
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(1000)
        times.push(clock.now())
      }
    })()
    await clock.advance(5000)
    await loop
    expect(times).toEqual([1000, 2000, 3000])
  })

  it('rejects a sleep when its signal aborts and drops the timer', async () => {
    const clock = new ManualClock(0)
    const controller = new AbortController()
    const p = clock.sleep(1000, controller.signal)
    controller.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
    expect(clock.pendingCount).toBe(0)
  })

  it('cancels timers', async () => {
    const clock = new ManualClock(0)
    let fired = false
    clock.setTimer(10, () => (fired = true)).cancel()
    await clock.advance(100)
    expect(fired).toBe(false)
  })
})

describe('systemClock', () => {
  it('aborts a sleep early', async () => {
    const controller = new AbortController()
    const p = systemClock.sleep(60_000, controller.signal)
    controller.abort(new Error('bye'))
    await expect(p).rejects.toThrow('bye')
  })
})
