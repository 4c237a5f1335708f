import type { Instance } from '../exoscale/index.js'
import type { Fence, InstanceRecord, Intent } from '../store/index.js'
import { hasId, isGoing, listOwned, stillThere, type ListedInstance } from './cloud-instance.js'
import type { ProvisionerContext } from './context.js'
import { createInstance } from './create-instance.js'
import { ProvisionerError } from './errors.js'
import { enterPhase, recordEvent, transition } from './events.js'
import { errorSummary, isTransientCloudFailure } from './explain.js'
import { adoptableIntent, pickKeeper } from './reconcile-plan.js'
import { recordFromIntent } from './records.js'
import type { ProvisionerState } from './status.js'
import { deleteInstance, forgetRecord } from './teardown.js'
import { tightenDeadline, type Wake } from './wake-state.js'

/** A record whose wake began this long after the instance's creation was a start, not a create. */
const RESTART_AFTER_MS = 60_000

/**
 * The instance a wake will wait on, under the lease; retried while the cloud blips and nothing
 * has been created yet.
 */
export async function acquire(ctx: ProvisionerContext, w: Wake): Promise<InstanceRecord> {
  let delay = ctx.tuning.transientRetryMs
  for (;;) {
    try {
      return await ctx.lease.run((fence) => acquireLocked(ctx, w, fence), {
        signal: w.controller.signal,
        waitMs: Math.max(0, w.deadline - ctx.clock.now()),
      })
    } catch (error) {
      if (w.controller.signal.aborted || w.postSent || !isTransientCloudFailure(error)) throw error
      w.lastCloudError = errorSummary(error).message
      ctx.log.warn({ err: error }, 'the cloud failed during a wake; retrying')
      await ctx.clock.sleep(delay, w.controller.signal)
      delay = Math.min(10_000, delay * 2)
    }
  }
}

/**
 * Under the lease: re-reads store and cloud, then adopts what exists (starting it when
 * stopped) or creates a new instance. Never creates after a failed list.
 */
async function acquireLocked(
  ctx: ProvisionerContext,
  w: Wake,
  fence: Fence,
): Promise<InstanceRecord> {
  const signal = w.controller.signal
  const name = ctx.settings.name
  const listed = (await listOwned(ctx.client, name, { signal })).filter(hasId)
  let record = ctx.store.instances.get(name)
  const intents = ctx.store.intents.list({ name, limit: 200 })
  const live = listed.filter((i) => !isGoing(i))
  const picked = pickKeeper(live, record, adoptableIntent(intents), 0)
  let keeper = picked?.instance

  if (!keeper && record && !listed.some((i) => i.id === record?.instanceId)) {
    // The list did not show the store's instance: it may only be late to appear.
    const again = await stillThere(ctx.client, record.instanceId, signal)
    if (again?.id) keeper = { ...again, id: again.id }
  }

  if (!keeper) {
    const foreign = live.filter((i) => i.id !== record?.instanceId)
    if (foreign.length > 0) {
      throw new ProvisionerError(
        'foreign_instance',
        `instance ${foreign.map((i) => i.id).join(', ')} is labelled exollama-name=${name} but this data directory holds no keys for it (another EXOLLAMA_DATA_DIR made it, or its store was lost): run "exollama destroy" to delete it, or use another EXOLLAMA_NAME; the reconcile loop deletes it ${Math.round(ctx.tuning.orphanGraceMs / 60_000)} min after its creation`,
        { kind: 'config' },
      )
    }
    // Ours, but on its way out: let it go before making a new one.
    for (const going of listed.filter(isGoing)) {
      await ctx.client.waitForInstanceGone(going.id, { signal })
    }
    if (record) forgetRecord(ctx, record, 'its instance no longer exists')
    for (const intent of intents) {
      if (intent.state === 'pending') {
        ctx.store.intents.markAbandoned(intent.id, 'no instance carries its label')
      }
    }
    return createInstance(ctx, w, fence)
  }

  // Adopt what exists, with the secrets its creator stored.
  if (!record || record.instanceId !== keeper.id) {
    // Not the store's instance: pickKeeper chose it for its adoptable intent.
    record = adoptInstance(ctx, picked?.adopt as Intent, keeper, fence, { reason: w.reason })
  }
  w.instanceId = keeper.id
  ensureUsageSession(ctx, record, keeper)
  switch (keeper.state) {
    case 'running':
    case 'migrating':
      if (record.state === 'ready') {
        w.wasReady = true
      } else {
        joinInProgress(ctx, w, record, 'booting')
      }
      return record
    case 'stopped':
      return startStopped(ctx, w, record)
    case 'stopping':
      await ctx.client.waitForInstanceState(keeper.id, ['stopped'], { signal })
      return startStopped(ctx, w, record)
    case 'error': {
      await deleteInstance(ctx, keeper.id, 'it is in Exoscale error state')
      forgetRecord(ctx, record, 'it was in error state and was deleted')
      return createInstance(ctx, w, fence)
    }
    default:
      // starting: someone's wake (ours before a crash, or another process's) is under way.
      joinInProgress(ctx, w, record, 'provisioning')
      return record
  }
}

