import type { InstanceRecord } from '../store/index.js'
import type { ProvisionerContext } from './context.js'
import { recordEvent } from './events.js'
import { destroyLocked, stopLocked } from './teardown.js'
import { cancelWake } from './wake-state.js'

/*
 * The idle and lifetime policy: what happens when an instance becomes ready, and when its idle,
 * max-lifetime or destroy-after deadline passes (src/provisioner/policy-timers.ts says when).
 * Each action re-checks under the lease: the timer may have fired just as things changed.
 */

/** The instance is ready: this process serves it and now manages its idleness and lifetime. */
export function onReady(ctx: ProvisionerContext, record: InstanceRecord): void {
  ctx.live = ctx.endpoints.ready(record)
  // A fresh instance starts a new idle period (a request in flight keeps it going anyway).
  ctx.activity.touch()
  ctx.timers.armIdle()
  ctx.timers.cancelDestroyAfter()
  ctx.timers.armLifetime(record.instanceId, record.createdAt)
}

/** Nothing in flight for EXOSCALE_IDLE_TIMEOUT: stop or destroy (EXOLLAMA_IDLE_ACTION). */
export async function idleReached(ctx: ProvisionerContext): Promise<void> {
  await ctx.lease.run(async () => {
    const { settings } = ctx
    const timeoutMs = settings.idleTimeoutS * 1000
    const deadline = ctx.activity.idleDeadline(timeoutMs)
    if (ctx.state !== 'ready' || ctx.wake) return
    if (deadline === null || deadline > ctx.clock.now()) {
      ctx.timers.armIdle()
      return
    }
    const record = ctx.store.instances.get(settings.name)
    if (!record) return
    const idleS = Math.round((ctx.clock.now() - (deadline - timeoutMs)) / 1000)
    const reason = `idle for ${idleS} s (EXOSCALE_IDLE_TIMEOUT ${settings.idleTimeoutS} s)`
    recordEvent(ctx, {
      type: 'idle',
      actor: 'idle timer',
      reason,
      instanceId: record.instanceId,
      message: `no activity for ${idleS} s: ${settings.idleAction}`,
    })
    if (settings.idleAction === 'stop') {
      await stopLocked(ctx, record, { actor: 'idle timer', reason })
    } else {
      await destroyLocked(ctx, { ids: [record.instanceId], actor: 'idle timer', reason })
    }
  })
}

/** EXOLLAMA_MAX_LIFETIME: destroyed at created + max, in use or not (a wake is cancelled). */
export async function lifetimeReached(ctx: ProvisionerContext, instanceId: string): Promise<void> {
  await ctx.lease.run(async () => {
    const { settings } = ctx
    const record = ctx.store.instances.get(settings.name)
    if (!record || record.instanceId !== instanceId) return
    const limit = record.createdAt + settings.maxLifetimeS * 1000
    if (ctx.clock.now() < limit) return
    cancelWake(ctx.wake, 'the max lifetime')
    recordEvent(ctx, {
      type: 'lifetime',
      instanceId,
      actor: 'lifetime timer',
      reason: `EXOLLAMA_MAX_LIFETIME ${settings.maxLifetimeS} s reached`,
      message: `instance ${instanceId} reached its max lifetime`,
    })
    await destroyLocked(ctx, {
      ids: [instanceId],
      actor: 'lifetime timer',
      reason: `max lifetime of ${settings.maxLifetimeS} s reached`,
    })
  })
}

/** EXOLLAMA_DESTROY_AFTER: a stopped instance nobody woke is destroyed. */
export async function destroyAfterReached(
  ctx: ProvisionerContext,
  instanceId: string,
): Promise<void> {
  await ctx.lease.run(async () => {
    const record = ctx.store.instances.get(ctx.settings.name)
    if (record?.instanceId !== instanceId || record.state !== 'stopped' || ctx.wake) return
    await destroyLocked(ctx, {
      ids: [instanceId],
      actor: 'destroy-after timer',
      reason: `stopped for ${ctx.settings.destroyAfterS} s (EXOLLAMA_DESTROY_AFTER)`,
    })
  })
}
