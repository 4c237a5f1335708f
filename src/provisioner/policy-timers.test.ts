import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { ActivityTracker } from './activity.js'
import { PolicyTimers } from './policy-timers.js'
import { DEFAULT_PROVISIONER_SETTINGS, type ProvisionerSettings } from './settings.js'

function setup(overrides: Partial<ProvisionerSettings> = {}) {
  const clock = new ManualClock(0)
  const activity = new ActivityTracker(clock)
  let settings: ProvisionerSettings = {
    ...DEFAULT_PROVISIONER_SETTINGS,
    idleTimeoutS: 60,
    maxLifetimeS: 3_600,
    destroyAfterS: 600,
    ...overrides,
  }
  const fired: string[] = []
  const timers = new PolicyTimers({
    clock,
    activity,
    settings: () => settings,
    handlers: {
      idle: () => fired.push(`idle@${clock.now()}`),
      lifetime: (id) => fired.push(`lifetime ${id}@${clock.now()}`),
      destroyAfter: (id) => fired.push(`destroy-after ${id}@${clock.now()}`),
    },
  })
  return {
    clock,
    activity,
    timers,
    fired,
    setSettings: (s: Partial<ProvisionerSettings>) => (settings = { ...settings, ...s }),
  }
}

describe('PolicyTimers', () => {
  it('fires the lifetime and destroy-after handlers at created + max and stopped + destroy-after', async () => {
    const { clock, timers, fired } = setup()
    timers.armLifetime('i1', -1_000)
    timers.armDestroyAfter('i1', 0)
    await clock.advance(599_999)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual(['destroy-after i1@600000'])
    await clock.advance(3_000_000)
    expect(fired).toEqual(['destroy-after i1@600000', 'lifetime i1@3599000'])
  })

  it('keeps a timer armed for the same instance, replaces it for another, cancels only the named one', async () => {
    const { clock, timers, fired } = setup()
    timers.armDestroyAfter('i1', 0)
    timers.armDestroyAfter('i1', 500_000) // same instance: the first deadline stands
    timers.armLifetime('i1', 0)
    timers.cancelLifetime('other') // not its timer
    timers.armLifetime('i2', 100_000) // another instance replaces it
    await clock.advance(600_000)
    expect(fired).toEqual(['destroy-after i1@600000'])
    timers.cancelDestroyAfter('other')
    timers.armDestroyAfter('i2', 600_000)
    timers.cancelDestroyAfter('i2')
    await clock.advance(3_600_000)
    expect(fired).toEqual(['destroy-after i1@600000', 'lifetime i2@3700000'])
  })

  it('follows a new idle timeout while staying armed, and cancelAll silences everything', async () => {
    const { clock, timers, fired, setSettings } = setup()
    expect(timers.idleRemainingMs()).toBeNull()
    timers.armIdle()
    expect(timers.idleRemainingMs()).toBe(60_000)
    setSettings({ idleTimeoutS: 120 })
    timers.settingsChanged()
    expect(timers.idleRemainingMs()).toBe(120_000)
    await clock.advance(60_000)
    expect(fired).toEqual([])
    await clock.advance(60_000)
    expect(fired).toEqual(['idle@120000'])

    timers.armIdle()
    timers.armLifetime('i1', clock.now())
    timers.armDestroyAfter('i1', clock.now())
    timers.cancelAll()
    expect(timers.idleRemainingMs()).toBeNull()
    await clock.advance(10_000_000)
    expect(fired).toEqual(['idle@120000'])
  })
})
