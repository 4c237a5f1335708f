import type { Clock, Timer } from '../shared/index.js'

/** setTimeout's largest delay; longer ones fire at once (with a warning) in Node. */
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * Calls `fn` once at the absolute time `at` (ms on `clock`), however far away: delays beyond
 * setTimeout's 24.8-day limit are split into steps, re-checked against the clock at each step.
 * Always asynchronous, even when `at` has passed.
 */
export function timerAt(clock: Clock, at: number, fn: () => void): Timer {
  let current: Timer | undefined
  let cancelled = false
  const arm = () => {
    const delay = at - clock.now()
    current = clock.setTimer(Math.max(0, Math.min(delay, MAX_DELAY_MS)), () => {
      if (cancelled) return
      if (clock.now() >= at) fn()
      else arm()
    })
  }
  arm()
  return {
    cancel: () => {
      cancelled = true
      current?.cancel()
    },
  }
}
