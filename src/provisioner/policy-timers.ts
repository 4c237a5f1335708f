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

interface InstanceTimer {
  readonly instanceId: string
  readonly timer: Timer
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
  #lifetime: InstanceTimer | null = null
  #destroyAfter: InstanceTimer | null = null

  constructor(options: PolicyTimersOptions) {
    this.#o = options
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
    if (this.#lifetime?.instanceId === instanceId) return
    this.#lifetime?.timer.cancel()
    const at = createdAt + this.#o.settings().maxLifetimeS * 1000
    this.#lifetime = {
      instanceId,
      timer: timerAt(this.#o.clock, at, () => this.#o.handlers.lifetime(instanceId)),
    }
  }

  /** Cancels the max-lifetime timer if it is one of `instanceIds`' (any, when none given). */
  cancelLifetime(...instanceIds: string[]): void {
    if (!this.#lifetime) return
    if (instanceIds.length > 0 && !instanceIds.includes(this.#lifetime.instanceId)) return
    this.#lifetime.timer.cancel()
    this.#lifetime = null
  }

  /** Arms the destroy-after timer of a stopped instance (kept when already armed for it). */
  armDestroyAfter(instanceId: string, stoppedAt: number): void {
    if (this.#destroyAfter?.instanceId === instanceId) return
    this.cancelDestroyAfter()
    const at = stoppedAt + this.#o.settings().destroyAfterS * 1000
    this.#destroyAfter = {
      instanceId,
      timer: timerAt(this.#o.clock, at, () => this.#o.handlers.destroyAfter(instanceId)),
    }
  }

  /** Cancels the destroy-after timer if it is one of `instanceIds`' (any, when none given). */
  cancelDestroyAfter(...instanceIds: string[]): void {
    if (!this.#destroyAfter) return
    if (instanceIds.length > 0 && !instanceIds.includes(this.#destroyAfter.instanceId)) return
    this.#destroyAfter.timer.cancel()
    this.#destroyAfter = null
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
