import { isExoscaleError, type Instance } from '../exoscale/index.js'
import type { InstanceRecord } from '../store/index.js'
import { hasId, isGoing, listOwned } from './cloud-instance.js'
import { assertOpen, type ProvisionerContext } from './context.js'
import { recordEvent, transition, transitionToError } from './events.js'
import { errorSummary } from './explain.js'
import { cancelWake } from './wake-state.js'

/** Who asked for a stop or destroy, and until when they care. */
export interface TeardownRequest {
  signal?: AbortSignal | undefined
  /** `cli`, `api`, `dashboard`, … (default `cli`). */
  actor?: string | undefined
}

/**
 * `exollama stop`: powers the instance off, keeping its disk (destroyed after
 * EXOLLAMA_DESTROY_AFTER unless used). Takes over from a wake in flight.
 */
export async function stop(ctx: ProvisionerContext, request: TeardownRequest): Promise<void> {
  await byRequest(ctx, 'stop', request, async (listed, record, actor) => {
    const cloud = record ? listed.find((i) => i.id === record.instanceId) : undefined
    if (!record || !cloud)
      return nothingLeft(ctx, record, { type: 'stop', actor, message: 'nothing to stop' })
    if (cloud.state === 'stopped') {
      if (record.state !== 'stopped') markStopped(ctx, record.instanceId)
      if (ctx.state !== 'stopped') {
        transition(ctx, 'stopped', { type: 'stopped', actor, message: 'already stopped' })
      }
      ctx.timers.armDestroyAfter(record.instanceId, ctx.clock.now())
      return
    }
    await stopLocked(ctx, record, { actor, reason: `stop requested by ${actor}` })
  })
}

/** `exollama destroy`: deletes every instance labelled with the name. Takes over from a wake. */
export async function destroy(ctx: ProvisionerContext, request: TeardownRequest): Promise<void> {
  await byRequest(ctx, 'destroy', request, async (listed, record, actor) => {
    const ids = listed
      .filter(hasId)
      .filter((i) => !isGoing(i))
      .map((i) => i.id)
    if (ids.length === 0)
      return nothingLeft(ctx, record, { type: 'destroyed', actor, message: 'nothing to destroy' })
    await destroyLocked(ctx, { ids, actor, reason: `destroy requested by ${actor}` })
  })
}

/**
 * A stop or destroy someone asked for: cancels the wake in flight, then acts under the lease on
 * what the cloud lists now. Positive knowledge only: a failed list throws and nothing is done.
 */
async function byRequest(
  ctx: ProvisionerContext,
  verb: 'stop' | 'destroy',
  request: TeardownRequest,
  act: (listed: Instance[], record: InstanceRecord | null, actor: string) => Promise<void>,
): Promise<void> {
  assertOpen(ctx)
  const actor = request.actor ?? 'cli'
  cancelWake(ctx.wake, `${verb} (${actor})`)
  await ctx.lease.run(
    async () => {
      const name = ctx.settings.name
      const listed = await listOwned(ctx.client, name, { signal: request.signal })
      await act(listed, ctx.store.instances.get(name), actor)
    },
    { signal: request.signal },
  )
}

/** Nothing to stop or destroy: forget a stale record and say `absent`. */
function nothingLeft(
  ctx: ProvisionerContext,
  record: InstanceRecord | null,
  event: { type: 'stop' | 'destroyed'; actor: string; message: string },
): void {
  if (record) forgetRecord(ctx, record, 'its instance no longer exists')
  if (ctx.state !== 'absent') transition(ctx, 'absent', event)
}

/** Records the instance as stopped: no longer running, so no longer billed as compute. */
export function markStopped(ctx: ProvisionerContext, instanceId: string): void {
  ctx.store.instances.update(ctx.settings.name, { state: 'stopped' })
  ctx.store.usage.endSession(instanceId)
}

/**
 * Deletes one instance and waits for the operation; an instance already gone or going counts as
 * deleted. Ends its usage session and drops its endpoint.
 */
export async function deleteInstance(
  ctx: ProvisionerContext,
  id: string,
  why: string,
): Promise<void> {
  try {
    const op = await ctx.client.deleteInstance(id)
    await ctx.client.waitForOperation(op, { timeoutMs: ctx.tuning.mutationTimeoutMs })
  } catch (error) {
    // Already gone, or already being deleted, is what we wanted.
    if (!isExoscaleError(error, 'exoscale_not_found') && !(await alreadyGoing(ctx, id, error))) {
      throw error
    }
  }
  ctx.log.info({ instance: id, why }, 'instance deleted')
  endUsage(ctx, id)
  ctx.endpoints.drop(id)
}

/** After a refused delete (409): whether the instance is already on its way out. */
async function alreadyGoing(ctx: ProvisionerContext, id: string, error: unknown): Promise<boolean> {
  if (!isExoscaleError(error, 'exoscale_conflict')) return false
  try {
    return isGoing(await ctx.client.getInstance(id))
  } catch (again) {
    return isExoscaleError(again, 'exoscale_not_found')
  }
}

