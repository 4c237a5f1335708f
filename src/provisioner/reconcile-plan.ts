import type { Instance } from '../exoscale/index.js'
import type { InstanceRecord, Intent } from '../store/index.js'
import { intentOf, ownedBy } from './labels.js'
import type { IdleAction } from './settings.js'

/** Why the reconciler deletes an instance. */
export type DestroyWhy =
  /** Labelled for this name, unknown to this store, past the grace period. */
  | 'orphan'
  /** A second instance of ours (only one is kept), past the grace period. */
  | 'duplicate'
  /** Created more than EXOLLAMA_MAX_LIFETIME ago. */
  | 'max-lifetime'
  /** Stopped (stop mode) for longer than EXOLLAMA_DESTROY_AFTER. */
  | 'destroy-after'
  /** Powered off by itself (its watchdog) in destroy mode: nothing is kept. */
  | 'powered-off'
  /** In Exoscale's `error` state: it will not run again. */
  | 'error-state'
  /** A destroy that was interrupted (the store says destroying). */
  | 'resume-destroy'

export type ReconcileAction =
  /** Record the instance from its intent (secrets included) and use it. */
  | { kind: 'adopt'; instance: Instance & { id: string }; intent: Intent }
  | { kind: 'destroy'; instance: Instance & { id: string }; why: DestroyWhy }
  /** The store's instance is not in the list: confirm with a GET, then forget it. */
  | { kind: 'mark-gone'; record: InstanceRecord }
  /** The instance powered off by itself (stop mode): record it as stopped. */
  | { kind: 'mark-stopped'; instance: Instance & { id: string } }
  /** A stop that was interrupted (the store says stopping, the instance still runs). */
  | { kind: 'stop'; instance: Instance & { id: string } }
  /** A pending intent whose instance never appeared. */
  | { kind: 'abandon-intent'; intent: Intent }

export interface ReconcilePlanInput {
  name: string
  now: number
  /** The successful, complete answer of list-instances filtered by the managed labels. */
  instances: readonly Instance[]
  record: InstanceRecord | null
  /** This name's intents (any state). */
  intents: readonly Intent[]
  idleAction: IdleAction
  destroyAfterMs: number
  maxLifetimeMs: number
  orphanGraceMs: number
  intentGraceMs: number
}

export interface ReconcilePlan {
  /** The one instance kept (null when none). */
  keeper: (Instance & { id: string }) | null
  actions: ReconcileAction[]
  /** Labelled instances left alone for now (within their grace period). */
  waiting: string[]
}

const GOING: readonly (Instance['state'] | undefined)[] = ['destroying', 'destroyed', 'expunging']

/** Milliseconds of an instance's `created-at`, or `fallback` when missing. */
export function createdAtMs(instance: Pick<Instance, 'created-at'>, fallback: number): number {
  const ms = instance['created-at'] ? Date.parse(instance['created-at']) : Number.NaN
  return Number.isNaN(ms) ? fallback : ms
}

function byAgeThenId(now: number) {
  return (a: Instance, b: Instance) =>
    createdAtMs(a, now) - createdAtMs(b, now) || (a.id ?? '').localeCompare(b.id ?? '')
}

/**
 * Decides what one reconcile round does, from a SUCCESSFUL list only (the caller never calls
 * this after a failed list). Pure: the same input gives the same plan.
 *
 * - Exactly one instance is kept: the store's, else the oldest one whose intent this store holds
 *   (ties by id); it is adopted when the store has no record of it.
 * - Every other labelled instance is destroyed once older than the grace period (a foreign one is
 *   an `orphan`, one of ours a `duplicate`).
 * - The keeper is destroyed past its max lifetime, in Exoscale's error state, when it powered off
 *   by itself in destroy mode, or when it has been stopped longer than EXOLLAMA_DESTROY_AFTER;
 *   an interrupted destroy or stop (the store says destroying/stopping) is carried on.
 * - A store record whose instance is not listed is marked gone (after a confirming GET).
 * - Pending intents older than the intent grace without an instance are abandoned.
 */
export function planReconcile(input: ReconcilePlanInput): ReconcilePlan {
  const { now, record } = input
  const listed = ownedBy(input.instances, input.name).filter(
    (i): i is Instance & { id: string } => typeof i.id === 'string',
  )
  const live = listed.filter((i) => !GOING.includes(i.state))
  const intentById = new Map(input.intents.map((i) => [i.id, i]))
  const usableIntent = (i: Instance) => {
    const id = intentOf(i)
    const intent = id === undefined ? undefined : intentById.get(id)
    return intent?.secrets && intent.tlsCertPem ? intent : undefined
  }

  const actions: ReconcileAction[] = []
  const waiting: string[] = []

  let keeper = record ? (live.find((i) => i.id === record.instanceId) ?? null) : null
  if (!keeper) {
    keeper = live.filter((i) => usableIntent(i)).sort(byAgeThenId(now))[0] ?? null
    if (keeper) {
      actions.push({ kind: 'adopt', instance: keeper, intent: usableIntent(keeper) as Intent })
    }
  }

  for (const instance of live) {
    if (instance === keeper) continue
    const age = now - createdAtMs(instance, now)
    if (age >= input.orphanGraceMs) {
      actions.push({
        kind: 'destroy',
        instance,
        why: usableIntent(instance) || instance.id === record?.instanceId ? 'duplicate' : 'orphan',
      })
    } else {
      waiting.push(instance.id)
    }
  }

  if (keeper) {
    const adopted = actions.some((a) => a.kind === 'adopt')
    const recordState = adopted ? undefined : record?.state
    if (now >= createdAtMs(keeper, now) + input.maxLifetimeMs) {
      actions.push({ kind: 'destroy', instance: keeper, why: 'max-lifetime' })
    } else if (recordState === 'destroying') {
      actions.push({ kind: 'destroy', instance: keeper, why: 'resume-destroy' })
    } else if (recordState === 'stopping' && keeper.state === 'running') {
      actions.push({ kind: 'stop', instance: keeper })
    } else if (keeper.state === 'error') {
      actions.push({ kind: 'destroy', instance: keeper, why: 'error-state' })
    } else if (keeper.state === 'stopped') {
      // Stopped on purpose (stop mode, `exollama stop`), or by itself (its watchdog)?
      if (recordState === 'stopped' || recordState === 'stopping') {
        const stoppedAt = record?.updatedAt ?? now
        if (now >= stoppedAt + input.destroyAfterMs) {
          actions.push({ kind: 'destroy', instance: keeper, why: 'destroy-after' })
        }
      } else if (input.idleAction === 'destroy') {
        actions.push({ kind: 'destroy', instance: keeper, why: 'powered-off' })
      } else {
        actions.push({ kind: 'mark-stopped', instance: keeper })
      }
    }
  }

  if (record && !listed.some((i) => i.id === record.instanceId)) {
    actions.push({ kind: 'mark-gone', record })
  }

  for (const intent of input.intents) {
    if (intent.state !== 'pending') continue
    if (listed.some((i) => intentOf(i) === intent.id)) continue
    if (now - intent.createdAt >= input.intentGraceMs)
      actions.push({ kind: 'abandon-intent', intent })
  }

  return { keeper, actions, waiting }
}
