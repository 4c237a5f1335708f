import {
  isExoscaleError,
  type ExoscaleClient,
  type Instance,
  type Labels,
} from '../exoscale/index.js'
import { managedLabels, ownedBy } from './labels.js'

/** A listed instance with the id every decision about it needs. */
export type ListedInstance = Instance & { id: string }

const GOING: readonly (Instance['state'] | undefined)[] = ['destroying', 'destroyed', 'expunging']

/** Whether the instance is on its way out: never kept, started or adopted again. */
export function isGoing(instance: Pick<Instance, 'state'>): boolean {
  return GOING.includes(instance.state)
}

export function hasId(instance: Instance): instance is ListedInstance {
  return typeof instance.id === 'string'
}

/** Milliseconds of an instance's `created-at`, or `fallback` when missing. */
export function createdAtMs(instance: Pick<Instance, 'created-at'>, fallback: number): number {
  const ms = instance['created-at'] ? Date.parse(instance['created-at']) : Number.NaN
  return Number.isNaN(ms) ? fallback : ms
}

/**
 * The instances labelled for `name` (or carrying `labels`, a narrower filter), checked
 * client-side again. A failed list throws: absence is never concluded from an error.
 */
export async function listOwned(
  client: ExoscaleClient,
  name: string,
  options: { signal?: AbortSignal | undefined; labels?: Labels } = {},
): Promise<Instance[]> {
  const listed = await client.listInstances({
    labels: options.labels ?? managedLabels(name),
    signal: options.signal,
  })
  return ownedBy(listed, name)
}

/**
 * The instance behind `id` if it still exists and is not on its way out, else null. For an
 * instance a list did not show: only a 404 for its id proves it is gone (any other error throws).
 */
export async function stillThere(
  client: ExoscaleClient,
  id: string,
  signal?: AbortSignal,
): Promise<Instance | null> {
  try {
    const instance = await client.getInstance(id, { signal })
    return isGoing(instance) ? null : instance
  } catch (error) {
    if (isExoscaleError(error, 'exoscale_not_found')) return null
    throw error
  }
}
