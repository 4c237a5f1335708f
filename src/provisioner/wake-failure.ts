import { isExoscaleError } from '../exoscale/index.js'
import { INSTANCE_PORT } from '../recipe/index.js'
import { ExollamaError } from '../shared/index.js'
import { isGoing } from './cloud-instance.js'
import { closedError, type ProvisionerContext } from './context.js'
import { listByIntent } from './create-instance.js'
import { ProvisionerError, isProvisionerError } from './errors.js'
import { transitionToError } from './events.js'
import { errorSummary } from './explain.js'
import { BootFailure } from './readiness.js'
import { destroyLocked } from './teardown.js'
import { WakeCancelled, WakeDeadline, type Wake } from './wake-state.js'

/**
 * Ends a failed wake: a deadline, a failed boot or an unusable instance destroys the instance
 * the wake owned (so nothing bills unused); the provisioner moves to `error`. Returns the error
 * every waiter gets. A wake cancelled by stop/destroy/shutdown is only reported.
 */
export async function failWake(ctx: ProvisionerContext, w: Wake, error: unknown): Promise<Error> {
  const reason: unknown = w.controller.signal.reason
  if (ctx.closed || reason instanceof WakeCancelled) {
    const by = reason instanceof WakeCancelled ? reason.by : 'shutdown'
    if (by === 'shutdown') return closedError()
    return new ProvisionerError('wake_aborted', `the wake was cancelled by ${by}`, {
      kind: 'cloud',
    })
  }
  const deadline = reason instanceof WakeDeadline
  const bootFailed = error instanceof BootFailure
  const unusable =
    deadline ||
    bootFailed ||
    isProvisionerError(
      error,
      'vm_ollama_too_old',
      'instance_key_rejected',
      'instance_bad_answer',
      'model_pull_failed',
    ) ||
    (error instanceof ExollamaError && error.code === 'tls_pin_mismatch') ||
    isExoscaleError(error, 'exoscale_operation_failed')
  let destroyed = 'no' as 'yes' | 'failed' | 'no'
  let destroyError: { code: string; message: string } | null = null
  ctx.live = null
  if ((w.owned || unusable) && (w.instanceId || (w.intentId && w.postSent))) {
    try {
      await ctx.lease.run(
        async () => {
          const ids = new Set<string>()
          if (w.instanceId) ids.add(w.instanceId)
          if (w.intentId && w.postSent) {
            for (const i of await listByIntent(ctx, w.intentId)) {
              if (!isGoing(i)) ids.add(i.id)
            }
          }
          if (ids.size === 0) return
          await destroyLocked(ctx, {
            ids: [...ids],
            actor: deadline ? 'wake deadline' : 'failed wake',
            reason: deadline ? 'not ready in time' : `wake failed: ${errorSummary(error).code}`,
            settle: false,
          })
          destroyed = 'yes'
        },
        { waitMs: ctx.tuning.mutationTimeoutMs },
      )
    } catch (destroyFailure) {
      destroyed = 'failed'
      destroyError = errorSummary(destroyFailure)
      ctx.log.error({ err: destroyFailure }, 'could not destroy the instance of a failed wake')
    }
  }
  const fate =
    destroyed === 'yes'
      ? 'it was destroyed'
      : destroyed === 'failed'
        ? `destroying it failed too (${destroyError?.code}); the reconcile loop keeps trying`
        : ''
  let final: Error
  if (deadline) {
    final = new ProvisionerError(
      'wake_timeout',
      `the instance was not ready within ${Math.round(w.timeoutMs / 1000)} s (${whereStuck(w)})${fate ? `: ${fate}` : ''}; raise EXOLLAMA_WAKE_TIMEOUT (or --timeout) if boots are slow here (GPU types take longer), or check the instance's boot log`,
      { kind: 'timeout', cause: error },
    )
  } else if (bootFailed) {
    const status = error.status
    final = new ProvisionerError(
      'boot_failed',
      `the instance failed to boot at step ${status.phase}: ${status.error ?? 'no reason given'}${fate ? `; ${fate}` : ''}`,
      { kind: 'cloud', cause: error },
    )
  } else if (error instanceof Error) {
    final = error
  } else {
    final = new ProvisionerError('boot_failed', String(error), { kind: 'internal' })
  }
  const summary = errorSummary(final)
  transitionToError(ctx, summary, {
    reason: w.reason,
    actor: w.actor,
    instanceId: w.instanceId ?? null,
    message: summary.message,
    data: { wake: w.id, destroyed },
  })
  return final
}

/** Where the wake was when its deadline passed, for the error message. */
function whereStuck(w: Wake): string {
  if (w.pull) return `pulling model ${w.pull.model}: ${w.pull.status}`
  if (w.boot) return `last boot phase ${w.boot.phase}, ${w.boot.percent}%`
  if (w.phase === 'booting') {
    return `the instance never answered on port ${INSTANCE_PORT}${w.lastNotYet ? ` (${w.lastNotYet})` : ''}`
  }
  if (w.lastCloudError) return `the Exoscale API kept failing: ${w.lastCloudError}`
  if (w.instanceId) return 'Exoscale had not started the instance'
  if (w.postSent) return 'Exoscale had not finished creating the instance'
  return `still ${w.phase}`
}
