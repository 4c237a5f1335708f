import type { BootStatus } from '../recipe/index.js'
import { closedError, track, type ProvisionerContext } from './context.js'
import type { ReadyInstance } from './endpoints.js'
import { ProvisionerError } from './errors.js'
import { emitProgress, enterPhase, recordEvent, transition } from './events.js'
import { acquire } from './acquire-instance.js'
import { onReady } from './idle-policy.js'
import { pullModel, type InstanceEndpoint } from './instance-api.js'
import { refreshModels } from './models.js'
import {
  assertOllamaVersion,
  waitForBootReady,
  waitForOllamaVersion,
  type PollOptions,
} from './readiness.js'
import type { ProvisionerProgress } from './status.js'
import { waitFor } from './wait-for.js'
import { failWake } from './wake-failure.js'
import { armDeadline, type Wake } from './wake-state.js'

/** Who or what wants the instance: a string, or the gateway's request description. */
export type WakeReason = string | { route: string; keyId?: string; clientIp?: string }

export interface EnsureReadyOptions {
  /** This caller stops waiting when it aborts; the wake goes on for the others. */
  signal?: AbortSignal | undefined
  reason?: WakeReason | undefined
  /**
   * This caller's limit (default EXOLLAMA_WAKE_TIMEOUT), counted from `startedAt`. A wake this
   * call starts ends there (destroying what it created); a wake it joins is only left.
   */
  timeoutMs?: number | undefined
  /** When the caller's clock started (default now): `start --timeout` counts from the command. */
  startedAt?: number | undefined
  onProgress?: ((progress: ProvisionerProgress) => void) | undefined
}

/**
 * Telling this boot's status from the previous boot's by time: `updated_at` (whole seconds, the
 * VM's clock) must not be before the second of the start request. No allowance for the VM's
 * clock lagging ours: a lagging clock only means the `running` steps (which a later boot always
 * writes first) decide instead; an allowance would let a quick stop/start take the old `ready`.
 */
const BOOT_STATUS_SKEW_MS = 0

/** The event's reason and actor for whoever asked. */
function describeReason(reason: WakeReason | undefined, fallback: string) {
  if (reason === undefined) return { reason: fallback, actor: null }
  if (typeof reason === 'string') return { reason, actor: null }
  const actor = reason.keyId
    ? `key ${reason.keyId}`
    : reason.clientIp
      ? `client ${reason.clientIp}`
      : 'anonymous client'
  return { reason: `request ${reason.route}`, actor }
}

/**
 * The ready instance's upstream, waking it if needed: one wake serves every caller; each caller
 * may leave early (its signal, or a shorter limit of its own) without ending the wake.
 */
export function ensureReady(
  ctx: ProvisionerContext,
  options: EnsureReadyOptions = {},
): Promise<ReadyInstance> {
  if (ctx.closed) return Promise.reject(closedError())
  if (ctx.state === 'ready' && !ctx.wake && ctx.live) {
    return Promise.resolve(ctx.live)
  }
  const now = ctx.clock.now()
  const callerDeadline =
    options.timeoutMs === undefined ? undefined : (options.startedAt ?? now) + options.timeoutMs
  let wake = ctx.wake
  const joined = wake !== null
  if (!wake) wake = startWake(ctx, options)
  const w = wake
  const listener = options.onProgress
  if (listener) w.listeners.add(listener)
  // A caller that joins a wake with a shorter limit of its own leaves at that limit.
  const ownLimit = joined && callerDeadline !== undefined && callerDeadline < w.deadline
  return waitFor(w.promise, {
    signal: options.signal,
    clock: ctx.clock,
    deadline: ownLimit ? callerDeadline : undefined,
    onDeadline: () =>
      new ProvisionerError(
        'wake_timeout',
        `the instance was not ready within ${Math.round(((callerDeadline ?? now) - (options.startedAt ?? now)) / 1000)} s (it is still ${ctx.state}; the wake goes on): wait longer (--timeout) or check exollama status`,
        { kind: 'timeout' },
      ),
  }).finally(() => {
    if (listener) w.listeners.delete(listener)
  })
}

function startWake(ctx: ProvisionerContext, options: EnsureReadyOptions): Wake {
  const now = ctx.clock.now()
  const startedAt = options.startedAt ?? now
  const timeoutMs = options.timeoutMs ?? ctx.settings.wakeTimeoutS * 1000
  const { reason, actor } = describeReason(options.reason, 'wake')
  const controller = new AbortController()
  const w: Wake = {
    id: ++ctx.wakeSeq,
    reason,
    actor,
    startedAt,
    deadline: startedAt + timeoutMs,
    timeoutMs,
    controller,
    deadlineTimer: { cancel: () => {} },
    promise: Promise.resolve() as unknown as Promise<ReadyInstance>,
    listeners: new Set(),
    owned: false,
    postSent: false,
    rebootSince: undefined,
    intentId: undefined,
    instanceId: undefined,
    wasReady: false,
    phase: 'waking',
    boot: null,
    bootPhaseSince: startedAt,
    lastNotYet: null,
    lastCloudError: null,
    pull: null,
  }
  armDeadline(ctx.clock, w, w.deadline)
  ctx.wake = w
  recordEvent(ctx, {
    type: 'wake',
    reason,
    actor,
    message: `wake requested (${reason}); deadline in ${Math.round((w.deadline - now) / 1000)} s`,
    data: { wake: w.id, timeoutMs },
  })
  const run = runWake(ctx, w).finally(() => {
    w.deadlineTimer.cancel()
    if (ctx.wake === w) ctx.wake = null
  })
  w.promise = run
  track(ctx, run)
  return w
}