/** Joins a wake begun elsewhere: its deadline counts from when that wake began. */
function joinInProgress(
  ctx: ProvisionerContext,
  w: Wake,
  record: InstanceRecord,
  state: ProvisionerState,
): void {
  w.owned = true
  // Started long after its creation: a restart, whose disk holds the previous boot's status.
  if (record.startedAt !== null && record.startedAt - record.createdAt > RESTART_AFTER_MS) {
    w.rebootSince = record.startedAt
  }
  tightenDeadline(
    ctx.clock,
    w,
    (record.startedAt ?? record.createdAt) + ctx.settings.wakeTimeoutS * 1000,
  )
  if (ctx.state !== state) {
    transition(ctx, state, {
      type: 'adopt',
      reason: w.reason,
      actor: w.actor,
      instanceId: record.instanceId,
      message: `waiting for instance ${record.instanceId}, which a previous wake started`,
    })
  }
  enterPhase(ctx, w, state)
}

/** Starts the stopped instance; its disk still holds the previous boot's status. */
async function startStopped(
  ctx: ProvisionerContext,
  w: Wake,
  record: InstanceRecord,
): Promise<InstanceRecord> {
  const signal = w.controller.signal
  ctx.timers.cancelDestroyAfter()
  transition(ctx, 'provisioning', {
    type: 'start',
    reason: w.reason,
    actor: w.actor,
    instanceId: record.instanceId,
    message: `starting stopped instance ${record.instanceId}`,
  })
  enterPhase(ctx, w, 'provisioning')
  w.owned = true
  // Before the call: any boot status written after this moment is this boot's.
  const requestedAt = ctx.clock.now()
  w.rebootSince = requestedAt
  const op = await ctx.client.startInstance(record.instanceId, { signal })
  await ctx.client.waitForOperation(op, { signal })
  const now = ctx.clock.now()
  const updated =
    ctx.store.instances.update(ctx.settings.name, {
      state: 'provisioning',
      startedAt: requestedAt,
    }) ?? record
  ctx.store.usage.startSession({
    instanceId: updated.instanceId,
    instanceType: updated.instanceType,
    startedAt: now,
  })
  return updated
}

/** A running (or starting) instance accrues usage from when it was started. */
export function ensureUsageSession(
  ctx: ProvisionerContext,
  record: InstanceRecord,
  cloud: Instance,
): void {
  if (cloud.state !== 'running' && cloud.state !== 'starting' && cloud.state !== 'migrating') {
    return
  }
  ctx.store.usage.startSession({
    instanceId: record.instanceId,
    instanceType: record.instanceType,
    startedAt: record.startedAt ?? record.createdAt,
  })
}

/** Records an instance this store's intent made (its creator may have crashed) as the one in use. */
export function adoptInstance(
  ctx: ProvisionerContext,
  intent: Intent,
  instance: ListedInstance,
  fence: Fence,
  who: { actor?: string; reason?: string },
): InstanceRecord {
  const record = ctx.store.instances.save(
    recordFromIntent(intent, instance, ctx.clock.now()),
    fence,
  )
  if (intent.state === 'pending') {
    ctx.store.intents.markCreated(intent.id, { instanceId: instance.id })
  }
  recordEvent(ctx, {
    type: 'adopt',
    instanceId: instance.id,
    ...who,
    message: `adopted instance ${instance.id} (intent ${intent.id}, ${instance.state ?? 'unknown state'})`,
  })
  return record
}
