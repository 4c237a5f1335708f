import type { ExoscaleClient } from '../exoscale/index.js'
import type { Clock, Logger } from '../shared/index.js'
import type { Store } from '../store/index.js'
import type { ActivityTracker } from './activity.js'
import type { EndpointCache, ReadyInstance } from './endpoints.js'
import { ProvisionerError } from './errors.js'
import type { LeaseGuard } from './lease-guard.js'
import type { PolicyTimers } from './policy-timers.js'
import type { ProvisionerSettings, ProvisionerTuning } from './settings.js'
import type { ProvisionerProgress, ProvisionerState } from './status.js'
import type { Wake } from './wake-state.js'

/**
 * What the parts of the provisioner (wake, teardown, idle policy, reconcile, status) share: its
 * effects, and the little state they all read and write. createProvisioner builds one; every
 * part receives it instead of reaching into the others.
 */
export interface ProvisionerContext {
  readonly client: ExoscaleClient
  readonly store: Store
  readonly clock: Clock
  readonly log: Logger
  readonly tuning: ProvisionerTuning
  /** The single writer: every cloud mutation runs inside it. */
  readonly lease: LeaseGuard
  readonly activity: ActivityTracker
  readonly endpoints: EndpointCache
  readonly timers: PolicyTimers
  readonly simulated: boolean
  readonly progressListeners: Set<(progress: ProvisionerProgress) => void>
  /** Background work (timer actions, wakes, reconcile rounds) that close() lets finish. */
  readonly inflight: Set<Promise<unknown>>
  /** Replaced whole by updateSettings. */
  settings: ProvisionerSettings
  /** Changed only through transition() (src/provisioner/events.ts), which records each move. */
  state: ProvisionerState
  stateSince: number
  /** What put the provisioner in `error`; cleared by any other transition. */
  lastError: { code: string; message: string } | null
  /** The wake in flight: one serves every caller. */
  wake: Wake | null
  wakeSeq: number
  /**
   * The upstream of the instance this process has seen ready and manages the idleness of, kept
   * in memory: the gateway asks for it on every request.
   */
  live: ReadyInstance | null
  closed: boolean
}

/** Runs `promise` in the background: close() waits for it, its failure is only logged. */
export function track<T>(ctx: ProvisionerContext, promise: Promise<T>): Promise<T> {
  const guarded = promise.catch((error: unknown) => {
    ctx.log.debug({ err: error }, 'background task ended with an error')
  })
  ctx.inflight.add(guarded)
  void guarded.finally(() => ctx.inflight.delete(guarded))
  return promise
}

export function closedError(): ProvisionerError {
  return new ProvisionerError(
    'provisioner_closed',
    'exollama is shutting down; the instance was left as it is',
    { kind: 'cloud' },
  )
}

export function assertOpen(ctx: ProvisionerContext): void {
  if (ctx.closed) throw closedError()
}