/** Acquire, running, boot, version, preload: the steps from demand to a ready instance. */
async function runWake(ctx: ProvisionerContext, w: Wake): Promise<ReadyInstance> {
  const signal = w.controller.signal
  try {
    let record = await acquire(ctx, w)
    const id = record.instanceId
    w.instanceId = id

    // Running, as Exoscale sees it (a finished operation is not a running instance).
    const running = await ctx.client.waitForInstanceState(id, ['running'], { signal })
    const ip = running['public-ip'] ?? record.ip
    if (!ip) {
      throw new ProvisionerError(
        'instance_bad_answer',
        `instance ${id} runs without a public IPv4 address: exollama needs one; destroy it`,
        { kind: 'cloud' },
      )
    }
    if (record.state !== 'booting' || record.ip !== ip) {
      record =
        ctx.store.instances.update(ctx.settings.name, {
          ip,
          state: w.wasReady ? 'ready' : 'booting',
        }) ?? record
    }
    if (ctx.state !== 'booting' && !w.wasReady) {
      transition(ctx, 'booting', {
        type: 'boot',
        reason: w.reason,
        actor: w.actor,
        instanceId: id,
        message: `instance ${id} is running at ${ip}; waiting for its boot`,
      })
    }
    enterPhase(ctx, w, 'booting')

    const endpoint = ctx.endpoints.get(record)
    const polling: PollOptions = {
      clock: ctx.clock,
      signal,
      probeTimeoutMs: ctx.tuning.probeTimeoutMs,
      initialDelayMs: ctx.tuning.bootPollInitialMs,
      maxDelayMs: ctx.tuning.bootPollMaxMs,
      onNotYet: (detail) => {
        w.lastNotYet = detail
      },
    }
    await waitForBootReady(endpoint, {
      ...polling,
      onStatus: (status) => onBootStatus(ctx, w, status, id),
      ...(w.rebootSince === undefined
        ? {}
        : { freshSince: { sinceMs: w.rebootSince, toleranceMs: BOOT_STATUS_SKEW_MS } }),
    })
    const version = await waitForOllamaVersion(endpoint, polling)
    assertOllamaVersion(version, ctx.settings.minOllamaVersion)
    ctx.store.instances.update(ctx.settings.name, { ollamaVersion: version })
    ctx.store.metadata.put('/api/version', { version })

    if (!w.wasReady) {
      for (const model of ctx.settings.models) await preload(ctx, w, endpoint, model)
    }
    try {
      await refreshModels(ctx, endpoint, {
        signal,
        timeoutMs: ctx.tuning.probeTimeoutMs,
      })
    } catch (error) {
      if (signal.aborted) throw error
      ctx.log.warn({ err: error }, 'could not read the models of the ready instance')
    }

    record = ctx.store.instances.update(ctx.settings.name, { state: 'ready' }) ?? record
    transition(ctx, 'ready', {
      type: 'ready',
      reason: w.reason,
      actor: w.actor,
      instanceId: id,
      durationMs: ctx.clock.now() - w.startedAt,
      message: `instance ${id} is ready (Ollama ${version}) after ${Math.round((ctx.clock.now() - w.startedAt) / 1000)} s`,
      data: { ollamaVersion: version, wake: w.id },
    })
    enterPhase(ctx, w, 'ready')
    onReady(ctx, record)
    return ctx.endpoints.ready(record)
  } catch (error) {
    throw await failWake(ctx, w, error)
  }
}

/** A boot status poll's answer: an event per VM boot phase, progress per percent. */
function onBootStatus(
  ctx: ProvisionerContext,
  w: Wake,
  status: BootStatus,
  instanceId: string,
): void {
  const previous = w.boot
  w.boot = status
  if (previous?.phase !== status.phase) {
    const now = ctx.clock.now()
    recordEvent(ctx, {
      type: 'boot',
      phase: status.phase,
      instanceId,
      // How long the previous phase took (as far as polling can tell).
      durationMs: previous ? now - w.bootPhaseSince : null,
      message: previous
        ? `boot phase ${status.phase} (${status.percent}%), after ${previous.phase}`
        : `boot phase ${status.phase} (${status.percent}%)`,
      data: {
        percent: status.percent,
        state: status.state,
        gpu: status.gpu,
        previous: previous?.phase ?? null,
      },
    })
    w.bootPhaseSince = now
  }
  if (previous?.phase !== status.phase || previous.percent !== status.percent) {
    enterPhase(ctx, w, 'booting')
  }
}

/** Pulls an EXOLLAMA_MODEL before the instance counts as ready. */
async function preload(
  ctx: ProvisionerContext,
  w: Wake,
  endpoint: InstanceEndpoint,
  model: string,
): Promise<void> {
  const started = ctx.clock.now()
  enterPhase(ctx, w, 'pulling-model', `pulling ${model}`)
  await pullModel(endpoint, model, {
    clock: ctx.clock,
    signal: w.controller.signal,
    onProgress: (p) => {
      w.pull = {
        model,
        status: p.status,
        ...(p.completed === undefined ? {} : { completed: p.completed }),
        ...(p.total === undefined ? {} : { total: p.total }),
      }
      emitProgress(ctx, w, { kind: 'pull', ...w.pull })
    },
  })
  w.pull = null
  recordEvent(ctx, {
    type: 'pull',
    phase: 'model-pull',
    instanceId: w.instanceId ?? null,
    durationMs: ctx.clock.now() - started,
    reason: 'EXOLLAMA_MODEL preload',
    message: `model ${model} pulled`,
    data: { model },
  })
}
