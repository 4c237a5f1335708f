import type { Instance } from '../exoscale/index.js'
import type { InstanceRecord, Intent } from '../store/index.js'
import { createdAtMs, hasId, isGoing, type ListedInstance } from './cloud-instance.js'
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
  | { kind: 'adopt'; instance: ListedInstance; intent: Intent }
  | { kind: 'destroy'; instance: ListedInstance; why: DestroyWhy }
  /** The store's instance is not in the list: confirm with a GET, then forget it. */
  | { kind: 'mark-gone'; record: InstanceRecord }
  /** The instance powered off by itself (stop mode): record it as stopped. */
  | { kind: 'mark-stopped'; instance: ListedInstance }
  /** A stop that was interrupted (the store says stopping, the instance still runs). */
  | { kind: 'stop'; instance: ListedInstance }
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
  keeper: ListedInstance | null
  actions: ReconcileAction[]
  /** Labelled instances left alone for now (within their grace period). */
  waiting: string[]
}

/** The intent of an instance when this store holds its secrets: only then can it be adopted. */
export function adoptableIntent(
  intents: readonly Intent[],
): (instance: Instance) => Intent | undefined {
  const intentById = new Map(intents.map((i) => [i.id, i]))
  return (instance) => {
    const id = intentOf(instance)
    const intent = id === undefined ? undefined : intentById.get(id)
    return intent?.secrets && intent.tlsCertPem ? intent : undefined
  }
}

/** The instance kept, and the intent to adopt it with (null: the store already records it). */
export interface Keeper {
  instance: ListedInstance
  adopt: Intent | null
}

/**
 * The one instance to keep among the live ones: the store's, else the oldest adoptable one
 * (ties by id). `createdAtFallback` dates an instance without `created-at`.
 */
export function pickKeeper(
  live: readonly ListedInstance[],
  record: InstanceRecord | null,
  adoptable: (instance: Instance) => Intent | undefined,
  createdAtFallback: number,
): Keeper | null {
  const recorded = record ? live.find((i) => i.id === record.instanceId) : undefined
  if (recorded) return { instance: recorded, adopt: null }
  const oldest = live
    .filter((i) => adoptable(i))
    .sort(
      (a, b) =>
        createdAtMs(a, createdAtFallback) - createdAtMs(b, createdAtFallback) ||
        a.id.localeCompare(b.id),
    )[0]
  return oldest ? { instance: oldest, adopt: adoptable(oldest) as Intent } : null
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
  const listed = ownedBy(input.instances, input.name).filter(hasId)
  const live = listed.filter((i) => !isGoing(i))
  const usableIntent = adoptableIntent(input.intents)

  const actions: ReconcileAction[] = []
  const waiting: string[] = []

  const picked = pickKeeper(live, record, usableIntent, now)
  const keeper = picked?.instance ?? null
  if (picked?.adopt)
    actions.push({ kind: 'adopt', instance: picked.instance, intent: picked.adopt })

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
