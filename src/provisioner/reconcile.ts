import type { Timer } from '../shared/index.js'
import type { Fence } from '../store/index.js'
import { adoptInstance, ensureUsageSession } from './acquire-instance.js'
import { createdAtMs, listOwned, stillThere, type ListedInstance } from './cloud-instance.js'
import { track, type ProvisionerContext } from './context.js'
import { recordEvent, transition } from './events.js'
import { errorSummary } from './explain.js'
import { planReconcile, type ReconcileAction, type ReconcilePlan } from './reconcile-plan.js'
import { deleteInstance, destroyLocked, forgetRecord, markStopped, stopLocked } from './teardown.js'
import { ensureReady } from './wake.js'
import { cancelWake } from './wake-state.js'

/** What one reconcile round saw and did. */
export interface ReconcileReport {
  /** `busy`: another holder had the lease; `list-failed`: nothing was done. */
  skipped?: 'busy' | 'list-failed' | 'closed'
  error?: { code: string; message: string }
  listed: number
  keeper: string | null
  actions: { kind: ReconcileAction['kind']; instanceId?: string; why?: string; ok: boolean }[]
  /** Labelled instances still within their grace period. */
  waiting: string[]
}

type ActionReport = ReconcileReport['actions'][number]

/**
 * Runs a round at once and then every `reconcileIntervalMs` until the provisioner closes.
 * Returns the handle that stops the loop.
 */
export function startReconcileLoop(ctx: ProvisionerContext): Timer {
  let timer: Timer | null = null
  const schedule = (delayMs: number) => {
    if (ctx.closed) return
    timer = ctx.clock.setTimer(delayMs, () => {
      timer = null
      const round = reconcile(ctx)
        .catch((error: unknown) => ctx.log.warn({ err: error }, 'reconcile failed'))
        .finally(() => schedule(ctx.tuning.reconcileIntervalMs))
      track(ctx, round)
    })
  }
  schedule(0)
  return { cancel: () => timer?.cancel() }
}

/**
 * One round: under the lease if it is free now (a busy lease skips the round rather than
 * queue), applies the plan of src/provisioner/reconcile-plan.ts to a successful list.
 */
export async function reconcile(ctx: ProvisionerContext): Promise<ReconcileReport> {
  if (ctx.closed) return skipped('closed')
  const round = await ctx.lease.tryRun((fence) => reconcileLocked(ctx, fence))
  if (!round) return skipped('busy')
  if (round.resume) {
    // Outside the lease: the wake takes it itself.
    ensureReady(ctx, { reason: 'resume: instance found running' }).catch((error: unknown) =>
      ctx.log.warn({ err: error }, 'resuming the instance failed'),
    )
  }
  return round.report
}

function skipped(
  why: NonNullable<ReconcileReport['skipped']>,
  error?: ReconcileReport['error'],
): ReconcileReport {
  return {
    skipped: why,
    ...(error ? { error } : {}),
    listed: 0,
    keeper: null,
    actions: [],
    waiting: [],
  }
}

async function reconcileLocked(
  ctx: ProvisionerContext,
  fence: Fence,
): Promise<{ report: ReconcileReport; resume: boolean }> {
  const { name } = ctx.settings
  let listed
  try {
    listed = await listOwned(ctx.client, name)
  } catch (error) {
    const summary = errorSummary(error)
    ctx.log.warn({ err: error }, 'reconcile: list failed; doing nothing this round')
    recordEvent(ctx, {
      type: 'reconcile',
      errorCode: summary.code,
      message: `listing instances failed; nothing changed this round (${summary.message})`,
    })
    return { report: skipped('list-failed', summary), resume: false }
  }
  try {
    ctx.store.usage.accrue()
  } catch (error) {
    ctx.log.warn({ err: error }, 'usage accrual failed')
  }
  const plan = planReconcile({
    name,
    now: ctx.clock.now(),
    instances: listed,
    record: ctx.store.instances.get(name),
    intents: ctx.store.intents.list({ name, limit: 200 }),
    idleAction: ctx.settings.idleAction,
    destroyAfterMs: ctx.settings.destroyAfterS * 1000,
    maxLifetimeMs: ctx.settings.maxLifetimeS * 1000,
    orphanGraceMs: ctx.tuning.orphanGraceMs,
    intentGraceMs: ctx.tuning.intentGraceMs,
  })
  const done: ActionReport[] = []
  for (const action of plan.actions) done.push(await applyReported(ctx, action, fence))
  const resume = followKeeper(ctx, plan.keeper, done)
  if (done.length > 0) {
    recordEvent(ctx, {
      type: 'reconcile',
      message: `reconcile: ${done.map((a) => `${a.kind}${a.why ? `(${a.why})` : ''} ${a.instanceId ?? ''}${a.ok ? '' : ' FAILED'}`.trim()).join(', ')}`,
      data: { actions: done, waiting: plan.waiting },
    })
  }
  return {
    report: {
      listed: listed.length,
      keeper: plan.keeper?.id ?? null,
      actions: done,
      waiting: plan.waiting,
    },
    resume,
  }
}

