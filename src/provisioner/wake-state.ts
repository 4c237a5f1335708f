import type { BootStatus } from '../recipe/index.js'
import type { Clock, Timer } from '../shared/index.js'
import type { ReadyInstance } from './endpoints.js'
import { timerAt } from './long-timer.js'
import type { ProvisionerProgress, WakeProgress } from './status.js'

/** Aborts a wake at its deadline. */
export class WakeDeadline extends Error {}

/** Aborts a wake because stop/destroy/close took over. */
export class WakeCancelled extends Error {
  readonly by: string
  constructor(by: string) {
    super(`cancelled by ${by}`)
    this.by = by
  }
}

/** One wake in flight: what it has done so far decides what a failure must clean up. */
export interface Wake {
  readonly id: number
  readonly reason: string
  readonly actor: string | null
  readonly startedAt: number
  deadline: number
  readonly timeoutMs: number
  readonly controller: AbortController
  deadlineTimer: Timer
  promise: Promise<ReadyInstance>
  readonly listeners: Set<(progress: ProvisionerProgress) => void>
  /** Created, started, or adopted while not ready: a failure destroys it. */
  owned: boolean
  /** The create call was sent (from then on, never retried). */
  postSent: boolean
  /**
   * When the boot being waited for was requested, if the disk may still hold an earlier boot's
   * status (this wake started a stopped instance, or joined such a start).
   */
  rebootSince: number | undefined
  intentId: string | undefined
  instanceId: string | undefined
  /** The store said ready when the wake began (no preload needed). */
  wasReady: boolean
  phase: string
  boot: BootStatus | null
  bootPhaseSince: number
  lastNotYet: string | null
  lastCloudError: string | null
  pull: WakeProgress['pull']
}

/** Stops the wake in flight, if any, on behalf of `by` (stop, destroy, shutdown, …). */
export function cancelWake(wake: Wake | null, by: string): void {
  wake?.controller.abort(new WakeCancelled(by))
}

/** Arms (or moves) the timer that aborts the wake at its deadline. */
export function armDeadline(clock: Clock, w: Wake, deadline: number): void {
  w.deadline = deadline
  w.deadlineTimer.cancel()
  w.deadlineTimer = timerAt(clock, deadline, () => w.controller.abort(new WakeDeadline()))
}

/** Moves the wake's deadline earlier (an adopted wake that began elsewhere). */
export function tightenDeadline(clock: Clock, w: Wake, deadline: number): void {
  if (deadline < w.deadline) armDeadline(clock, w, deadline)
}
