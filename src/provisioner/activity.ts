import type { Clock, Timer } from '../shared/index.js'

/**
 * Counts requests in flight and remembers when the last one ended. Idle time counts from the
 * end of the last activity: an open request or stream keeps the instance alive however long it
 * runs, and the idle deadline exists only while nothing is in flight.
 */
export class ActivityTracker {
  #inFlight = 0
  #lastEnd: number
  readonly #clock: Clock
  readonly #listeners = new Set<() => void>()

  constructor(clock: Clock, lastActivityAt?: number) {
    this.#clock = clock
    this.#lastEnd = lastActivityAt ?? clock.now()
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** When the last activity ended (ms since epoch); now-ish while something is in flight. */
  get lastActivityAt(): number {
    return this.#inFlight > 0 ? this.#clock.now() : this.#lastEnd
  }

  /** Marks the start of an activity; the returned function ends it (calling it twice is harmless). */
  begin(): () => void {
    this.#inFlight++
    this.#emit()
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#inFlight--
      this.#lastEnd = this.#clock.now()
      this.#emit()
    }
  }

  /** Counts as activity without a duration (an explicit start, say). */
  touch(): void {
    if (this.#inFlight === 0) this.#lastEnd = this.#clock.now()
    this.#emit()
  }

  /** The moment the instance becomes idle, or null while something is in flight. */
  idleDeadline(timeoutMs: number): number | null {
    return this.#inFlight > 0 ? null : this.#lastEnd + timeoutMs
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #emit(): void {
    for (const listener of this.#listeners) listener()
  }
}

export interface IdleTimerOptions {
  clock: Clock
  activity: ActivityTracker
  timeoutMs: number
  /** Called once when the deadline passes with nothing in flight. */
  onIdle: () => void
}

/**
 * Fires `onIdle` at the idle deadline itself (not on a polling interval), re-arming whenever
 * activity changes. Armed only between `arm()` and `disarm()` (while an instance is running).
 */
export class IdleTimer {
  readonly #options: IdleTimerOptions
  #timer: Timer | undefined
  #armed = false
  #unsubscribe: (() => void) | undefined

  constructor(options: IdleTimerOptions) {
    this.#options = options
  }

  get armed(): boolean {
    return this.#armed
  }

  /** Seconds until the idle action, null while disarmed or while something is in flight. */
  remainingMs(): number | null {
    if (!this.#armed) return null
    const deadline = this.#options.activity.idleDeadline(this.#options.timeoutMs)
    return deadline === null ? null : Math.max(0, deadline - this.#options.clock.now())
  }

  arm(): void {
    if (this.#armed) return
    this.#armed = true
    this.#unsubscribe = this.#options.activity.onChange(() => this.#schedule())
    this.#schedule()
  }

  disarm(): void {
    this.#armed = false
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#timer?.cancel()
    this.#timer = undefined
  }

  #schedule(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    if (!this.#armed) return
    const deadline = this.#options.activity.idleDeadline(this.#options.timeoutMs)
    if (deadline === null) return
    const { clock } = this.#options
    this.#timer = clock.setTimer(deadline - clock.now(), () => {
      this.#timer = undefined
      // Activity may have ended and begun again in the same tick: check before acting.
      const now = clock.now()
      const current = this.#options.activity.idleDeadline(this.#options.timeoutMs)
      if (!this.#armed || current === null) return
      if (current > now) return this.#schedule()
      this.disarm()
      this.#options.onIdle()
    })
  }
}
