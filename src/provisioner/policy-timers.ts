import type { Clock, Timer } from '../shared/index.js'
import { IdleTimer, type ActivityTracker } from './activity.js'
import { timerAt } from './long-timer.js'
import type { ProvisionerSettings } from './settings.js'

/** What to do when a policy deadline passes (each handler re-checks under the lease). */
export interface PolicyHandlers {
  /** Nothing has been in flight for EXOSCALE_IDLE_TIMEOUT. */
  idle(): void
  /** The instance is EXOLLAMA_MAX_LIFETIME old. */
  lifetime(instanceId: string): void
  /** The instance has been stopped for EXOLLAMA_DESTROY_AFTER. */
  destroyAfter(instanceId: string): void
}

export interface PolicyTimersOptions {
  clock: Clock
  activity: ActivityTracker
  /** The current settings (they change with updateSettings). */
  settings: () => ProvisionerSettings
  handlers: PolicyHandlers
}

/**
 * When the idle, max-lifetime and destroy-after deadlines fall, as timers (not polls): the idle
 * timer for the instance in use, the other two per instance. What happens then is the handlers'
 * business (src/provisioner/idle-policy.ts).
 */
export class PolicyTimers {
  readonly #o: PolicyTimersOptions
  /** Made at the first arm, with the timeout of that moment (settingsChanged replaces it). */
  #idle: { timer: IdleTimer; timeoutMs: number } | null = null
  readonly #lifetime: InstanceTimer
  readonly #destroyAfter: InstanceTimer

  constructor(options: PolicyTimersOptions) {
    this.#o = options
    this.#lifetime = new InstanceTimer(options.clock)
    this.#destroyAfter = new InstanceTimer(options.clock)
  }

  armIdle(): void {
    this.#idle ??= this.#newIdleTimer()
    this.#idle.timer.arm()
  }

  disarmIdle(): void {
    this.#idle?.timer.disarm()
  }

  /** Until the idle action, null while disarmed or while something is in flight. */
  idleRemainingMs(): number | null {
    return this.#idle?.timer.remainingMs() ?? null
  }

  /** Follows a changed EXOSCALE_IDLE_TIMEOUT, staying armed if it was. */
  settingsChanged(): void {
    if (!this.#idle || this.#idle.timeoutMs === this.#o.settings().idleTimeoutS * 1000) return
    const armed = this.#idle.timer.armed
    this.#idle.timer.disarm()
    this.#idle = this.#newIdleTimer()
    if (armed) this.#idle.timer.arm()
  }

  /** Arms the max-lifetime timer of an instance (kept as it is when already armed for it). */
  armLifetime(instanceId: string, createdAt: number): void {
    const at = createdAt + this.#o.settings().maxLifetimeS * 1000
    this.#lifetime.arm(instanceId, at, (id) => this.#o.handlers.lifetime(id))
  }

  /** Cancels the max-lifetime timer if it is one of `instanceIds`' (any, when none given). */
  cancelLifetime(...instanceIds: string[]): void {
    this.#lifetime.cancel(instanceIds)
  }

  /** Arms the destroy-after timer of a stopped instance (kept when already armed for it). */
  armDestroyAfter(instanceId: string, stoppedAt: number): void {
    const at = stoppedAt + this.#o.settings().destroyAfterS * 1000
    this.#destroyAfter.arm(instanceId, at, (id) => this.#o.handlers.destroyAfter(id))
  }

  /** Cancels the destroy-after timer if it is one of `instanceIds`' (any, when none given). */
  cancelDestroyAfter(...instanceIds: string[]): void {
    this.#destroyAfter.cancel(instanceIds)
  }

  cancelAll(): void {
    this.disarmIdle()
    this.cancelLifetime()
    this.cancelDestroyAfter()
  }

  #newIdleTimer(): { timer: IdleTimer; timeoutMs: number } {
    const timeoutMs = this.#o.settings().idleTimeoutS * 1000
    const timer = new IdleTimer({
      clock: this.#o.clock,
      activity: this.#o.activity,
      timeoutMs,
      onIdle: () => this.#o.handlers.idle(),
    })
    return { timer, timeoutMs }
  }
}

/** At most one timer, for one instance: arming again for that instance keeps the first deadline. */
class InstanceTimer {
  readonly #clock: Clock
  #current: { instanceId: string; timer: Timer } | null = null

  constructor(clock: Clock) {
    this.#clock = clock
  }

  arm(instanceId: string, at: number, fire: (instanceId: string) => void): void {
    if (this.#current?.instanceId === instanceId) return
    this.cancel([])
    this.#current = { instanceId, timer: timerAt(this.#clock, at, () => fire(instanceId)) }
  }

  /** Cancels the timer if it is for one of `instanceIds` (any instance when empty). */
  cancel(instanceIds: readonly string[]): void {
    if (!this.#current) return
    if (instanceIds.length > 0 && !instanceIds.includes(this.#current.instanceId)) return
    this.#current.timer.cancel()
    this.#current = null
  }
}