/**
 * Deletes instances (the current one, duplicates, …) and moves to `absent`. Runs under the
 * lease. The store record goes once its instance is deleted.
 */
export async function destroyLocked(
  ctx: ProvisionerContext,
  input: {
    ids: string[]
    actor: string
    reason: string
    /** False: leave the final transition to the caller (a failed wake ends in `error`). */
    settle?: boolean
  },
): Promise<void> {
  const name = ctx.settings.name
  const record = ctx.store.instances.get(name)
  const started = ctx.clock.now()
  ctx.timers.disarmIdle()
  ctx.timers.cancelDestroyAfter()
  ctx.timers.cancelLifetime(...input.ids)
  const current = record && input.ids.includes(record.instanceId) ? record : null
  if (current) ctx.store.instances.update(name, { state: 'destroying' })
  if (ctx.live && input.ids.includes(ctx.live.instance.id)) ctx.live = null
  const instanceId = current?.instanceId ?? input.ids[0] ?? null
  transition(ctx, 'destroying', {
    type: 'destroy',
    actor: input.actor,
    reason: input.reason,
    instanceId,
    message: `destroying ${input.ids.join(', ')} (${input.reason})`,
  })
  let failure: unknown
  for (const id of input.ids) {
    try {
      await deleteInstance(ctx, id, input.reason)
    } catch (error) {
      failure ??= error
      ctx.log.error({ err: error, instance: id }, 'delete failed')
    }
  }
  if (failure) {
    const summary = errorSummary(failure)
    if (input.settle !== false) {
      transitionToError(ctx, summary, {
        actor: input.actor,
        message: `destroy failed: ${summary.message}`,
      })
    }
    throw failure
  }
  if (current) ctx.store.instances.remove(name)
  const destroyed = {
    type: 'destroyed',
    actor: input.actor,
    reason: input.reason,
    durationMs: ctx.clock.now() - started,
    instanceId,
    message: `destroyed ${input.ids.join(', ')}`,
  } as const
  if (input.settle === false) recordEvent(ctx, destroyed)
  else transition(ctx, 'absent', destroyed)
}

/** Powers the store's instance off (waiting until it is stopped) and arms destroy-after. Under the lease. */
export async function stopLocked(
  ctx: ProvisionerContext,
  record: InstanceRecord,
  input: { actor: string; reason: string },
): Promise<void> {
  const started = ctx.clock.now()
  ctx.timers.disarmIdle()
  ctx.live = null
  ctx.store.instances.update(ctx.settings.name, { state: 'stopping' })
  transition(ctx, 'stopping', {
    type: 'stop',
    actor: input.actor,
    reason: input.reason,
    instanceId: record.instanceId,
    message: `stopping ${record.instanceId} (${input.reason})`,
  })
  try {
    const cloud = await ctx.client.getInstance(record.instanceId)
    if (cloud.state === 'running') {
      const op = await ctx.client.stopInstance(record.instanceId)
      await ctx.client.waitForOperation(op, { timeoutMs: ctx.tuning.mutationTimeoutMs })
    }
    if (cloud.state !== 'stopped') {
      await ctx.client.waitForInstanceState(record.instanceId, ['stopped'], {
        timeoutMs: ctx.tuning.mutationTimeoutMs,
      })
    }
  } catch (error) {
    const summary = errorSummary(error)
    transitionToError(ctx, summary, {
      actor: input.actor,
      instanceId: record.instanceId,
      message: `stop failed: ${summary.message}`,
    })
    throw error
  }
  markStopped(ctx, record.instanceId)
  ctx.endpoints.drop(record.instanceId)
  transition(ctx, 'stopped', {
    type: 'stopped',
    actor: input.actor,
    reason: input.reason,
    instanceId: record.instanceId,
    durationMs: ctx.clock.now() - started,
    message: `stopped ${record.instanceId}; destroyed after ${ctx.settings.destroyAfterS} s unless used`,
  })
  ctx.timers.armDestroyAfter(record.instanceId, ctx.clock.now())
}

/** Forgets a record whose instance is gone: its usage session, endpoint and timers go too. */
export function forgetRecord(ctx: ProvisionerContext, record: InstanceRecord, why: string): void {
  endUsage(ctx, record.instanceId)
  ctx.store.instances.remove(record.name)
  ctx.endpoints.drop(record.instanceId)
  if (ctx.live?.instance.id === record.instanceId) {
    ctx.live = null
    ctx.timers.disarmIdle()
  }
  ctx.timers.cancelLifetime(record.instanceId)
  ctx.timers.cancelDestroyAfter(record.instanceId)
  recordEvent(ctx, {
    type: 'reconcile',
    instanceId: record.instanceId,
    message: `forgot instance ${record.instanceId}: ${why}`,
  })
}

/** Ends an instance's usage session; the instance is gone either way, so a failure only warns. */
function endUsage(ctx: ProvisionerContext, instanceId: string): void {
  try {
    ctx.store.usage.endSession(instanceId)
  } catch (error) {
    ctx.log.warn({ err: error }, 'could not close the usage session')
  }
}