/** Applies one action; a failure is reported (and logged), never the end of the round. */
async function applyReported(
  ctx: ProvisionerContext,
  action: ReconcileAction,
  fence: Fence,
): Promise<ActionReport> {
  const entry: ActionReport = {
    kind: action.kind,
    ...('instance' in action ? { instanceId: action.instance.id } : {}),
    ...(action.kind === 'mark-gone' ? { instanceId: action.record.instanceId } : {}),
    ...(action.kind === 'destroy' ? { why: action.why } : {}),
    ok: true,
  }
  try {
    await applyAction(ctx, action, fence)
  } catch (error) {
    entry.ok = false
    const summary = errorSummary(error)
    ctx.log.warn({ err: error, action: action.kind }, 'reconcile action failed')
    recordEvent(ctx, {
      type: 'reconcile',
      errorCode: summary.code,
      instanceId: entry.instanceId ?? null,
      message: `${action.kind} failed: ${summary.message}`,
    })
  }
  return entry
}

/**
 * After the actions: timers for the instance kept (they are lost with a restart), and whether a
 * running instance nobody is waking must be resumed (readiness check, idle timer).
 */
function followKeeper(
  ctx: ProvisionerContext,
  keeper: ReconcilePlan['keeper'],
  done: readonly ActionReport[],
): boolean {
  const record = ctx.store.instances.get(ctx.settings.name)
  if (!record) {
    if (!ctx.wake && ctx.state !== 'absent' && ctx.state !== 'error') {
      transition(ctx, 'absent', { type: 'reconcile', message: 'no instance' })
    }
    return false
  }
  if (!keeper || record.instanceId !== keeper.id) return false
  const destroyed = done.some((a) => a.instanceId === keeper.id && a.kind === 'destroy' && a.ok)
  if (destroyed) return false
  ctx.timers.armLifetime(keeper.id, createdAtMs(keeper, record.createdAt))
  if (record.state === 'stopped') {
    ctx.timers.armDestroyAfter(record.instanceId, record.updatedAt)
    if (ctx.state !== 'stopped' && !ctx.wake) {
      transition(ctx, 'stopped', { type: 'reconcile', message: 'instance is stopped' })
    }
    return false
  }
  return isStarted(keeper) && !ctx.wake && ctx.live?.instance.id !== keeper.id
}

function isStarted(instance: ListedInstance): boolean {
  return instance.state === 'running' || instance.state === 'starting'
}

async function applyAction(
  ctx: ProvisionerContext,
  action: ReconcileAction,
  fence: Fence,
): Promise<void> {
  const { name } = ctx.settings
  switch (action.kind) {
    case 'adopt': {
      const record = adoptInstance(ctx, action.intent, action.instance, fence, {
        actor: 'reconcile',
      })
      ensureUsageSession(ctx, record, action.instance)
      if (!ctx.wake && ctx.state !== record.state) {
        transition(ctx, record.state, {
          type: 'adopt',
          actor: 'reconcile',
          instanceId: record.instanceId,
          message: `instance ${record.instanceId} adopted as ${record.state}`,
        })
      }
      return
    }
    case 'destroy': {
      const why = `reconcile: ${action.why}`
      if (ctx.store.instances.get(name)?.instanceId === action.instance.id) {
        cancelWake(ctx.wake, why)
        await destroyLocked(ctx, { ids: [action.instance.id], actor: 'reconcile', reason: why })
        return
      }
      await deleteInstance(ctx, action.instance.id, why)
      recordEvent(ctx, {
        type: 'reconcile',
        instanceId: action.instance.id,
        actor: 'reconcile',
        reason: action.why,
        message: `deleted ${action.why} instance ${action.instance.id}`,
      })
      return
    }
    case 'mark-gone': {
      const { instanceId } = action.record
      if (await stillThere(ctx.client, instanceId)) return
      forgetRecord(ctx, action.record, 'it no longer exists in Exoscale')
      if (!ctx.wake && ctx.state !== 'absent') {
        transition(ctx, 'absent', {
          type: 'reconcile',
          actor: 'reconcile',
          instanceId,
          message: `instance ${instanceId} is gone`,
        })
      }
      ctx.timers.disarmIdle()
      return
    }
    case 'mark-stopped': {
      const record = ctx.store.instances.get(name)
      if (!record) return
      markStopped(ctx, record.instanceId)
      ctx.timers.disarmIdle()
      ctx.live = null
      if (!ctx.wake) {
        transition(ctx, 'stopped', {
          type: 'stopped',
          actor: 'reconcile',
          instanceId: record.instanceId,
          message: `instance ${record.instanceId} powered off by itself`,
        })
      }
      ctx.timers.armDestroyAfter(record.instanceId, ctx.clock.now())
      return
    }
    case 'stop': {
      const record = ctx.store.instances.get(name)
      if (record) await stopLocked(ctx, record, { actor: 'reconcile', reason: 'interrupted stop' })
      return
    }
    case 'abandon-intent':
      ctx.store.intents.markAbandoned(action.intent.id, 'no instance carries its label')
      return
  }
}
