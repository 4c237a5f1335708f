import type { Clock, Logger, Secret } from '../shared/index.js'
import type { WaitOptions } from './call-options.js'
import { ExoscaleError, isExoscaleError } from './errors.js'
import { errorFromOperation } from './error-mapping.js'
import type { ExoscaleHttp } from './http.js'
import { getInstance } from './instances.js'
import { getOperation } from './operations.js'
import { pollIntervalMs } from './poll-interval.js'
import type { Instance, InstanceState, Operation } from './schema-types.js'

/** Consecutive failed polls a wait tolerates (egoscale, python-exoscale, sdk-ts: 5). */
export const MAX_CONSECUTIVE_POLL_ERRORS = 5

export interface WaitContext {
  http: ExoscaleHttp
  clock: Clock
  logger: Logger
  /** Base of the poll schedule (3 s in production). */
  pollIntervalMs: number
  secrets: readonly Secret[]
}

/** Errors a poll loop rides out: the API may blip while an operation runs. */
function isTransient(error: unknown): boolean {
  return isExoscaleError(
    error,
    'exoscale_network',
    'exoscale_server_error',
    'exoscale_rate_limited',
  )
}

/** The earlier of `deadline` and now + `timeoutMs`, or undefined for no limit. */
export function effectiveDeadline(clock: Clock, options: WaitOptions): number | undefined {
  const fromTimeout =
    options.timeoutMs === undefined ? undefined : clock.now() + Math.max(0, options.timeoutMs)
  if (options.deadline === undefined) return fromTimeout
  if (fromTimeout === undefined) return options.deadline
  return Math.min(options.deadline, fromTimeout)
}

class DeadlineReached extends Error {}

interface PollLoop<T> {
  ctx: WaitContext
  options: WaitOptions
  /** Poll once before the first sleep. */
  immediate: boolean
  poll: (signal: AbortSignal) => Promise<T>
  /** The final value, or undefined to keep polling. May throw to end the wait. */
  settle: (value: T) => T | undefined
  timeout: (last: T | undefined, waitedMs: number) => ExoscaleError
  what: string
}

/**
 * Polls on the egoscale schedule (pollIntervalMs) until `settle` accepts a value, the deadline
 * passes (including in the middle of a poll), the signal aborts (rejecting with its reason),
 * or more than MAX_CONSECUTIVE_POLL_ERRORS transient errors come in a row.
 */
async function pollUntil<T>(loop: PollLoop<T>): Promise<T> {
  const { clock, logger } = loop.ctx
  const deadline = effectiveDeadline(clock, loop.options)
  const start = clock.now()
  const outer = loop.options.signal
  const deadlineController = new AbortController()
  const deadlineTimer =
    deadline === undefined
      ? undefined
      : clock.setTimer(deadline - start, () => deadlineController.abort(new DeadlineReached()))
  const signal = outer
    ? AbortSignal.any([outer, deadlineController.signal])
    : deadlineController.signal
  let last: T | undefined
  let errors = 0
  let first = true
  try {
    for (;;) {
      if (!(first && loop.immediate)) {
        const now = clock.now()
        if (deadline !== undefined && now >= deadline) throw new DeadlineReached()
        let wait = pollIntervalMs(now - start, loop.ctx.pollIntervalMs)
        if (deadline !== undefined) wait = Math.min(wait, deadline - now)
        await clock.sleep(wait, signal)
      }
      first = false
      let value: T
      try {
        value = await loop.poll(signal)
      } catch (error) {
        if (signal.aborted) throw signal.reason
        if (!isTransient(error) || ++errors > MAX_CONSECUTIVE_POLL_ERRORS) throw error
        logger.warn(
          { what: loop.what, errors, code: (error as ExoscaleError).code },
          'poll failed, will retry',
        )
        continue
      }
      errors = 0
      last = value
      const done = loop.settle(value)
      if (done !== undefined) return done
    }
  } catch (error) {
    if (outer?.aborted) throw outer.reason
    if (error instanceof DeadlineReached) throw loop.timeout(last, clock.now() - start)
    throw error
  } finally {
    deadlineTimer?.cancel()
  }
}

function settleOperation(op: Operation, secrets: readonly Secret[]): Operation | undefined {
  if (op.state === 'pending') return undefined
  if (op.state === 'success') return op
  throw errorFromOperation(op, secrets)
}

