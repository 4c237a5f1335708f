import type { LifecycleEventInput } from '../store/index.js'
import type { ProvisionerContext } from './context.js'
import type { ProvisionerProgress, ProvisionerState } from './status.js'
import type { Wake } from './wake-state.js'

/** Appends a lifecycle event; a store that cannot take it costs a warning, never the action. */
export function recordEvent(ctx: ProvisionerContext, input: LifecycleEventInput): void {
  try {
    // Stamped with the provisioner's clock: the one its timers run on.
    ctx.store.events.append({ name: ctx.settings.name, ts: ctx.clock.now(), ...input })
  } catch (error) {
    ctx.log.warn({ err: error, type: input.type }, 'could not record an event')
  }
}

export type TransitionInput = Omit<LifecycleEventInput, 'message'> & { message?: string }

/** Moves to `to`, recording the transition (time spent in the previous state, who, why). */
export function transition(
  ctx: ProvisionerContext,
  to: ProvisionerState,
  input: TransitionInput,
): void {
  const from = ctx.state
  const now = ctx.clock.now()
  const durationMs = input.durationMs ?? now - ctx.stateSince
  ctx.state = to
  ctx.stateSince = now
  if (to !== 'error') ctx.lastError = null
  ctx.log.info({ from, to, reason: input.reason, actor: input.actor }, 'state')
  recordEvent(ctx, {
    ...input,
    phase: input.phase ?? to,
    durationMs,
    message: input.message ?? `${from} → ${to}`,
    data: { from, to, ...(input.data ?? {}) },
  })
}

/** Moves to `error` because of `error` (the status object shows it until the next move). */
export function transitionToError(
  ctx: ProvisionerContext,
  error: { code: string; message: string },
  input: Omit<TransitionInput, 'type' | 'errorCode'>,
): void {
  ctx.lastError = error
  transition(ctx, 'error', { ...input, type: 'error', errorCode: error.code })
}

/** Tells every progress listener (the provisioner's, and the wake's callers'). */
export function emitProgress(
  ctx: ProvisionerContext,
  w: Wake | null,
  progress: ProvisionerProgress,
): void {
  const targets = [...ctx.progressListeners, ...(w ? w.listeners : [])]
  for (const listener of targets) {
    try {
      listener(progress)
    } catch (error) {
      ctx.log.warn({ err: error }, 'progress listener failed')
    }
  }
}

/** The wake enters `phase` (or reports progress within it). */
export function enterPhase(
  ctx: ProvisionerContext,
  w: Wake,
  phase: string,
  message?: string,
): void {
  w.phase = phase
  emitProgress(ctx, w, {
    kind: 'phase',
    phase,
    elapsedMs: ctx.clock.now() - w.startedAt,
    ...(message ? { message } : {}),
    ...(w.boot ? { boot: { phase: w.boot.phase, percent: w.boot.percent } } : {}),
  })
}
