import type { Instance, Labels } from '../exoscale/index.js'
import { matchesLabels } from '../exoscale/index.js'

/** Label keys and values of DESIGN §2 ("Exoscale objects"). */
export const MANAGED_BY_LABEL = 'managed-by'
export const MANAGED_BY_VALUE = 'exollama'
export const NAME_LABEL = 'exollama-name'
export const INTENT_LABEL = 'exollama-intent'

/** The labels every instance of this exollama name carries (the list filter). */
export function managedLabels(name: string): Labels {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NAME_LABEL]: name }
}

/** The full label set of a new instance. */
export function instanceLabels(name: string, intentId: string): Labels {
  return { ...managedLabels(name), [INTENT_LABEL]: intentId }
}

/** The filter that finds the instance an intent produced. */
export function intentFilter(name: string, intentId: string): Labels {
  return instanceLabels(name, intentId)
}

/** The intent id an instance carries, if any. */
export function intentOf(instance: Pick<Instance, 'labels'>): string | undefined {
  return instance.labels?.[INTENT_LABEL]
}

/**
 * Instances that really carry the managed labels of `name`. The client already filters
 * client-side; this is checked again where a decision (adopt, delete) depends on it, because the
 * server-side `labels` filter's format is undocumented.
 */
export function ownedBy<T extends Pick<Instance, 'labels'>>(
  instances: readonly T[],
  name: string,
): T[] {
  const filter = managedLabels(name)
  return instances.filter((i) => matchesLabels(i.labels, filter))
}