/**
 * Waits for an operation to leave `pending`: returns it on `success`, throws on `failure` or
 * `timeout` (exoscale_operation_failed, or exoscale_capacity_unavailable /
 * exoscale_quota_exceeded when the reason says so), exoscale_operation_timeout at the deadline.
 * Success means the API finished the change, not that an instance is running: use
 * waitForInstanceState for that.
 */
export async function waitForOperation(
  ctx: WaitContext,
  op: Operation,
  options: WaitOptions = {},
): Promise<Operation> {
  const settledNow = settleOperation(op, ctx.secrets)
  if (settledNow) return settledNow
  const id = op.id
  if (!id) {
    throw new ExoscaleError(
      'exoscale_server_error',
      'the Exoscale API returned a pending operation without an id: retry later',
    )
  }
  return pollUntil<Operation>({
    ctx,
    options,
    immediate: false,
    what: `operation ${id}`,
    poll: (signal) => getOperation(ctx.http, id, { signal }),
    settle: (value) => settleOperation(value, ctx.secrets),
    timeout: (last, waited) =>
      new ExoscaleError(
        'exoscale_operation_timeout',
        `Exoscale operation ${id}${op.reference?.command ? ` (${op.reference.command})` : ''} was still ${last?.state ?? op.state} after ${Math.round(waited / 1000)} s: it may still finish; check the resource, or allow more time`,
        {
          operation: {
            id,
            state: last?.state ?? op.state,
            command: op.reference?.command,
            referenceId: op.reference?.id,
          },
        },
      ),
  })
}

/** States from which an instance will not reach another state by itself. */
const DEAD_ENDS: readonly InstanceState[] = ['error', 'destroying', 'destroyed', 'expunging']

/**
 * Waits until instance `id` is in one of `states` and returns it. Throws
 * exoscale_operation_failed when the instance reaches `error` or is being destroyed (unless
 * that is a wanted state), exoscale_not_found when it disappears, exoscale_operation_timeout
 * at the deadline.
 */
export async function waitForInstanceState(
  ctx: WaitContext,
  id: string,
  states: readonly InstanceState[],
  options: WaitOptions = {},
): Promise<Instance> {
  return pollUntil<Instance>({
    ctx,
    options,
    immediate: true,
    what: `instance ${id}`,
    poll: (signal) => getInstance(ctx.http, id, { signal }),
    settle: (instance) => {
      const state = instance.state
      if (state !== undefined && states.includes(state)) return instance
      if (state !== undefined && DEAD_ENDS.includes(state)) {
        throw new ExoscaleError(
          'exoscale_operation_failed',
          `Exoscale instance ${id} is ${state} and will not become ${states.join(' or ')}: check it in the Exoscale portal`,
          { operation: { referenceId: id, state } },
        )
      }
      return undefined
    },
    timeout: (last, waited) =>
      new ExoscaleError(
        'exoscale_operation_timeout',
        `Exoscale instance ${id} was still ${last?.state ?? 'unknown'} after ${Math.round(waited / 1000)} s, not ${states.join(' or ')}: allow more time or check it in the Exoscale portal`,
        { operation: { referenceId: id, state: last?.state } },
      ),
  })
}

/** Waits until instance `id` is gone (404) or `destroyed`. */
export async function waitForInstanceGone(
  ctx: WaitContext,
  id: string,
  options: WaitOptions = {},
): Promise<void> {
  await pollUntil<Instance | null>({
    ctx,
    options,
    immediate: true,
    what: `instance ${id}`,
    poll: async (signal) => {
      try {
        return await getInstance(ctx.http, id, { signal })
      } catch (error) {
        if (isExoscaleError(error, 'exoscale_not_found')) return null
        throw error
      }
    },
    settle: (instance) =>
      instance === null || instance.state === 'destroyed' ? instance : undefined,
    timeout: (last, waited) =>
      new ExoscaleError(
        'exoscale_operation_timeout',
        `Exoscale instance ${id} still exists (${last?.state ?? 'unknown'}) after ${Math.round(waited / 1000)} s: check it in the Exoscale portal`,
        { operation: { referenceId: id, state: last?.state } },
      ),
  })
}
