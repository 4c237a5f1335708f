import type { Instance } from '../exoscale/index.js'
import type { BootStatus } from '../recipe/index.js'
import type { InstanceRecord } from '../store/index.js'
import { createdAtMs, isGoing, listOwned } from './cloud-instance.js'
import type { ProvisionerContext } from './context.js'
import { cachedModelNames, namesOf, refreshModels } from './models.js'
import { isoOf, recordStateFor, recordView } from './records.js'
import type { BootView, ProvisionerState, ProvisionerStatus, WakeProgress } from './status.js'

/*
 * The status object (DESIGN §2) and wake progress, derived from what this process knows (the
 * store, the wake in flight, the timers) and, for status(), from one list of the cloud.
 */

/** The wake in progress, if any. */
export function wakeProgress(ctx: ProvisionerContext): WakeProgress | null {
  const w = ctx.wake
  if (!w) return null
  return {
    state: ctx.state,
    phase: w.phase,
    reason: w.reason,
    startedAt: w.startedAt,
    elapsedMs: ctx.clock.now() - w.startedAt,
    deadline: w.deadline,
    boot: w.boot ? bootView(w.boot) : null,
    pull: w.pull,
  }
}

/** The status object from what this process knows (no cloud call). */
export function snapshot(ctx: ProvisionerContext): ProvisionerStatus {
  const record = ctx.store.instances.get(ctx.settings.name)
  return statusFrom(ctx, ctx.state, record, undefined, cachedModelNames(ctx))
}

/** The status object after listing the cloud (a failed list throws: credentials, network). */
export async function status(
  ctx: ProvisionerContext,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<ProvisionerStatus> {
  const listed = await listOwned(ctx.client, ctx.settings.name, { signal: options.signal })
  const record = ctx.store.instances.get(ctx.settings.name)
  const live = listed.filter((i) => !isGoing(i))
  const cloud =
    (record && listed.find((i) => i.id === record.instanceId)) ??
    [...live].sort((a, b) => createdAtMs(a, 0) - createdAtMs(b, 0))[0]
  let state = ctx.state
  // While this process is changing things, its own view is the freshest.
  if (!ctx.wake && !ctx.lease.busy) state = stateFromCloud(ctx.state, cloud, record)
  let models = cachedModelNames(ctx)
  if (state === 'ready' && record) {
    try {
      const fresh = await refreshModels(ctx, ctx.endpoints.get(record), {
        signal: options.signal,
        timeoutMs: Math.min(ctx.tuning.probeTimeoutMs, 5_000),
      })
      models = namesOf(fresh)
    } catch (error) {
      ctx.log.debug({ err: error }, 'tags from the instance failed; using the cache')
    }
  }
  return statusFrom(ctx, state, record, cloud ?? null, models)
}

export function bootView(status: BootStatus): BootView {
  return {
    state: status.state,
    phase: status.phase,
    percent: status.percent,
    error: status.error,
    gpu: status.gpu,
  }
}

/** The state the cloud shows; only the store knows whether a running instance was seen ready. */
export function stateFromCloud(
  current: ProvisionerState,
  cloud: Instance | undefined,
  record: InstanceRecord | null,
): ProvisionerState {
  if (!cloud) return current === 'error' ? 'error' : 'absent'
  const running = cloud.state === 'running' || cloud.state === 'migrating'
  const seen = record && record.instanceId === cloud.id ? record.state : undefined
  if (running && (seen === 'ready' || seen === 'stopping')) return seen
  return recordStateFor(cloud.state, record ? record.state : 'provisioning')
}

/** `cloud`: the listed instance, null when the cloud showed none, undefined when not asked. */
function statusFrom(
  ctx: ProvisionerContext,
  state: ProvisionerState,
  record: InstanceRecord | null,
  cloud: Instance | null | undefined,
  models: string[],
): ProvisionerStatus {
  const s = ctx.settings
  const instance =
    cloud?.id !== undefined && cloud.id !== null
      ? {
          id: cloud.id,
          name: cloud.name ?? s.name,
          zone: record?.instanceId === cloud.id ? record.zone : s.zone,
          type: record?.instanceId === cloud.id ? record.instanceType : s.instanceType,
          ip: cloud['public-ip'] ?? null,
          created_at: cloud['created-at'] ?? isoOf(createdAtMs(cloud, ctx.clock.now())),
        }
      : record && cloud === undefined
        ? recordView(record)
        : null
  const remaining = state === 'ready' ? ctx.timers.idleRemainingMs() : null
  const status: ProvisionerStatus = {
    state,
    simulated: ctx.simulated,
    instance: state === 'absent' ? null : instance,
    idle: {
      timeout_s: s.idleTimeoutS,
      remaining_s: remaining === null ? null : Math.ceil(remaining / 1000),
      action: s.idleAction,
    },
    models,
    cost: usageCost(ctx),
  }
  const boot = ctx.wake?.boot
  if ((state === 'provisioning' || state === 'booting') && boot) status.boot = bootView(boot)
  if (state === 'error') {
    status.error = ctx.lastError ?? {
      code: 'instance_error',
      message: 'the instance is in an error state: destroy it (exollama destroy) and start again',
    }
  }
  return status
}

function usageCost(ctx: ProvisionerContext): ProvisionerStatus['cost'] {
  const { usage } = ctx.store
  try {
    const session = usage.currentSession()
    const month = usage.monthToDate()
    return { currency: usage.currency, session: session ? session.cost : null, month: month.cost }
  } catch (error) {
    ctx.log.warn({ err: error }, 'usage ledger unreadable')
    return { currency: usage.currency, session: null, month: null }
  }
}
